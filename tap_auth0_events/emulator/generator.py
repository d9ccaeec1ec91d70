"""Seeded, deterministic generator of realistic Auth0 CloudEvents for all 25 event types.

`EventGenerator` simulates one tenant (its users, organizations, groups, memberships, role
assignments and enterprise connections) and returns each change as the CloudEvent Auth0 puts in an
SSE message's `data.event`.
Same seed and same calls give the same events: all randomness comes from one `random.Random(seed)`,
the clock is simulated, and nothing iterates a Python `set` (string hashing differs per process).

About 1/3 of the events use the older SDK shape (`context.tenant.tenant_id`, no `previous_object`,
no `is_enabled` / `organization_access_level` on organization connections); the rest the newer
catalog shape (`context.tenant.id`; `*.updated` carries `previous_object`, and so do half of
`user.deleted`, `group.role.deleted` and `organization.group.role.deleted`). About 1 in 10 events
has no context.

Besides the world's changes it sends, as the constructor says: test events (`"a0purpose": "test"`,
a user.created / user.updated of a made-up user that never enters the world; a few per thousand
by default), events of types this version of the tap does not know (`unknown_types`: envelope as
usual, an arbitrary payload, no effect on the world); and it leaves out the types a tenant does not
have (`excluded_types`: never chosen at random).

With a world before the log (`start_from`, a `management.PreLog`), about half the events on an
existing entity pick a pre-log one by index (updates, deletions, memberships, roles, connections;
never a creation), and the `World` adopts it on that first touch. Without one the stream is the
same, byte for byte, as it was before this existed.

Returned events never share mutable containers with the world, so callers may modify them.
"""

from __future__ import annotations

import gc
import marshal
import random
import time as _time
from bisect import bisect
from collections.abc import Callable, Hashable, Iterable, Iterator, MutableSet
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import accumulate
from typing import TYPE_CHECKING, Any, TypeVar

from tap_auth0_events.event_types import EVENT_TYPES

if TYPE_CHECKING:
    from tap_auth0_events.emulator.management import PreLog

__all__ = ["DEFAULT_START", "TEST_EVENT_SHARE", "UNKNOWN_TYPE_SHARE", "EventGenerator", "IndexedSet", "World"]

DEFAULT_START = datetime(2026, 1, 1, tzinfo=timezone.utc)

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
HEX = "0123456789abcdef"

OLD_SHAPE_SHARE = 1 / 3
NO_CONTEXT_SHARE = 0.1
# Share of test events ("a0purpose": "test") among unforced events: a few per thousand.
TEST_EVENT_SHARE = 0.004
TEST_EVENT_TYPES = ("user.created", "user.updated")
# Share of events of `unknown_types` among unforced events, when any are given.
UNKNOWN_TYPE_SHARE = 0.05
# With a world before the log: the chance that an event about an existing entity picks a pre-log
# one, and how many enterprise connections the tenant had before its first event.
PRE_LOG_SHARE = 0.5
PRE_LOG_ENTERPRISE_CONNECTIONS = 3
# Each deletion type and the addition it undoes.
REMOVAL_OF = {
    "user.deleted": "user.created",
    "organization.deleted": "organization.created",
    "organization.connection.removed": "organization.connection.added",
    "organization.member.deleted": "organization.member.added",
    "organization.member.role.deleted": "organization.member.role.assigned",
    "organization.group.role.deleted": "organization.group.role.assigned",
    "group.deleted": "group.created",
    "group.member.deleted": "group.member.added",
    "group.role.deleted": "group.role.assigned",
    "connection.deleted": "connection.created",
}

T = TypeVar("T", bound=Hashable)
Event = dict[str, Any]
Obj = dict[str, Any]


class IndexedSet(MutableSet[T]):
    """A set with O(1) add, discard and uniform random choice, iterated in a deterministic order.

    Compares equal to a plain `set` with the same items.
    """

    __slots__ = ("_index", "_items")

    def __init__(self, items: Iterable[T] = ()) -> None:
        self._items: list[T] = []
        self._index: dict[T, int] = {}
        for item in items:
            self.add(item)

    def __contains__(self, item: object) -> bool:
        return item in self._index

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"IndexedSet({self._items!r})"

    def add(self, item: T) -> None:
        if item not in self._index:
            self._index[item] = len(self._items)
            self._items.append(item)

    def discard(self, item: T) -> None:
        # Swap-remove: move the last item into the hole.
        position = self._index.pop(item, None)
        if position is None:
            return
        last = self._items.pop()
        if position < len(self._items):
            self._items[position] = last
            self._index[last] = position

    def choice(self, rng: random.Random) -> T:
        """Return a uniformly random item (the set must not be empty)."""
        return self._items[int(rng.random() * len(self._items))]


@dataclass
class World:
    """What exists in the simulated tenant right now.

    Entity tables (id -> current object, exactly as last emitted in `data.object`):
      users: user_id -> user; organizations: org_id -> organization;
      groups: group_id -> group (with `updated_at` once updated);
      enterprise_connections: connection_id -> connection, created, updated and deleted by
      connection.* events (what `current_connections` must hold).
    Relations:
      organization_connections: (org_id, connection_id) -> connection settings
      organization_members: {(org_id, user_id)}
      member_roles: {(org_id, user_id, role_id)}
      group_members: {(group_id, member_id)}; member_id is a user id or a connection id
        (group_members_since: key -> when it was added)
      group_roles: {(group_id, role_id)}
      organization_group_roles: {(org_id, group_id, role_id)}
    Fixed tenant setup (no events): connections (connection_id -> {id, name, strategy}: the
    database, social and passwordless connections plus two enterprise ones, never changed),
    roles (role_id -> name), clients.

    The world before the log (`before`, a `PreLog`, when the tenant had one): its entities are
    derived on demand and live outside these tables until an event first touches one. Then the
    entity is adopted: a pre-log user, organization or group is copied in (an organization with its
    members, their roles and its connections; a group with its members, roles and organization
    roles) and its id joins `adopted`; from then on the tables say all about it (absent: deleted).

    Deletions do not cascade in the tables: deleting a user, organization, group or connection
    leaves its relations in place (with a world before, one exception: a removed membership takes
    its roles along, so a member added again starts without; the default stream keeps them, as it
    always has). `listed` is the one cascade rule: a relation counts only while
    every entity it names exists (the Management API's view, `Tenant`, and the generator's own
    choices both ask it). Test events and events of unknown types change nothing.
    `unannounced` lists what entered the world without an event (only when `next_event` is forced
    to a type whose prerequisite is missing): (events emitted before it, attribute name, key).
    Replaying the events plus `unannounced`, in order, on the world before the log rebuilds every
    table and relation above.
    """

    users: dict[str, Obj] = field(default_factory=dict)
    organizations: dict[str, Obj] = field(default_factory=dict)
    organization_connections: dict[tuple[str, str], Obj] = field(default_factory=dict)
    organization_members: IndexedSet[tuple[str, str]] = field(default_factory=IndexedSet)
    member_roles: IndexedSet[tuple[str, str, str]] = field(default_factory=IndexedSet)
    groups: dict[str, Obj] = field(default_factory=dict)
    group_members: IndexedSet[tuple[str, str]] = field(default_factory=IndexedSet)
    group_roles: IndexedSet[tuple[str, str]] = field(default_factory=IndexedSet)
    organization_group_roles: IndexedSet[tuple[str, str, str]] = field(default_factory=IndexedSet)
    enterprise_connections: dict[str, Obj] = field(default_factory=dict)
    connections: dict[str, Obj] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    clients: list[Obj] = field(default_factory=list)
    unannounced: list[tuple[int, str, Any]] = field(default_factory=list)
    # Random-choice indexes over the dict keys above (dicts cannot pick at random in O(1)).
    user_ids: IndexedSet[str] = field(default_factory=IndexedSet, repr=False)
    organization_ids: IndexedSet[str] = field(default_factory=IndexedSet, repr=False)
    organization_connection_keys: IndexedSet[tuple[str, str]] = field(default_factory=IndexedSet, repr=False)
    group_ids: IndexedSet[str] = field(default_factory=IndexedSet, repr=False)
    organization_group_ids: IndexedSet[str] = field(default_factory=IndexedSet, repr=False)
    enterprise_connection_ids: IndexedSet[str] = field(default_factory=IndexedSet, repr=False)
    # When each group member was added (the event's time; a pre-log one's: its group's creation).
    group_members_since: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    before: PreLog | None = field(default=None, repr=False)
    # Ids of pre-log users, organizations and groups taken into the tables (membership tests only).
    adopted: set[str] = field(default_factory=set, repr=False)

    # -- existence and the cascade: one rule for the generator and the Management API ------------

    def has_user(self, user_id: str) -> bool:
        return user_id in self.users or self._pre_log_live("user", user_id)

    def has_organization(self, org_id: str) -> bool:
        return org_id in self.organizations or self._pre_log_live("organization", org_id)

    def has_group(self, group_id: str) -> bool:
        return group_id in self.groups or self._pre_log_live("group", group_id)

    def has_connection(self, con_id: str) -> bool:
        return con_id in self.connections or con_id in self.enterprise_connections

    def _pre_log_live(self, kind: str, entity_id: str) -> bool:
        """A pre-log entity never touched by an event (a touched one lives in the tables)."""
        before = self.before
        return before is not None and entity_id not in self.adopted and before.index_of(kind, entity_id) is not None

    def user(self, user_id: str) -> Obj | None:
        """The user as it is now (a pre-log one derived if untouched), None if there is none."""
        if user_id in self.users:
            return self.users[user_id]
        before = self.before
        if before is None or user_id in self.adopted:
            return None
        index = before.index_of("user", user_id)
        return None if index is None else before.user(index)

    def listed(self, table: str, key: tuple[str, ...]) -> bool:
        """Whether relation `key` of `table` still counts: every entity it names exists (the cascade).

        A deleted user leaves no memberships, member roles or group memberships; a deleted
        organization no members, member roles, connections or group roles; a deleted group no
        members or roles (nor organization roles); a deleted connection no organization connections
        nor group memberships; a member's roles go with the membership.
        """
        if table == "organization_members":
            return self.has_organization(key[0]) and self.has_user(key[1])
        if table == "member_roles":
            return key[:2] in self.organization_members and self.listed("organization_members", key[:2])
        if table == "organization_connections":
            return self.has_organization(key[0]) and self.has_connection(key[1])
        if table == "group_members":
            return self.has_group(key[0]) and (self.has_user(key[1]) or self.has_connection(key[1]))
        if table == "group_roles":
            return self.has_group(key[0])
        if table == "organization_group_roles":
            return self.has_organization(key[0]) and self.has_group(key[1])
        raise ValueError(f"Not a relation: {table!r}.")

    # -- adoption: a pre-log entity enters the tables on its first event ---------------------------

    def _adopt(self, table: dict[str, Obj], ids: IndexedSet[str], entity: Obj, key: str) -> str:
        entity_id = str(entity[key])
        table[entity_id] = entity
        ids.add(entity_id)
        self.adopted.add(entity_id)
        return entity_id

    def _deleted_before(self, user_id: str) -> bool:
        """Whether a pre-log user is one an event has deleted (touched, and gone from `users`)."""
        return user_id in self.adopted and user_id not in self.users

    def adopt_user(self, index: int) -> str:
        assert self.before is not None
        return self._adopt(self.users, self.user_ids, self.before.user(index), "user_id")

    def adopt_organization(self, index: int) -> str:
        """Copy in a pre-log organization with its live members, their roles and its connections."""
        before = self.before
        assert before is not None
        org_id = self._adopt(self.organizations, self.organization_ids, before.organization(index), "id")
        for user_index in before.member_indexes(index):
            user_id = before.user_id(user_index)
            if self._deleted_before(user_id):
                continue  # the cascade took the membership
            self.organization_members.add((org_id, user_id))
            for role_id in before.member_role_ids(index, user_index):
                self.member_roles.add((org_id, user_id, role_id))
        for con_id, settings in before.organization_connections(index).items():
            if self.has_connection(con_id):
                self.organization_connections[(org_id, con_id)] = dict(settings)
                self.organization_connection_keys.add((org_id, con_id))
        return org_id

    def adopt_group(self, index: int) -> str:
        """Copy in a pre-log group with its live members, its roles and its organization roles."""
        before = self.before
        assert before is not None
        group = before.group(index)
        group_id = self._adopt(self.groups, self.group_ids, group, "id")
        for user_index in before.group_member_indexes(index):
            user_id = before.user_id(user_index)
            if not self._deleted_before(user_id):
                self.group_members.add((group_id, user_id))
                self.group_members_since[(group_id, user_id)] = group["created_at"]
        for role_id in before.group_role_ids(index):
            self.group_roles.add((group_id, role_id))
        if group["type"] == "organization":
            self.organization_group_ids.add(group_id)
            if self.has_organization(group["organization_id"]):
                for role_id in before.organization_group_role_ids(index):
                    self.organization_group_roles.add((group["organization_id"], group_id, role_id))
        return str(group_id)


# --- Static realistic content -------------------------------------------------------------------

# (given name, family name, display name, ASCII slug for emails and usernames)
PEOPLE: tuple[tuple[str, str, str, str], ...] = (
    ("Maria", "Rossi", "Maria Rossi", "maria.rossi"),
    ("Zoë", "Ångström", "Zoë Ångström", "zoe.angstrom"),
    ("太郎", "山田", "山田太郎", "taro.yamada"),
    ("José", "Núñez", "José Núñez", "jose.nunez"),
    ("Łukasz", "Żółć", "Łukasz Żółć", "lukasz.zolc"),
    ("Ólafur", "Þórsson", "Ólafur Þórsson", "olafur.thorsson"),
    ("Дмитрий", "Иванов", "Дмитрий Иванов", "dmitry.ivanov"),
    ("Amélie", "Lefèvre", "Amélie Lefèvre", "amelie.lefevre"),
    ("Priya", "Raghunathan", "Priya Raghunathan", "priya.raghunathan"),
    ("Chen", "Wei", "Chen Wei", "chen.wei"),
    ("Kwame", "Mensah", "Kwame Mensah", "kwame.mensah"),
    ("Sofía", "García", "Sofía García", "sofia.garcia"),
    ("Jürgen", "Müller", "Jürgen Müller", "juergen.mueller"),
    ("Aoife", "O'Brien", "Aoife O'Brien", "aoife.obrien"),
    ("Noah", "Smith", "Noah Smith", "noah.smith"),
    ("Emma", "Johnson", "Emma Johnson", "emma.johnson"),
    ("Liam", "Williams", "Liam Williams", "liam.williams"),
    ("Olivia", "Brown", "Olivia Brown", "olivia.brown"),
    ("Mateus", "Conceição", "Mateus Conceição", "mateus.conceicao"),
    ("Fatima", "Al-Sayed", "Fatima Al-Sayed", "fatima.alsayed"),
    ("Hiroshi", "Tanaka", "Hiroshi Tanaka", "hiroshi.tanaka"),
    ("Ingrid", "Bergström", "Ingrid Bergström", "ingrid.bergstrom"),
    ("Nguyễn", "Văn An", "Nguyễn Văn An", "an.nguyen"),
    ("Grace", "Hopper", "Grace Hopper", "grace.hopper"),
)
EMAIL_DOMAINS = ("example.org", "example.com", "mail.example.net", "corp.example.io")
LOCALES = ("en-US", "en-GB", "sv-SE", "ja-JP", "pt-BR", "de-DE", "fr-FR", "es-ES", "pl-PL")
PLANS = ("free", "starter", "pro", "enterprise")
THEMES = ("light", "dark", "system")
# Values with JSON escapes (quotes, backslash, newline, tab) and emoji, used in metadata.
TRICKY_NOTES = (
    'Prefers "early access" features',
    "Home dir: C:\\Users\\admin\\profile",
    "Line one\nLine two\ttabbed",
    "🚀 launch squad 🎉",
    "Café ☕ at 10:00 — weekly",
    'She said: "it\'s fine" \\o/',
)
SOCIAL = (
    ("github", "github"),
    ("google-oauth2", "google-oauth2"),
    ("linkedin", "linkedin"),
    ("facebook", "facebook"),
    ("apple", "apple"),
)
# Social providers whose identity user_id is numeric on the wire.
NUMERIC_SOCIAL = frozenset({"github", "facebook"})
# (name, strategy) of the tenant's connections; created once per generator, without events.
CONNECTIONS = (
    ("Username-Password-Authentication", "auth0"),
    ("google-oauth2", "google-oauth2"),
    ("github", "github"),
    ("linkedin", "linkedin"),
    ("acme-saml", "samlp"),
    ("okta-workforce", "okta"),
    ("email", "email"),
    ("sms", "sms"),
)
ROLE_NAMES = (
    "admin",
    "editor",
    "viewer",
    "billing-manager",
    "support-agent",
    "auditor",
    "Développeur",
    "管理者",
)
CLIENT_NAMES = ("Admin Portal", "Customer Dashboard", "Provisioning Service", "Mobile App (iOS)")
ORG_NAMES = (
    ("northwind", "Northwind Traders"),
    ("contoso", "Contoso Ltd."),
    ("globex", "Globex Corporation"),
    ("initech", "Initech"),
    ("umbrella", "Umbrella Corp"),
    ("stark", "Stark Industries"),
    ("wayne", "Wayne Enterprises"),
    ("zurich-re", "Zürich Rück AG"),
    ("kaisha", "株式会社カイシャ"),
    ("smith-sons", 'Smith & "Sons"'),
    ("acme", "ACME, Inc."),
    ("soylent", "Soylent 🌱 Foods"),
)
REGIONS = ("emea", "amer", "apac")
TIERS = ("bronze", "silver", "gold", "platinum")
COLORS = ("#0A5FFF", "#FF5A1F", "#0E9F6E", "#7E3AF2", "#111827", "#FFFFFF", "#F3F4F6")
GROUP_NAMES = (
    "Engineering",
    "Sales EMEA",
    "Support Tier 2",
    "Finance",
    "Überprüfung",
    "営業部",
    "Contractors",
    "On-call",
    'Design "Guild"',
    "Security",
)
ACCESS_LEVELS = ("none", "readonly", "limited", "full")
# The eight enterprise strategies the SDKs model for connection.* events, with a name stem each,
# and two more enterprise strategies outside that union (the schemas must not pin the strategy).
ENTERPRISE_STRATEGIES = (
    ("oidc", "partner-oidc"),
    ("okta", "okta-partners"),
    ("samlp", "partner-saml"),
    ("pingfederate", "pingfed"),
    ("adfs", "corp-adfs"),
    ("ad", "corp-ad"),
    ("google-apps", "workspace"),
    ("waad", "entra-id"),
)
UNLISTED_STRATEGIES = (("office365", "office365-legacy"), ("ip", "ip-range"))
UNLISTED_STRATEGY_SHARE = 0.05
CONNECTION_DISPLAY_NAMES = (
    "Partner SSO",
    "Contractors",
    "Headquarters",
    "Acquired Co.",
    "Zürich Büro",
    "東京オフィス",
    'The "Legacy" IdP',
)
IDP_DOMAINS = ("partner.example", "corp.example.com", "acquired.example.net", "contractors.example.io")
OIDC_SCOPES = ("openid profile email", "openid email", "openid profile email groups")
PKCE = ("auto", "S256", "plain", "disabled")
CONNECTION_OWNERS = ("it-ops", "security", "partnerships", "Zoë Ångström")
# (continent, country code, country, subdivision code, subdivision, city, time zone, lat, long)
GEOS = (
    ("EU", "IT", "Italy", "MI", "Lombardy", "Milan", "Europe/Rome", 45.4642, 9.19),
    ("EU", "CH", "Switzerland", "ZH", "Zürich", "Zürich", "Europe/Zurich", 47.3769, 8.5417),
    ("AS", "JP", "Japan", "13", "東京都", "東京", "Asia/Tokyo", 35.6762, 139.6503),
    ("SA", "BR", "Brazil", "SP", "São Paulo", "São Paulo", "America/Sao_Paulo", -23.5505, -46.6333),
    (
        "NA",
        "US",
        "United States",
        "CA",
        "California",
        "San Francisco",
        "America/Los_Angeles",
        37.7749,
        -122.4194,
    ),
    ("EU", "SE", "Sweden", "AB", "Stockholm", "Stockholm", "Europe/Stockholm", 59.3293, 18.0686),
)
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "curl/8.5.0",
    "Auth0-SDK node-auth0/5.2.0",
    "python-requests/2.32.3",
)
METHODS = {
    "created": "POST",
    "added": "POST",
    "assigned": "POST",
    "updated": "PATCH",
    "deleted": "DELETE",
    "removed": "DELETE",
}

# Population sizes where creation and deletion balance out (keeps memory flat over long runs).
TARGETS = {
    "users": 500,
    "organizations": 50,
    "organization_connections": 60,
    "organization_members": 400,
    "member_roles": 300,
    "groups": 80,
    "group_members": 400,
    "group_roles": 100,
    "organization_group_roles": 40,
    "enterprise_connections": 12,
}


class _Skip(Exception):
    """The chosen (unforced) event type is not possible right now; pick another."""


def _clone(value: Any) -> Any:
    """Deep-copy JSON-like data (dict, list, str, int, float, bool, None), keeping key order.

    marshal does it in C, several times faster than copy.deepcopy or a recursive Python copy.
    """
    return marshal.loads(marshal.dumps(value))


def _byte_table(alphabet: str) -> bytes:
    """Translation table mapping each byte value to a character of `alphabet` (slight modulo bias)."""
    return bytes(ord(alphabet[i % len(alphabet)]) for i in range(256))


_TABLES = {alphabet: _byte_table(alphabet) for alphabet in (ALNUM, BASE58, HEX)}


def _to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # naive datetimes are taken as UTC
    return round(moment.timestamp() * 1000)


class EventGenerator:
    """Simulates a coherent Auth0 tenant and emits its changes as CloudEvents.

    `world` (a `World`) holds what exists after the events returned so far.
    """

    def __init__(
        self,
        seed: int = 0,
        tenant: str = "acme-demo",
        start: datetime | None = None,
        mean_gap_seconds: float = 30.0,
        *,
        test_event_share: float = TEST_EVENT_SHARE,
        unknown_types: Iterable[str] = (),
        unknown_share: float = UNKNOWN_TYPE_SHARE,
        excluded_types: Iterable[str] = (),
        bare_share: float = 0.0,
    ) -> None:
        """`test_event_share`: share of test events among unforced events (0: none).
        `bare_share`: share of events sent with neither `context` nor `previous_object`, as in Auth0's
        own SDK tests (0: none beyond the usual ones; the same seed then gives the same events).
        `unknown_types`: event types outside EVENT_TYPES; a share `unknown_share` of the unforced
        events is of one of them. `excluded_types`: types never chosen at random (a tenant without
        them); forcing one still works.
        """
        self.seed = seed
        self.tenant = tenant
        self.mean_gap_seconds = mean_gap_seconds
        self.unknown_types = tuple(unknown_types)
        known = [name for name in self.unknown_types if name in EVENT_TYPES]
        if known:
            raise ValueError(f"unknown_types must not name known event types: {', '.join(known)}.")
        self.unknown_share = unknown_share if self.unknown_types else 0.0
        self.excluded_types = frozenset(excluded_types)
        self.bare_share = bare_share
        if not {"user.created", "organization.created", "group.created", "connection.created"} - self.excluded_types:
            raise ValueError("excluded_types leaves no type that can start a tenant's history.")
        self._allowed = [event_type not in self.excluded_types for event_type in EVENT_TYPES]
        self._test_types = tuple(t for t in TEST_EVENT_TYPES if t not in self.excluded_types)
        self.test_event_share = test_event_share if self._test_types else 0.0
        self.world = World()
        self.events_emitted = 0
        self.test_events_emitted = 0
        self._rng = random.Random(seed)
        self._clock_ms = _to_ms(start or DEFAULT_START)
        self._cached_second = -1
        self._cached_prefix = ""
        self._source = f"urn:auth0:{tenant}.us.auth0.com"
        self._hostname = f"{tenant}.us.auth0.com"
        self._stream_id = "est_" + self._token(ALNUM, 22)
        self._tenant_id = "ten_" + self._token(ALNUM, 16)
        self._setup_tenant()
        self._ops: dict[str, Callable[[bool], tuple[Obj, Obj | None]]] = {
            event_type: getattr(self, "_op_" + event_type.replace(".", "_")) for event_type in EVENT_TYPES
        }
        # Per-event state, set by next_event before the operation runs.
        self._now = ""
        self._new_shape = True
        self._before: PreLog | None = None

    def start_from(self, before: PreLog) -> None:
        """Make `before` the world before the log: later events also touch its entities.

        Call it before the first event. Its users, organizations and groups stay derived until an
        event touches one (then `World` adopts it); its enterprise connections (a few, made from
        the seed alone) are put in the world now. An empty one (no users, organizations or groups)
        changes nothing; any other gives a different stream from the first event on.
        """
        if self.events_emitted:
            raise RuntimeError("start_from must come before the first event.")
        if not (before.users or before.organizations or before.groups):
            return  # an empty world before is no world before: the default stream, unchanged
        self._before = self.world.before = before
        events_rng, self._rng = self._rng, random.Random(f"{self.seed}:connections before")
        try:
            for _ in range(PRE_LOG_ENTERPRISE_CONNECTIONS):
                self._store_connection(self._new_connection())
        finally:
            self._rng = events_rng

    # --- Public API ------------------------------------------------------------------------------

    def next_event(self, *, time: datetime | None = None, event_type: str | None = None) -> Event:
        """Return the next CloudEvent (the `data.event` of an SSE message).

        `time`: the event's time (the clock moves there); default: the previous time plus a random,
        exponentially distributed gap of mean `mean_gap_seconds`.
        `event_type`: force this type. If its prerequisite is missing (e.g. no user to update), the
        prerequisite is created in the world without an event and logged in `world.unannounced`.
        It may also be one of `unknown_types`. Without it, only types possible in the current world
        are chosen.
        """
        if event_type is not None and event_type not in self._ops and event_type not in self.unknown_types:
            raise ValueError(f"Unknown event type {event_type!r}.")
        self._advance(time)
        rng = self._rng
        self._new_shape = rng.random() >= OLD_SHAPE_SHARE
        purpose = None
        if event_type is None and self.unknown_share and rng.random() < self.unknown_share:
            event_type = self._pick(self.unknown_types)
        if event_type is None and self.test_event_share and rng.random() < self.test_event_share:
            event_type, obj, previous = self._test_operation()
            purpose = "test"
            self.test_events_emitted += 1
        elif event_type is None:
            event_type, obj, previous = self._random_operation()
        elif event_type in self._ops:
            obj, previous = self._ops[event_type](True)
        else:
            obj, previous = self._unknown_object(event_type), None
        data: Obj = {"object": obj}
        bare = bool(self.bare_share) and rng.random() < self.bare_share  # no draw when the share is 0
        if previous is not None and self._new_shape and not bare:
            data["previous_object"] = previous
        if not bare and rng.random() >= NO_CONTEXT_SHARE:
            data["context"] = self._context(event_type)
        self.events_emitted += 1
        event = {
            "specversion": "1.0",
            "type": event_type,
            "source": self._source,
            "id": "evt_" + self._token(ALNUM, 22),
            "time": self._now,
            "a0tenant": self.tenant,
            "a0stream": self._stream_id,
        }
        if purpose is not None:
            event["a0purpose"] = purpose
        event["data"] = data
        return event

    def generate(self, count: int) -> list[Event]:
        """Return the next `count` events (random types, simulated clock).

        The cyclic garbage collector is paused meanwhile: the events hold no cycles, and its passes
        over a growing list of dicts would more than halve the rate on large counts.
        """
        next_event = self.next_event
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return [next_event() for _ in range(count)]
        finally:
            if gc_was_enabled:
                gc.enable()

    # --- Clock, ids, choices ------------------------------------------------------------------------

    def _advance(self, moment: datetime | None) -> None:
        if moment is not None:
            self._clock_ms = _to_ms(moment)
        else:
            self._clock_ms += max(1, round(self._rng.expovariate(1.0 / self.mean_gap_seconds) * 1000))
        self._now = self._format_ms(self._clock_ms)

    def _format_ms(self, ms: int) -> str:
        """`YYYY-MM-DDTHH:MM:SS.mmmZ`; the seconds part is cached (consecutive events share it)."""
        second, millis = divmod(ms, 1000)
        if second != self._cached_second:
            self._cached_second = second
            self._cached_prefix = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(second))
        return f"{self._cached_prefix}.{millis:03d}Z"

    def _ago(self, max_days: float) -> str:
        """A timestamp up to `max_days` before the current event."""
        offset = int(self._rng.random() * max_days * 86_400_000)
        second, millis = divmod(self._clock_ms - offset, 1000)
        return _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(second)) + f".{millis:03d}Z"

    def _token(self, alphabet: str, length: int) -> str:
        """`length` random characters of `alphabet` (one of ALNUM, BASE58, HEX)."""
        raw = self._rng.getrandbits(8 * length).to_bytes(length, "little")
        return raw.translate(_TABLES[alphabet]).decode("ascii")

    def _pick(self, options: tuple[Any, ...] | list[Any]) -> Any:
        return options[int(self._rng.random() * len(options))]

    def _pick_other(self, options: tuple[Any, ...], current: Any) -> Any:
        """A random option different from `current`."""
        choice = self._pick(options)
        while choice == current:
            choice = self._pick(options)
        return choice

    def _chance(self, probability: float) -> bool:
        return self._rng.random() < probability

    def _unannounced(self, table: str, key: Any) -> None:
        self.world.unannounced.append((self.events_emitted, table, key))

    # --- Type selection ------------------------------------------------------------------------------

    def _weights(self) -> list[float]:
        """Relative chance of each type now, in EVENT_TYPES order; deletions grow with population."""
        w = self.world
        users, orgs, groups = len(w.user_ids), len(w.organization_ids), len(w.group_ids)
        org_cons, members = len(w.organization_connection_keys), len(w.organization_members)
        member_roles, org_groups = len(w.member_roles), len(w.organization_group_ids)
        connections = len(w.enterprise_connection_ids)
        t = TARGETS
        weights = [
            8.0,
            14.0 if users else 0.0,
            8.0 * users / t["users"],
            2.0,
            3.0 if orgs else 0.0,
            2.0 * orgs / t["organizations"],
            2.0 if orgs else 0.0,
            2.0 if org_cons else 0.0,
            2.0 * org_cons / t["organization_connections"],
            6.0 if orgs and users else 0.0,
            6.0 * members / t["organization_members"],
            4.0 if members else 0.0,
            4.0 * member_roles / t["member_roles"],
            2.0 if org_groups else 0.0,
            2.0 * len(w.organization_group_roles) / t["organization_group_roles"],
            3.0,
            3.0 if groups else 0.0,
            3.0 * groups / t["groups"],
            5.0 if groups else 0.0,
            5.0 * len(w.group_members) / t["group_members"],
            2.0 if groups else 0.0,
            2.0 * len(w.group_roles) / t["group_roles"],
            1.0,
            1.5 if connections else 0.0,
            1.0 * connections / t["enterprise_connections"],
        ]
        if self._before is not None:
            self._weigh_the_world_before(weights)
        if self.excluded_types:
            return [weight if allowed else 0.0 for weight, allowed in zip(weights, self._allowed, strict=True)]
        return weights

    def _weigh_the_world_before(self, weights: list[float]) -> None:
        """Give the events about pre-log entities a chance even while the log has made none yet."""
        before = self._before
        assert before is not None
        floors: dict[str, float] = {}
        if before.users:
            floors.update({"user.updated": 14.0, "user.deleted": 1.0})
        if before.organizations:
            floors.update(
                {
                    "organization.updated": 3.0,
                    "organization.deleted": 0.3,
                    "organization.connection.added": 2.0,
                    "organization.connection.updated": 2.0,
                    "organization.connection.removed": 1.0,
                    "organization.member.deleted": 2.0,
                    "organization.member.role.assigned": 4.0,
                    "organization.member.role.deleted": 2.0,
                }
            )
            if before.users:
                floors["organization.member.added"] = 6.0
        if before.groups:
            floors.update(
                {
                    "group.updated": 3.0,
                    "group.deleted": 0.3,
                    "group.member.added": 5.0,
                    "group.member.deleted": 2.0,
                    "group.role.assigned": 2.0,
                    "group.role.deleted": 1.0,
                }
            )
            if before.organizations:
                floors.update({"organization.group.role.assigned": 2.0, "organization.group.role.deleted": 1.0})
        for event_type, floor in floors.items():
            position = EVENT_TYPES.index(event_type)
            weights[position] = max(weights[position], floor)
        # Adopted organizations bring their members along: a deletion, whose weight grows with the
        # population, is at most as likely as the addition it undoes (else deletions crowd out all).
        for removal, addition in REMOVAL_OF.items():
            removal_at, addition_at = EVENT_TYPES.index(removal), EVENT_TYPES.index(addition)
            weights[removal_at] = min(weights[removal_at], max(weights[addition_at], floors.get(removal, 0.0)))

    def _random_operation(self) -> tuple[str, Obj, Obj | None]:
        while True:
            cumulative = list(accumulate(self._weights()))
            event_type = EVENT_TYPES[bisect(cumulative, self._rng.random() * cumulative[-1])]
            try:
                obj, previous = self._ops[event_type](False)
            except _Skip:
                continue  # e.g. every role already assigned to the chosen member
            return event_type, obj, previous

    def _free_pair(self, pick: Callable[[], tuple[Any, ...] | None], taken: Any) -> tuple[Any, ...] | None:
        """Try a few random candidates; return one not in `taken` (None if all tries hit)."""
        for _ in range(8):
            candidate = pick()
            if candidate is not None and candidate not in taken:
                return candidate
        return None

    # --- Prerequisites (silently created when a forced type needs them) ------------------------------

    def _from_before(self) -> bool:
        """Whether this choice goes to the world before the log (no draw without one)."""
        return self._before is not None and self._chance(PRE_LOG_SHARE)

    def _touch(self, kind: str) -> str | None:
        """A live pre-log user, organization or group (adopted on first touch); None if none found.

        `kind`: "user", "organization", "group" or "organization group". Picked by index: the world
        before is never materialised to choose.
        """
        before, w = self._before, self.world
        assert before is not None
        count, id_of, adopt = {
            "user": (before.users, before.user_id, w.adopt_user),
            "organization": (before.organizations, before.organization_id, w.adopt_organization),
            "group": (before.groups, before.group_id, w.adopt_group),
            "organization group": (before.groups, before.group_id, w.adopt_group),
        }[kind]
        for _ in range(8):
            if not count:
                return None
            index = int(self._rng.random() * count)
            entity_id = id_of(index)
            if entity_id not in w.adopted:
                if kind == "organization group" and before.group(index)["type"] != "organization":
                    continue
                return adopt(index)
            live = w.users if kind == "user" else w.organizations if kind == "organization" else w.groups
            if entity_id in live and (kind != "organization group" or entity_id in w.organization_group_ids):
                return entity_id
        return None

    def _touched_relation(self, kind: str, table: str) -> tuple[str, ...] | None:
        """A listed relation of `table` held by a touched pre-log entity (`kind`), None if it has none.

        The candidates are built from the entity (its pre-log members, every role, every connection),
        not found by scanning the world's relations.
        """
        entity_id = self._touch(kind)
        if entity_id is None:
            return None
        w = self.world
        keys = [
            key for key in self._relations_of(table, entity_id) if key in getattr(w, table) and w.listed(table, key)
        ]
        return self._pick(keys) if keys else None

    def _relations_of(self, table: str, entity_id: str) -> list[tuple[str, ...]]:
        """The keys of `table` a pre-log organization or group could hold, in a fixed order."""
        before = self._before
        assert before is not None
        roles = self._role_ids
        if table == "organization_connections":
            return [(entity_id, con_id) for con_id in (*self._connection_ids, *self.world.enterprise_connection_ids)]
        if table == "group_roles":
            return [(entity_id, role_id) for role_id in roles]
        if table == "organization_group_roles":
            org_id = self.world.groups[entity_id]["organization_id"]
            return [(org_id, entity_id, role_id) for role_id in roles]
        if table in ("organization_members", "member_roles"):
            index = before.index_of("organization", entity_id)
            assert index is not None
            users = [before.user_id(i) for i in before.member_indexes(index)]
            if table == "organization_members":
                return [(entity_id, user_id) for user_id in users]
            return [(entity_id, user_id, role_id) for user_id in users for role_id in roles]
        index = before.index_of("group", entity_id)  # group_members
        assert index is not None
        members = [before.user_id(i) for i in before.group_member_indexes(index)]
        return [(entity_id, member_id) for member_id in (*members, *self._connection_ids)]

    def _live_choice(self, table: str, keys_attribute: str | None = None) -> Any:
        """A random relation of `table`, None if it has none. With a world before, one the cascade
        still lists, or None if a few tries find none (without one: any, as the default stream has it).

        `keys_attribute`: the world's `IndexedSet` of the table's keys, when the table is a dict.
        """
        keys = getattr(self.world, keys_attribute or table)
        if not keys:
            return None
        key = keys.choice(self._rng)
        if self._before is None:
            return key
        for _ in range(8):
            if self.world.listed(table, key):
                return key
            key = keys.choice(self._rng)
        return None

    def _existing_relation(self, kind: str, table: str, keys_attribute: str | None = None) -> Any:
        """A relation of `table` to end or change: now and then one of a touched pre-log entity
        (`kind`, see `_touch`), else a random live one; None if there is none."""
        touched = self._touched_relation(kind, table) if self._from_before() else None
        return touched if touched is not None else self._live_choice(table, keys_attribute)

    def _existing_user(self) -> str | None:
        """Any live user: with a world before, now and then an untouched pre-log one (by id only)."""
        before, w = self._before, self.world
        if before is not None and before.users and self._chance(PRE_LOG_SHARE):
            for _ in range(8):
                user_id = before.user_id(int(self._rng.random() * before.users))
                if user_id not in w.adopted or user_id in w.users:
                    return user_id
        return w.user_ids.choice(self._rng) if w.user_ids else None

    def _some_user(self, forced: bool) -> str:
        touched = self._touch("user") if self._from_before() else None
        if touched is not None:
            return touched
        if self.world.user_ids:
            return self.world.user_ids.choice(self._rng)
        if not forced:
            raise _Skip
        return self._silent_user()

    def _silent_user(self) -> str:
        user = self._new_user()
        self._store_user(user)
        self._unannounced("users", user["user_id"])
        return user["user_id"]

    def _some_org(self, forced: bool) -> str:
        touched = self._touch("organization") if self._from_before() else None
        if touched is not None:
            return touched
        if self.world.organization_ids:
            return self.world.organization_ids.choice(self._rng)
        if not forced:
            raise _Skip
        return self._silent_org()

    def _silent_org(self) -> str:
        org = self._new_org()
        self._store_org(org)
        self._unannounced("organizations", org["id"])
        return org["id"]

    def _some_group(self, forced: bool) -> str:
        touched = self._touch("group") if self._from_before() else None
        if touched is not None:
            return touched
        if self.world.group_ids:
            return self.world.group_ids.choice(self._rng)
        if not forced:
            raise _Skip
        return self._silent_group("tenant")

    def _some_org_group(self, forced: bool) -> str:
        touched = self._touch("organization group") if self._from_before() else None
        if touched is not None:
            return touched
        if self.world.organization_group_ids:
            return self.world.organization_group_ids.choice(self._rng)
        if not forced:
            raise _Skip
        return self._silent_group("organization")

    def _silent_group(self, kind: str) -> str:
        group = self._new_group(kind, forced=True)
        self._store_group(group)
        self._unannounced("groups", group["id"])
        return group["id"]

    def _some_membership(self, forced: bool) -> tuple[str, str]:
        key = self._existing_relation("organization", "organization_members")
        if key is not None:
            return key[0], key[1]
        if not forced:
            raise _Skip
        return self._silent_membership()

    def _silent_membership(self) -> tuple[str, str]:
        # A brand-new user is a member of nothing yet, so the pair is free.
        key = (self._some_org(True), self._silent_user())
        self.world.organization_members.add(key)
        self._unannounced("organization_members", key)
        return key

    # --- Tenant setup and entity builders ------------------------------------------------------------

    def _setup_tenant(self) -> None:
        w = self.world
        for name, strategy in CONNECTIONS:
            con_id = "con_" + self._token(ALNUM, 16)
            w.connections[con_id] = {"id": con_id, "name": name, "strategy": strategy}
        for name in ROLE_NAMES:
            w.roles["rol_" + self._token(ALNUM, 16)] = name
        for name in CLIENT_NAMES:
            metadata = {"team": "platform", "owner": "Zoë Ångström"} if self._chance(0.5) else {}
            w.clients.append({"id": self._token(ALNUM, 32), "name": name, "metadata": metadata})
        self._connection_ids = tuple(w.connections)
        self._role_ids = tuple(w.roles)
        self._connections = tuple(w.connections.values())
        # The strategy of every connection ever seen (deleted ones too: references outlive them).
        self._strategies = {con_id: connection["strategy"] for con_id, connection in w.connections.items()}
        self._deleted_connection_names: list[str] = []

    def _new_user(self) -> Obj:
        rng = self._rng
        given, family, display, slug = self._pick(PEOPLE)
        suffix = str(int(rng.random() * 10_000))
        email = f"{slug}{suffix}@{self._pick(EMAIL_DOMAINS)}"
        user_id, identities = self._identities(given, family, display, f"{slug}{suffix}", email)
        created = self._now
        user: Obj = {
            "user_id": user_id,
            "email": email,
            "email_verified": self._chance(0.4),
            "username": f"{slug.replace('.', '_')}{suffix}",
            "created_at": created,
            "updated_at": created,
            "identities": identities,
            "app_metadata": {
                "plan": self._pick(PLANS),
                "customer_id": "cus_" + self._token(ALNUM, 14),
                "roles": ["member"],
            },
            "user_metadata": self._user_metadata(),
            "picture": self._picture(slug),
            "name": display,
            "nickname": slug.split(".")[0],
            "given_name": given,
            "family_name": family,
            "logins_count": 0,
        }
        if self._chance(0.3):
            user["phone_number"] = "+1415555" + str(1000 + int(rng.random() * 8999))
            user["phone_verified"] = False
        return user

    def _identities(self, given: str, family: str, display: str, handle: str, email: str) -> tuple[str, list[Obj]]:
        """A new user's id and identities: database, social, enterprise (SAML) or passwordless."""
        roll = self._rng.random()
        if roll < 0.6:  # database user, maybe with a linked social account
            local_id = self._token(HEX, 24)
            user_id = "auth0|" + local_id
            identities = [
                {
                    "connection": "Username-Password-Authentication",
                    "user_id": local_id,
                    "provider": "auth0",
                    "isSocial": False,
                }
            ]
            if self._chance(0.3):
                identities.append(self._social_identity(given, family, display, email))
        elif roll < 0.85:  # social primary identity
            identity = self._social_identity(given, family, display, email)
            user_id = f"{identity['provider']}|{identity['user_id']}"
            identities = [identity]
        elif roll < 0.95:  # enterprise (SAML)
            local_id = f"{handle}@acme-corp.example"
            user_id = "samlp|acme-saml|" + local_id
            identities = [{"connection": "acme-saml", "user_id": local_id, "provider": "samlp", "isSocial": False}]
        else:  # passwordless email
            local_id = self._token(HEX, 24)
            user_id = "email|" + local_id
            identities = [{"connection": "email", "user_id": local_id, "provider": "email", "isSocial": False}]
        while user_id in self.world.users:  # ids are random; keep them unique anyway
            user_id += self._token(HEX, 1)
        return user_id, identities

    def _picture(self, slug: str) -> str:
        if self._chance(0.5):
            return f"https://s.gravatar.com/avatar/{self._token(HEX, 32)}?s=480"
        return f"https://cdn.auth0.com/avatars/{slug[:2]}.png"

    def _social_identity(self, given: str, family: str, display: str, email: str) -> Obj:
        connection, provider = self._pick(SOCIAL)
        if provider in NUMERIC_SOCIAL:
            provider_id: str | int = 1_000_000 + int(self._rng.random() * 90_000_000)
        else:
            provider_id = str(100_000_000_000_000_000_000 + int(self._rng.random() * 1e20))
        return {
            "connection": connection,
            "user_id": provider_id,
            "provider": provider,
            "isSocial": True,
            "profileData": {"name": display, "email": email, "email_verified": True},
        }

    def _user_metadata(self) -> Obj:
        metadata: Obj = {"locale": self._pick(LOCALES), "theme": self._pick(THEMES)}
        if self._chance(0.35):
            metadata["note"] = self._pick(TRICKY_NOTES)
        if self._chance(0.3):
            metadata["newsletter"] = True
        return metadata

    def _new_org(self) -> Obj:
        slug, display = self._pick(ORG_NAMES)
        org_id = "org_" + self._token(ALNUM, 16)
        metadata = {"region": self._pick(REGIONS), "tier": self._pick(TIERS)}
        if self._chance(0.2):
            metadata["note"] = self._pick(TRICKY_NOTES)
        return {
            "id": org_id,
            "name": f"{slug}-{self._token(HEX, 4)}",
            "display_name": display,
            "metadata": metadata,
            "branding": {
                "logo_url": f"https://cdn.example.org/{slug}.png",
                "colors": {"primary": self._pick(COLORS), "page_background": self._pick(COLORS)},
            },
        }

    def _new_group(self, kind: str, forced: bool) -> Obj:
        group: Obj = {"id": "grp_" + self._token(BASE58, 18), "name": self._pick(GROUP_NAMES)}
        if self._chance(0.5):
            group["external_id"] = f"ext-{self._token(HEX, 8)}"
        group["created_at"] = self._now
        group["type"] = kind
        if kind == "connection":
            group["connection_id"] = self._pick(self._connection_ids)
        elif kind == "organization":
            group["organization_id"] = self._some_org(forced)
        return group

    def _store_user(self, user: Obj) -> None:
        self.world.users[user["user_id"]] = user
        self.world.user_ids.add(user["user_id"])

    def _store_org(self, org: Obj) -> None:
        self.world.organizations[org["id"]] = org
        self.world.organization_ids.add(org["id"])

    def _store_group(self, group: Obj) -> None:
        self.world.groups[group["id"]] = group
        self.world.group_ids.add(group["id"])
        if group["type"] == "organization":
            self.world.organization_group_ids.add(group["id"])

    # --- References used inside objects -----------------------------------------------------------

    def _org_ref(self, org_id: str) -> Obj:
        org = self.world.organizations.get(org_id)
        if org is not None and self._chance(0.7):  # `name` is optional in ORG_REF
            return {"id": org_id, "name": org["name"]}
        return {"id": org_id}

    def _user_ref(self, user_id: str) -> Obj:
        return {"user_id": user_id}

    def _role(self, role_id: str) -> Obj:
        return {"id": role_id, "name": self.world.roles[role_id]}

    def _group_ref(self, group_id: str) -> Obj:
        group = self.world.groups[group_id]
        ref = {"id": group_id}
        if "external_id" in group:
            ref["external_id"] = group["external_id"]
        ref["type"] = group["type"]
        for key in ("connection_id", "organization_id"):
            if key in group:
                ref[key] = group[key]
        return ref

    # --- Operations: one per event type; each returns (object, previous_object or None) --------------

    def _op_user_created(self, forced: bool) -> tuple[Obj, Obj | None]:
        user = self._new_user()
        self._store_user(user)
        return _clone(user), None

    def _op_user_updated(self, forced: bool) -> tuple[Obj, Obj | None]:
        user_id = self._some_user(forced)
        before = self.world.users[user_id]
        after = _clone(before)
        self._change_user(after)
        after["updated_at"] = self._now
        self.world.users[user_id] = after
        return _clone(after), before  # `before` left the world: nothing else refers to it

    def _change_user(self, user: Obj) -> None:
        """Apply one or two realistic changes (a login is the most common)."""
        rng = self._rng
        roll = rng.random()
        if roll < 0.45:
            user["logins_count"] = user.get("logins_count", 0) + 1
            user["last_login"] = self._now
            user["last_ip"] = f"203.0.113.{int(rng.random() * 254) + 1}"
        elif roll < 0.6:
            user["email_verified"] = True
        elif roll < 0.7:
            user["user_metadata"] = self._user_metadata()
        elif roll < 0.78:
            user["app_metadata"]["plan"] = self._pick(PLANS)
            user["app_metadata"]["roles"] = ["member", "beta"] if self._chance(0.5) else ["member"]
        elif roll < 0.84:
            user["multifactor"] = [self._pick(("guardian", "google-authenticator", "duo"))]
        elif roll < 0.9:
            user["blocked"] = not user.get("blocked", False)
        elif roll < 0.95 and len(user["identities"]) < 3:
            user["identities"].append(
                self._social_identity(
                    user.get("given_name", ""),
                    user.get("family_name", ""),
                    user.get("name", ""),
                    user.get("email", ""),
                )
            )
        else:
            user["nickname"] = user.get("nickname", "user") + str(int(rng.random() * 100))
        if "last_login" not in user and self._chance(0.5):
            user["last_login"] = self._ago(30)
            user["last_ip"] = f"198.51.100.{int(rng.random() * 254) + 1}"

    def _op_user_deleted(self, forced: bool) -> tuple[Obj, Obj | None]:
        user_id = self._some_user(forced)
        obj = self.world.users.pop(user_id)  # left the world: ours to change
        self.world.user_ids.discard(user_id)
        previous = _clone(obj) if self._chance(0.5) else None
        obj["deleted_at"] = self._now
        return obj, previous

    def _op_organization_created(self, forced: bool) -> tuple[Obj, Obj | None]:
        org = self._new_org()
        self._store_org(org)
        return _clone(org), None

    def _op_organization_updated(self, forced: bool) -> tuple[Obj, Obj | None]:
        org_id = self._some_org(forced)
        before = self.world.organizations[org_id]
        after = _clone(before)
        roll = self._rng.random()
        # Always a real change: an organization has no updated_at to tell versions apart.
        if roll < 0.4:
            after["display_name"] = self._pick_other(tuple(name for _, name in ORG_NAMES), after["display_name"])
        elif roll < 0.7:
            after["metadata"]["tier"] = self._pick_other(TIERS, after["metadata"]["tier"])
        elif "branding" in after:
            colors = after["branding"]["colors"]
            colors["primary"] = self._pick_other(COLORS, colors["primary"])
        else:  # a pre-log organization without branding gets some
            slug = after["name"].rsplit("-", 1)[0]
            after["branding"] = {
                "logo_url": f"https://cdn.example.org/{slug}.png",
                "colors": {"primary": self._pick(COLORS), "page_background": self._pick(COLORS)},
            }
        self.world.organizations[org_id] = after
        return _clone(after), before  # `before` left the world

    def _op_organization_deleted(self, forced: bool) -> tuple[Obj, Obj | None]:
        org_id = self._some_org(forced)
        org = self.world.organizations.pop(org_id)  # left the world: ours to change
        self.world.organization_ids.discard(org_id)
        org.pop("branding", None)  # organization.deleted carries no branding
        return org, None

    def _connection_settings(self, con_id: str) -> Obj:
        strategy = self._strategies[con_id]
        settings: Obj = {"assign_membership_on_login": self._chance(0.4)}
        if strategy in ("samlp", "okta"):  # show_as_button applies to enterprise connections
            settings["show_as_button"] = self._chance(0.8)
        if strategy == "auth0":  # is_signup_enabled applies to database connections
            settings["is_signup_enabled"] = self._chance(0.5)
        settings["is_enabled"] = self._chance(0.9)
        settings["organization_access_level"] = self._pick(ACCESS_LEVELS)
        return settings

    def _org_connection_object(self, key: tuple[str, str]) -> Obj:
        obj = {"organization": self._org_ref(key[0]), "connection": {"id": key[1]}}
        for name, value in self.world.organization_connections[key].items():
            if self._new_shape or name not in ("is_enabled", "organization_access_level"):
                obj[name] = value
        return obj

    def _op_organization_connection_added(self, forced: bool) -> tuple[Obj, Obj | None]:
        w = self.world
        key = None
        touched = self._touch("organization") if self._from_before() else None
        if touched is not None:
            key = self._free_pair(lambda: (touched, self._any_connection_id()), w.organization_connections)
        elif w.organization_ids:
            key = self._free_pair(
                lambda: (w.organization_ids.choice(self._rng), self._any_connection_id()),
                w.organization_connections,
            )
        if key is None:
            if not forced:
                raise _Skip
            key = (self._silent_org(), self._pick(self._connection_ids))  # a new org has no connections
        w.organization_connections[key] = self._connection_settings(key[1])
        w.organization_connection_keys.add(key)
        return self._org_connection_object(key), None

    def _any_connection_id(self) -> str:
        """A connection an organization can enable: a built-in one, or now and then a live enterprise one."""
        live = self.world.enterprise_connection_ids
        if live and self._chance(0.3):
            return live.choice(self._rng)
        return self._pick(self._connection_ids)

    def _some_org_connection(self, forced: bool) -> tuple[str, str]:
        w = self.world
        live = self._existing_relation("organization", "organization_connections", "organization_connection_keys")
        if live is not None:
            return live[0], live[1]
        if not forced:
            raise _Skip
        key = (self._some_org(True), self._pick(self._connection_ids))
        w.organization_connections[key] = self._connection_settings(key[1])
        w.organization_connection_keys.add(key)
        self._unannounced("organization_connections", key)
        return key

    def _op_organization_connection_updated(self, forced: bool) -> tuple[Obj, Obj | None]:
        key = self._some_org_connection(forced)
        settings = self.world.organization_connections[key]
        before = self._org_connection_object(key)
        settings = dict(settings)
        settings["assign_membership_on_login"] = not settings["assign_membership_on_login"]
        settings["organization_access_level"] = self._pick(ACCESS_LEVELS)
        self.world.organization_connections[key] = settings
        return self._org_connection_object(key), before

    def _op_organization_connection_removed(self, forced: bool) -> tuple[Obj, Obj | None]:
        key = self._some_org_connection(forced)
        obj = {"organization": self._org_ref(key[0]), "connection": {"id": key[1]}}
        del self.world.organization_connections[key]
        self.world.organization_connection_keys.discard(key)
        return obj, None

    def _op_organization_member_added(self, forced: bool) -> tuple[Obj, Obj | None]:
        w = self.world
        key = None
        touched = self._touch("organization") if self._from_before() else None
        if touched is not None:

            def pick() -> tuple[str, str] | None:
                user_id = self._existing_user()
                return None if user_id is None else (touched, user_id)

            key = self._free_pair(pick, w.organization_members)
        elif w.organization_ids and w.user_ids:
            key = self._free_pair(
                lambda: (w.organization_ids.choice(self._rng), w.user_ids.choice(self._rng)),
                w.organization_members,
            )
        if key is None:
            if not forced:
                raise _Skip
            key = (self._some_org(True), self._silent_user())  # a new user is a member of nothing
        w.organization_members.add(key)
        return {"organization": self._org_ref(key[0]), "user": self._user_ref(key[1])}, None

    def _op_organization_member_deleted(self, forced: bool) -> tuple[Obj, Obj | None]:
        key = self._some_membership(forced)
        self.world.organization_members.discard(key)
        if self._before is not None:  # its roles go with it (a member added again starts without)
            for role_id in self._role_ids:
                self.world.member_roles.discard((*key, role_id))
        return {"organization": self._org_ref(key[0]), "user": self._user_ref(key[1])}, None

    def _member_role_object(self, key: tuple[str, str, str]) -> Obj:
        return {"organization": {"id": key[0]}, "user": self._user_ref(key[1]), "role": self._role(key[2])}

    def _op_organization_member_role_assigned(self, forced: bool) -> tuple[Obj, Obj | None]:
        w = self.world

        def pick() -> tuple[str, str, str] | None:
            org_id, user_id = w.organization_members.choice(self._rng)
            if not w.listed("organization_members", (org_id, user_id)):
                return None  # membership left behind by a deletion
            return org_id, user_id, self._pick(self._role_ids)

        touched = self._touched_relation("organization", "organization_members") if self._from_before() else None
        if touched is not None:
            key = self._free_pair(lambda: (*touched, self._pick(self._role_ids)), w.member_roles)
        else:
            key = self._free_pair(pick, w.member_roles) if w.organization_members else None
        if key is None:
            if not forced:
                raise _Skip
            key = (*self._silent_membership(), self._pick(self._role_ids))
        w.member_roles.add(key)
        return self._member_role_object(key), None

    def _op_organization_member_role_deleted(self, forced: bool) -> tuple[Obj, Obj | None]:
        w = self.world
        key = self._existing_relation("organization", "member_roles")
        if key is None:
            if not forced:
                raise _Skip
            key = (*self._silent_membership(), self._pick(self._role_ids))
            w.member_roles.add(key)
            self._unannounced("member_roles", key)
        w.member_roles.discard(key)
        return self._member_role_object(key), None

    def _op_organization_group_role_assigned(self, forced: bool) -> tuple[Obj, Obj | None]:
        w = self.world

        def pick() -> tuple[str, str, str] | None:
            group_id = w.organization_group_ids.choice(self._rng)
            key = w.groups[group_id]["organization_id"], group_id, self._pick(self._role_ids)
            if not w.has_organization(key[0]):
                return None  # a group left behind by its organization's deletion
            return key

        touched = self._touch("organization group") if self._from_before() else None
        if touched is not None and w.has_organization(w.groups[touched]["organization_id"]):
            org_id = w.groups[touched]["organization_id"]
            key = self._free_pair(lambda: (org_id, touched, self._pick(self._role_ids)), w.organization_group_roles)
        else:
            key = self._free_pair(pick, w.organization_group_roles) if w.organization_group_ids else None
        if key is None:
            if not forced:
                raise _Skip
            group_id = self._silent_group("organization")  # a new group has no roles
            key = (w.groups[group_id]["organization_id"], group_id, self._pick(self._role_ids))
        w.organization_group_roles.add(key)
        obj = {
            "organization": {"id": key[0]},
            "role": self._role(key[2]),
            "group": self._group_ref(key[1]),
            "created_at": self._now,
        }
        return obj, None

    def _op_organization_group_role_deleted(self, forced: bool) -> tuple[Obj, Obj | None]:
        w = self.world
        key = self._existing_relation("organization group", "organization_group_roles")
        if key is None:
            if not forced:
                raise _Skip
            group_id = self._some_org_group(True)
            key = (w.groups[group_id]["organization_id"], group_id, self._pick(self._role_ids))
            w.organization_group_roles.add(key)
            self._unannounced("organization_group_roles", key)
        w.organization_group_roles.discard(key)
        group = self._group_ref(key[1]) if key[1] in w.groups else {"id": key[1]}
        obj = {
            "organization": {"id": key[0]},
            "role": {"id": key[2]},
            "group": group,
            "deleted_at": self._now,
        }
        previous = {
            "organization": {"id": key[0]},
            "role": self._role(key[2]),
            "group": _clone(group),
            "created_at": self._ago(60),
        }
        return obj, (previous if self._chance(0.5) else None)

    def _op_group_created(self, forced: bool) -> tuple[Obj, Obj | None]:
        roll = self._rng.random()
        kind = "tenant" if roll < 0.4 else "connection" if roll < 0.7 else "organization"
        if kind == "organization" and not self.world.organization_ids:
            kind = "tenant"  # no organization to own it yet; never invent one for a random event
        group = self._new_group(kind, forced)
        self._store_group(group)
        return _clone(group), None

    def _op_group_updated(self, forced: bool) -> tuple[Obj, Obj | None]:
        group_id = self._some_group(forced)
        before = self.world.groups[group_id]
        after = dict(before)
        if self._chance(0.6):
            after["name"] = self._pick(GROUP_NAMES)
        else:
            after["external_id"] = f"ext-{self._token(HEX, 8)}"
        after["updated_at"] = self._now
        self.world.groups[group_id] = self._ordered_group(after)
        previous = dict(before)
        previous.setdefault("updated_at", before["created_at"])
        return dict(self.world.groups[group_id]), self._ordered_group(previous)

    @staticmethod
    def _ordered_group(group: Obj) -> Obj:
        """Keep the catalog's key order (id, name, external_id, created_at, updated_at, type, ...)."""
        order = (
            "id",
            "name",
            "external_id",
            "created_at",
            "updated_at",
            "type",
            "connection_id",
            "organization_id",
        )
        return {k: group[k] for k in order if k in group}

    def _op_group_deleted(self, forced: bool) -> tuple[Obj, Obj | None]:
        w = self.world
        group_id = self._some_group(forced)
        group = w.groups.pop(group_id)
        w.group_ids.discard(group_id)
        w.organization_group_ids.discard(group_id)
        obj = dict(group)
        obj.setdefault("updated_at", group["created_at"])  # required on group.deleted
        return self._ordered_group(obj), None

    def _member(self, member_id: str) -> Obj:
        connection = self.world.connections.get(member_id)
        if connection is None:
            return {"member_type": "user", "id": member_id}
        return {
            "member_type": "connection",
            "id": member_id,
            "type": connection["strategy"],
            "connection_id": member_id,
        }

    def _op_group_member_added(self, forced: bool) -> tuple[Obj, Obj | None]:
        w = self.world

        def pick() -> tuple[str, str] | None:
            group_id = w.group_ids.choice(self._rng)
            if self._chance(0.15) or not w.user_ids:
                return group_id, self._pick(self._connection_ids)
            return group_id, w.user_ids.choice(self._rng)

        touched = self._touch("group") if self._from_before() else None
        if touched is not None:

            def pick_for_touched() -> tuple[str, str] | None:
                member_id = None if self._chance(0.15) else self._existing_user()
                return touched, member_id or self._pick(self._connection_ids)

            key = self._free_pair(pick_for_touched, w.group_members)
        else:
            key = self._free_pair(pick, w.group_members) if w.group_ids else None
        if key is None:
            if not forced:
                raise _Skip
            key = (self._some_group(True), self._silent_user())  # a new user is in no group
        w.group_members.add(key)
        w.group_members_since[key] = self._now
        return {"group": self._group_ref(key[0]), "member": self._member(key[1])}, None

    def _op_group_member_deleted(self, forced: bool) -> tuple[Obj, Obj | None]:
        w = self.world
        key = self._existing_relation("group", "group_members")
        if key is None:
            if not forced:
                raise _Skip
            key = (self._some_group(True), self._silent_user())
            w.group_members.add(key)
            self._unannounced("group_members", key)
        w.group_members.discard(key)
        group = self._group_ref(key[0]) if key[0] in w.groups else {"id": key[0]}
        return {"group": group, "member": self._member(key[1])}, None

    def _op_group_role_assigned(self, forced: bool) -> tuple[Obj, Obj | None]:
        w = self.world
        key = None
        touched = self._touch("group") if self._from_before() else None
        if touched is not None:
            key = self._free_pair(lambda: (touched, self._pick(self._role_ids)), w.group_roles)
        elif w.group_ids:
            key = self._free_pair(lambda: (w.group_ids.choice(self._rng), self._pick(self._role_ids)), w.group_roles)
        if key is None:
            if not forced:
                raise _Skip
            key = (self._silent_group("tenant"), self._pick(self._role_ids))  # a new group has no roles
        w.group_roles.add(key)
        obj = {"group": self._group_ref(key[0]), "role": self._role(key[1]), "created_at": self._now}
        return obj, None

    def _op_group_role_deleted(self, forced: bool) -> tuple[Obj, Obj | None]:
        w = self.world
        key = self._existing_relation("group", "group_roles")
        if key is None:
            if not forced:
                raise _Skip
            key = (self._some_group(True), self._pick(self._role_ids))
            w.group_roles.add(key)
            self._unannounced("group_roles", key)
        w.group_roles.discard(key)
        group = self._group_ref(key[0]) if key[0] in w.groups else {"id": key[0]}
        obj = {"group": group, "role": {"id": key[1]}, "deleted_at": self._now}
        previous = {"group": _clone(group), "role": self._role(key[1]), "created_at": self._ago(60)}
        return obj, (previous if self._chance(0.5) else None)

    # --- Enterprise connections (connection.*) ----------------------------------------------------

    def _new_connection(self) -> Obj:
        unlisted = self._chance(UNLISTED_STRATEGY_SHARE)
        strategy, stem = self._pick(UNLISTED_STRATEGIES if unlisted else ENTERPRISE_STRATEGIES)
        name = f"{stem}-{self._token(HEX, 4)}"
        live_names = {connection["name"] for connection in self.world.enterprise_connections.values()}
        if self._deleted_connection_names and self._chance(0.3):
            reused = self._pick(self._deleted_connection_names)  # set up again after a deletion
            if reused not in live_names:
                name = reused
        domain = self._pick(IDP_DOMAINS)
        connection: Obj = {"id": "con_" + self._token(ALNUM, 16), "name": name, "strategy": strategy}
        if self._chance(0.8):
            connection["display_name"] = self._pick(CONNECTION_DISPLAY_NAMES)
        if self._chance(0.6):
            connection["enabled_clients"] = [self._pick(self.world.clients)["id"]]
        connection["is_domain_connection"] = self._chance(0.1)
        if self._chance(0.7):
            connection["realms"] = [domain]
        if strategy != "ad":  # the ad variant has no show_as_button
            connection["show_as_button"] = self._chance(0.7)
        if self._chance(0.4):
            connection["metadata"] = {"owner": self._pick(CONNECTION_OWNERS), "ticket": f"SEC-{self._token(HEX, 4)}"}
            if self._chance(0.3):
                connection["metadata"]["note"] = self._pick(TRICKY_NOTES)
        if self._chance(0.5):
            connection["authentication"] = {"active": True}
        if self._chance(0.3):
            connection["connected_accounts"] = {"active": self._chance(0.5)}
            if self._chance(0.5):
                connection["connected_accounts"]["cross_app_access"] = False
        connection["options"] = self._connection_options(strategy, domain)
        return connection

    def _connection_options(self, strategy: str, domain: str) -> Obj:
        """Options as the strategy has them (no secrets in any variant), with nested free-form maps."""
        client_id = self._token(ALNUM, 20)
        aliases = {"domain_aliases": [domain], "tenant_domain": domain}
        idp_initiated = {"enabled": self._chance(0.3), "client_id": self._pick(self.world.clients)["id"]}
        saml = {
            "signatureAlgorithm": "rsa-sha256",
            "digestAlgorithm": "sha256",
            "idpinitiated": {**idp_initiated, "client_protocol": "samlp"},
            "fieldsMap": {
                "email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                "groups": ["memberOf", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"],
            },
        }
        if strategy in ("samlp", "pingfederate", "adfs"):
            return {**self._saml_options(strategy, domain, saml), **aliases}
        if strategy == "oidc":
            return self._oidc_options(domain, client_id)
        if strategy in ("okta", "google-apps", "waad"):
            options = {**self._oauth_options(strategy, domain, client_id), **aliases}
            if strategy == "waad":
                options["tenant_domain"] = f"{domain.split('.')[0]}.onmicrosoft.com"
            return options
        # ad, and strategies outside the eight variants
        return {
            "ips": [f"203.0.113.{int(self._rng.random() * 200)}/30"],
            "certAuth": False,
            "kerberos": self._chance(0.3),
            "brute_force_protection": True,
            "set_user_root_attributes": "on_each_login",
            **aliases,
        }

    def _oidc_options(self, domain: str, client_id: str) -> Obj:
        issuer = f"https://sso.{domain}"
        return {
            "client_id": client_id,
            "type": self._pick(("back_channel", "front_channel")),
            "issuer": issuer,
            "discovery_url": f"{issuer}/.well-known/openid-configuration",
            "scope": self._pick(OIDC_SCOPES),
            "connection_settings": {"pkce": self._pick(PKCE)},
            "attribute_map": {"mapping_mode": "basic_profile", "userinfo_scope": "openid email profile"},
            "oidc_metadata": {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/oauth/token",
                "jwks_uri": f"{issuer}/.well-known/jwks.json",
            },
        }

    def _oauth_options(self, strategy: str, domain: str, client_id: str) -> Obj:
        """okta, google-apps, waad: an OAuth client at the identity provider."""
        if strategy == "okta":
            return {
                "client_id": client_id,
                "domain": f"{domain.split('.')[0]}.okta.com",
                "scope": self._pick(OIDC_SCOPES),
                "connection_settings": {"pkce": self._pick(PKCE)},
                "attribute_map": {"mapping_mode": "use_map", "attributes": {"nickname": "${context.tokenset.login}"}},
                "upstream_params": {"screen_hint": {"value": "login"}},
            }
        if strategy == "google-apps":
            return {
                "client_id": client_id,
                "domain": domain,
                "api_enable_users": True,
                "ext_groups": self._chance(0.5),
                "upstream_params": {"hd": {"value": domain}},
            }
        return {
            "client_id": client_id,
            "waad_protocol": "openid-connect",
            "identity_api": "microsoft-identity-platform-v2.0",
            "useCommonEndpoint": False,
            "app_domain": self._hostname,
            "ext_groups": self._chance(0.5),
        }

    @staticmethod
    def _saml_options(strategy: str, domain: str, saml: Obj) -> Obj:
        """samlp, pingfederate, adfs: a SAML or WS-Federation identity provider."""
        if strategy == "samlp":
            return {
                "signInEndpoint": f"https://idp.{domain}/saml/sso",
                "signOutEndpoint": f"https://idp.{domain}/saml/slo",
                "protocolBinding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
                "user_id_attribute": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
                "debug": False,
                **saml,
            }
        if strategy == "pingfederate":
            return {"pingFederateBaseUrl": f"https://pf.{domain}:9031", **saml}
        metadata_url = f"https://adfs.{domain}/FederationMetadata/2007-06/FederationMetadata.xml"
        return {"adfs_server": metadata_url, "fieldsMap": saml["fieldsMap"]}

    def _store_connection(self, connection: Obj) -> None:
        self.world.enterprise_connections[connection["id"]] = connection
        self.world.enterprise_connection_ids.add(connection["id"])
        self._strategies[connection["id"]] = connection["strategy"]

    def _some_enterprise_connection(self, forced: bool) -> str:
        w = self.world
        if w.enterprise_connection_ids:
            return w.enterprise_connection_ids.choice(self._rng)
        if not forced:
            raise _Skip
        connection = self._new_connection()
        self._store_connection(connection)
        self._unannounced("enterprise_connections", connection["id"])
        return connection["id"]

    def _op_connection_created(self, forced: bool) -> tuple[Obj, Obj | None]:
        connection = self._new_connection()
        self._store_connection(connection)
        return _clone(connection), None

    def _op_connection_updated(self, forced: bool) -> tuple[Obj, Obj | None]:
        con_id = self._some_enterprise_connection(forced)
        before = self.world.enterprise_connections[con_id]
        after = _clone(before)
        self._change_connection(after)
        self.world.enterprise_connections[con_id] = after
        return _clone(after), before  # `before` left the world

    def _change_connection(self, connection: Obj) -> None:
        """One real change, as an administrator makes it in the dashboard."""
        roll = self._rng.random()
        options = connection["options"]
        if roll < 0.25:
            connection["display_name"] = self._pick_other(CONNECTION_DISPLAY_NAMES, connection.get("display_name"))
        elif roll < 0.45:
            clients = connection.get("enabled_clients", [])
            client_id = self._pick(self.world.clients)["id"]
            if client_id in clients:
                connection["enabled_clients"] = [c for c in clients if c != client_id]
            else:
                connection["enabled_clients"] = [*clients, client_id]
        elif roll < 0.65 and "domain_aliases" in options:
            options["domain_aliases"] = [*options["domain_aliases"], f"{self._token(HEX, 6)}.example.org"]
        elif roll < 0.65:
            options["scope"] = self._pick_other(OIDC_SCOPES, options.get("scope"))
        elif roll < 0.8 and "show_as_button" in connection:
            connection["show_as_button"] = not connection["show_as_button"]
        elif roll < 0.9:
            metadata = connection.setdefault("metadata", {})
            ticket = metadata.get("ticket")
            while ticket == metadata.get("ticket"):
                ticket = f"SEC-{self._token(HEX, 4)}"
            metadata["ticket"] = ticket
        else:
            active = connection.get("authentication", {}).get("active", True)
            connection["authentication"] = {"active": not active}

    def _op_connection_deleted(self, forced: bool) -> tuple[Obj, Obj | None]:
        w = self.world
        con_id = self._some_enterprise_connection(forced)
        connection = w.enterprise_connections.pop(con_id)  # left the world: ours to hand out
        w.enterprise_connection_ids.discard(con_id)
        self._deleted_connection_names.append(connection["name"])
        previous = _clone(connection) if self._chance(0.5) else None
        return connection, previous

    # --- Test events and events of unknown types ---------------------------------------------------

    def _test_operation(self) -> tuple[str, Obj, Obj | None]:
        """A test event: a made-up user, created or updated, that never enters the world."""
        event_type = self._pick(self._test_types)
        user = self._new_user()
        if event_type == "user.created":
            return event_type, user, None
        user["created_at"] = user["updated_at"] = self._ago(30)
        before = _clone(user)
        self._change_user(user)
        user["updated_at"] = self._now
        return event_type, user, before

    def _unknown_object(self, event_type: str) -> Obj:
        """An arbitrary payload for a type this version does not know: nested, with odd text."""
        family = event_type.split(".", 1)[0]
        return {
            "id": f"{family[:3]}_{self._token(ALNUM, 16)}",
            "name": f"{family}-{self._token(HEX, 6)}",
            "description": self._pick(TRICKY_NOTES),
            "created_at": self._ago(10),
            "settings": {"enabled": self._chance(0.5), "level": int(self._rng.random() * 10), "tags": ["a", "b"]},
        }

    # --- Context ---------------------------------------------------------------------------------

    def _context(self, event_type: str) -> Obj:
        rng = self._rng
        tenant = {"id": self.tenant} if self._new_shape else {"tenant_id": self._tenant_id}
        context: Obj = {"tenant": tenant}
        if rng.random() < 0.85:
            client = self._pick(self.world.clients)
            context["client"] = {
                "id": client["id"],
                "name": client["name"],
                "metadata": dict(client["metadata"]),
            }
        if event_type.startswith("user.") and rng.random() < 0.3:
            context["connection"] = dict(self._pick(self._connections))
        if rng.random() < 0.8:
            context["request"] = self._request(event_type)
        return context

    def _request(self, event_type: str) -> Obj:
        rng = self._rng
        geo = self._pick(GEOS)
        if rng.random() < 0.2:
            geo_obj = {
                "continent_code": geo[0],
                "country_code": geo[1],
                "country_name": geo[2],
                "subdivision_code": geo[3],
                "subdivision_name": geo[4],
                "city_name": geo[5],
                "time_zone": geo[6],
                "latitude": geo[7],
                "longitude": geo[8],
            }
        else:
            geo_obj = {"country_code": geo[1], "city_name": geo[5]}
        request: Obj = {
            "geo": geo_obj,
            "hostname": self._hostname,
            "ip": f"{int(rng.random() * 223) + 1}.{int(rng.random() * 256)}.{int(rng.random() * 256)}."
            f"{int(rng.random() * 254) + 1}",
            "method": METHODS.get(event_type.rsplit(".", 1)[1], "POST"),
            "user_agent": self._pick(USER_AGENTS),
        }
        if rng.random() < 0.2:
            request["custom_domain"] = f"login.{self.tenant}.example.com"
        return request
