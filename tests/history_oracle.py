"""An oracle of the history models, in plain Python: from the events themselves, every version of
every entity and relation, the state at any instant, and the day-by-day counts.

It follows the rules the models document (docs/warehouse.md), written again here independently of
the SQL: test events (`a0purpose = 'test'`) out; an event delivered twice counts once; per key the
events are ordered by event_time, then the payload's updated_at (users; groups, where group.created
has only created_at; a missing one ranks first), then the life-cycle step (created / added /
assigned < updated < deleted / removed), then event_id; arrival order plays no part. Each event
that is not a deletion begins a version, valid over `[its time, the time of the key's next event)`;
a deletion ends the version before it and begins none.

Lives before the log: a key whose first event is not its creation existed before the log began; a
version from BEFORE_LOG to that event holds what its `previous_object` says (None when absent).
Cascade: a relation ends when its parent (a user, organization, group or connection: Family.parents) is deleted
at or after the relation's first event, after the relation's own events of that instant; after an
ending, a relation's update begins nothing (only a creation begins a new life).

Nothing here reads the warehouse: `check_*` functions take a `rows(sql)` callable and compare.
"""

from __future__ import annotations

import copy
import dataclasses
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from tap_auth0_events.emulator.generator import World

Rows = Callable[[str], list[tuple[Any, ...]]]
Obj = dict[str, Any]
ENDS = ("deleted", "removed")


def parse_time(value: str) -> datetime:
    """An event or object timestamp as the warehouse stores it: naive UTC."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc).replace(tzinfo=None)


def _path(obj: Obj, path: tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(name)  # type: ignore[assignment]
    return obj


def _user_updated_at(obj: Obj) -> str | None:
    return obj.get("updated_at")


def _group_updated_at(obj: Obj) -> str | None:
    return obj.get("updated_at") or obj.get("created_at")


@dataclass(frozen=True)
class Family:
    """One entity or relation: its event types, key, and the columns compared with the models."""

    name: str  # the history table is `<name>_history`, the current model `current_<name>`
    prefix: str  # event types `<prefix>.<step>`
    keys: tuple[tuple[str, tuple[str, ...]], ...]  # (column, path in the payload)
    # (column, the value it must hold for a version begun by this payload), compared at instants.
    attributes: tuple[tuple[str, Callable[[Obj], Any]], ...] = ()
    updated_at: Callable[[Obj], str | None] | None = None
    # Of those, the columns compared with the generator's world too (the same reading of what the
    # world holds: the entity's object, or an organization connection's settings).
    world_columns: tuple[str, ...] = ()
    # The entities whose deletion ends this relation: (family name, index of its id in the key).
    parents: tuple[tuple[str, int], ...] = ()

    @property
    def history(self) -> str:
        return f"{self.name}_history"

    @property
    def current(self) -> str:
        return f"current_{self.name}"

    @property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(column for column, _ in self.keys)


def _time_or_none(value: Any) -> datetime | None:
    return parse_time(value) if isinstance(value, str) else None


FAMILIES: tuple[Family, ...] = (
    Family(
        "users",
        "user",
        (("user_id", ("user_id",)),),
        (
            ("email", lambda o: o.get("email")),
            ("updated_at", lambda o: _time_or_none(o.get("updated_at"))),
            ("logins_count", lambda o: o.get("logins_count")),
        ),
        _user_updated_at,
        ("email", "updated_at"),
    ),
    Family(
        "organizations",
        "organization",
        (("organization_id", ("id",)),),
        (("name", lambda o: o.get("name")), ("display_name", lambda o: o.get("display_name"))),
        None,
        ("name", "display_name"),
    ),
    Family(
        "groups",
        "group",
        (("group_id", ("id",)),),
        (
            ("name", lambda o: o.get("name")),
            ("group_type", lambda o: o.get("type")),
            ("external_id", lambda o: o.get("external_id")),
        ),
        _group_updated_at,
        ("name", "group_type", "external_id"),
    ),
    Family(
        "connections",
        "connection",
        (("connection_id", ("id",)),),
        (
            ("name", lambda o: o.get("name")),
            ("strategy", lambda o: o.get("strategy")),
            ("display_name", lambda o: o.get("display_name")),
            ("show_as_button", lambda o: o.get("show_as_button")),
        ),
        None,
        ("name", "strategy", "display_name", "show_as_button"),
    ),
    Family(
        "organization_members",
        "organization.member",
        (("organization_id", ("organization", "id")), ("user_id", ("user", "user_id"))),
        parents=(("organizations", 0), ("users", 1)),
    ),
    Family(
        "organization_member_roles",
        "organization.member.role",
        (
            ("organization_id", ("organization", "id")),
            ("user_id", ("user", "user_id")),
            ("role_id", ("role", "id")),
        ),
        (("role_name", lambda o: _path(o, ("role", "name"))),),
        parents=(("organizations", 0), ("users", 1)),
    ),
    Family(
        "organization_connections",
        "organization.connection",
        (("organization_id", ("organization", "id")), ("connection_id", ("connection", "id"))),
        (
            ("assign_membership_on_login", lambda o: o.get("assign_membership_on_login")),
            ("show_as_button", lambda o: o.get("show_as_button")),
            ("is_signup_enabled", lambda o: o.get("is_signup_enabled")),
            ("is_enabled", lambda o: o.get("is_enabled")),
            ("organization_access_level", lambda o: o.get("organization_access_level")),
        ),
        None,
        # The older event shape leaves is_enabled and organization_access_level out: not compared.
        ("assign_membership_on_login",),
        parents=(("organizations", 0), ("connections", 1)),
    ),
    Family(
        "group_members",
        "group.member",
        (("group_id", ("group", "id")), ("member_id", ("member", "id"))),
        (("member_type", lambda o: _path(o, ("member", "member_type"))),),
        parents=(("groups", 0), ("users", 1), ("connections", 1)),
    ),
    Family(
        "group_roles",
        "group.role",
        (("group_id", ("group", "id")), ("role_id", ("role", "id"))),
        (("role_name", lambda o: _path(o, ("role", "name"))),),
        parents=(("groups", 0),),
    ),
    Family(
        "organization_group_roles",
        "organization.group.role",
        (
            ("organization_id", ("organization", "id")),
            ("group_id", ("group", "id")),
            ("role_id", ("role", "id")),
        ),
        (("role_name", lambda o: _path(o, ("role", "name"))),),
        parents=(("organizations", 0), ("groups", 1)),
    ),
)
FAMILY = {family.name: family for family in FAMILIES}
HISTORY_MODELS = tuple(family.history for family in FAMILIES)
DAILY_MODELS = ("daily_users", "daily_organization_members")
STEP = {"created": 1, "added": 1, "assigned": 1, "updated": 2, "deleted": 3, "removed": 3}
# The valid_from of a life that began before the log (the models' auth0_events_before_log()).
BEFORE_LOG = datetime(1, 1, 1)
CASCADE_STEP = 9  # a parent's deletion ranks after the relation's own events of the instant


def family_of(event_type: str) -> Family | None:
    prefix, _, step = event_type.rpartition(".")
    for family in FAMILIES:
        if family.prefix == prefix and step in STEP:
            return family
    return None


@dataclass(frozen=True)
class Version:
    key: tuple[str, ...]
    valid_from: datetime
    valid_to: datetime | None
    event_id: str
    event_type: str | None  # None: a life before the log
    payload: Obj | None = field(compare=False, hash=False)  # None: unknown (before the log)


@dataclass
class Change:
    """One event of a key, with what it makes true."""

    time: datetime
    order: tuple[Any, ...]
    event_id: str
    event_type: str | None
    exists: bool
    payload: Obj | None
    begins: bool = False  # a creation (or the start of a life before the log)
    previous: Obj | None = None


class Oracle:
    """The history of every family, from events as delivered (copies, test events, any order)."""

    def __init__(self, events: Iterable[Obj]) -> None:
        unique: dict[str, Obj] = {}
        for event in events:
            if event.get("a0purpose") == "test":
                continue
            unique.setdefault(event["id"], event)
        self.events = list(unique.values())
        self.changes: dict[str, dict[tuple[str, ...], list[Change]]] = {f.name: defaultdict(list) for f in FAMILIES}
        for event in self.events:
            family = family_of(event["type"])
            if family is None:
                continue
            payload = event["data"]["object"]
            key = tuple(_path(payload, path) for _, path in family.keys)
            assert all(isinstance(part, str) for part in key), (event["type"], key)
            moment = parse_time(event["time"])
            stamp = family.updated_at(payload) if family.updated_at else None
            updated = (0, datetime.min) if stamp is None else (1, parse_time(stamp))
            step = event["type"].rpartition(".")[2]
            order = (moment, updated, STEP[step], event["id"])
            exists = step not in ENDS
            change = Change(moment, order, event["id"], event["type"], exists, payload, STEP[step] == 1)
            change.previous = event["data"].get("previous_object")
            self.changes[family.name][key].append(change)
        for by_key in self.changes.values():
            for changes in by_key.values():
                changes.sort(key=lambda change: change.order)
        # The log's first instant, as the models read it (events of the families only).
        self.first_time = min(
            (change.time for by_key in self.changes.values() for changes in by_key.values() for change in changes),
            default=None,
        )
        self.steps = {family.name: self._steps(family) for family in FAMILIES}

    def _steps(self, family: Family) -> dict[tuple[str, ...], list[Change]]:
        """Per key its changes, with a life before the log and its parents' deletions."""
        endings: dict[str, dict[str, list[Change]]] = {}
        for parent, _ in family.parents:
            endings[parent] = defaultdict(list)
            for (parent_id,), changes in self.changes[parent].items():
                endings[parent][parent_id] = [change for change in changes if not change.exists]
        steps = {}
        for key, changes in self.changes[family.name].items():
            first = changes[0]
            found = list(changes)
            if not first.begins:
                before = Change(BEFORE_LOG, (BEFORE_LOG,), first.event_id, None, True, first.previous, True)
                found.insert(0, before)
            for parent, index in family.parents:
                for ending in endings[parent].get(key[index], []):
                    if ending.time >= first.time:
                        order = (ending.time, (0, datetime.min), CASCADE_STEP, ending.event_id)
                        found.append(Change(ending.time, order, ending.event_id, ending.event_type, False, None))
            found.sort(key=lambda change: change.order)
            steps[key] = found
        return steps

    @property
    def newest_time(self) -> datetime:
        return max(parse_time(event["time"]) for event in self.events)

    def versions(self, name: str) -> list[Version]:
        """Every version of the family, in key and time order (an empty one, [t, t), left out).

        A member's role counts only while the user is a member of the organization (as in
        current_organization_member_roles): its versions are cut to the membership's lives."""
        found = self._own_versions(name)
        if name != "organization_member_roles":
            return found
        lives = self._lives("organization_members")
        held = []
        for version in found:
            for start, end in lives.get(version.key[:2], []):
                valid_from = max(version.valid_from, start)
                ends = [moment for moment in (version.valid_to, end) if moment is not None]
                valid_to = min(ends) if ends else None
                if valid_to is None or valid_to > valid_from:
                    held.append(dataclasses.replace(version, valid_from=valid_from, valid_to=valid_to))
        return held

    def _own_versions(self, name: str) -> list[Version]:
        found = []
        relation = bool(FAMILY[name].parents)
        for key, changes in sorted(self.steps[name].items()):
            alive = True
            for this, after in zip(changes, [*changes[1:], None], strict=True):
                if not this.exists:
                    alive = False
                    continue
                if this.begins:
                    alive = True
                elif relation and not alive:
                    continue  # an update of a relation that no longer exists
                valid_to = None if after is None else after.time
                if valid_to is not None and valid_to <= this.time:
                    continue  # overtaken at the same instant: in effect at no instant
                found.append(Version(key, this.time, valid_to, this.event_id, this.event_type, this.payload))
        return found

    def _lives(self, name: str) -> dict[tuple[str, ...], list[tuple[datetime, datetime | None]]]:
        """Per key, its versions joined where one begins as the one before ends."""
        lives: dict[tuple[str, ...], list[tuple[datetime, datetime | None]]] = defaultdict(list)
        for version in self._own_versions(name):
            spans = lives[version.key]
            if spans and spans[-1][1] == version.valid_from:
                spans[-1] = (spans[-1][0], version.valid_to)
            else:
                spans.append((version.valid_from, version.valid_to))
        return lives

    def state_at(self, name: str, moment: datetime) -> dict[tuple[str, ...], Obj]:
        """What exists at `moment` (events at or before it applied): key -> the payload in effect
        ({} where unknown: a life before the log whose first event has no previous_object)."""
        return {
            version.key: version.payload or {}
            for version in self.versions(name)
            if version.valid_from <= moment and (version.valid_to is None or moment < version.valid_to)
        }

    def transitions_on(self, name: str, day: date) -> tuple[int, int]:
        """How many lives of keys (runs of versions, each beginning as the one before ends) began,
        and ended, during `day` (UTC). Something created and deleted within one instant has no
        version, hence no life."""
        return self.transitions_by_key(name, day)[None]

    def transitions_by_key(self, name: str, day: date, width: int = 0) -> dict[Any, tuple[int, int]]:
        """The same per the first `width` key columns (None: all together)."""
        counts: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
        counts[None] = [0, 0]  # all keys together
        for key, spans in self._lives(name).items():
            for group in {key[:width] if width else None, None}:
                for start, end in spans:
                    counts[group][0] += start != BEFORE_LOG and start.date() == day  # began on no day
                    counts[group][1] += end is not None and end.date() == day
        return {group: (began, ended) for group, (began, ended) in counts.items()}

    def first_day(self, name: str, width: int) -> dict[tuple[str, ...], date]:
        """Per the first `width` key columns, the day its first life began (a life before the log:
        the log's first day)."""
        first: dict[tuple[str, ...], date] = {}
        for key, spans in self._lives(name).items():
            start = spans[0][0]
            assert self.first_time is not None
            day = self.first_time.date() if start == BEFORE_LOG else start.date()
            first[key[:width]] = min(first.get(key[:width], day), day)
        return first


# -- the world as the generator knew it ------------------------------------------------------------


@dataclass
class Snapshot:
    """The generator's world at an instant (a copy taken while the events were being made)."""

    moment: datetime
    state: dict[str, dict[tuple[str, ...], Any]]


def snapshot(world: World, moment: datetime) -> Snapshot:
    state: dict[str, dict[tuple[str, ...], Any]] = {
        "users": {(key,): value for key, value in world.users.items()},
        "organizations": {(key,): value for key, value in world.organizations.items()},
        "groups": {(key,): value for key, value in world.groups.items()},
        "connections": {(key,): value for key, value in world.enterprise_connections.items()},
        "organization_connections": dict(world.organization_connections.items()),
        "organization_members": {key: None for key in world.organization_members},
        # A role counts while the user is a member (the world keeps the roles of removed members).
        "organization_member_roles": {key: None for key in world.member_roles if key[:2] in world.organization_members},
        "group_members": {key: None for key in world.group_members},
        "group_roles": {key: None for key in world.group_roles},
        "organization_group_roles": {key: None for key in world.organization_group_roles},
    }
    return Snapshot(moment, copy.deepcopy(state))


def seen(oracle: Oracle, family: Family, key: tuple[str, ...]) -> bool:
    """Whether the log can tell of the key: it has events (a member's role: its membership too)."""
    if key not in oracle.changes[family.name]:
        return False
    return family.name != "organization_member_roles" or key[:2] in oracle.changes["organization_members"]


def check_oracle_against_world(oracle: Oracle, shot: Snapshot, *, log_began_later: bool = False) -> None:
    """The oracle's state at the snapshot's instant is the world's then (keys, and attributes).

    `log_began_later`: the world existed before the log; what no event tells of is left out, and
    attributes the log cannot know (a life before the log without previous_object) are not compared."""
    for family in FAMILIES:
        state = oracle.state_at(family.name, shot.moment)
        world = shot.state[family.name]
        if log_began_later:
            world = {key: value for key, value in world.items() if seen(oracle, family, key)}
        assert set(state) == set(world), (
            f"oracle vs world at {shot.moment}, {family.name}: {sorted(set(state) - set(world))[:3]} extra, "
            f"{sorted(set(world) - set(state))[:3]} missing"
        )
        read = dict(family.attributes)
        for column in family.world_columns:
            for key, value in world.items():
                if log_began_later and not state[key]:
                    continue  # unknown before the log
                assert read[column](state[key]) == read[column](value), (family.name, key, column)


# -- the models against the oracle and the world ---------------------------------------------------


def sql_time(moment: datetime) -> str:
    return f"timestamp '{moment.isoformat(sep=' ', timespec='microseconds')}'"


def columns_of(rows: Rows, schema: str, table: str) -> list[str]:
    found = rows(
        "select column_name from information_schema.columns "
        f"where table_schema = '{schema}' and table_name = '{table}' order by ordinal_position"
    )
    return [name for (name,) in found]


def compared_attributes(rows: Rows, schema: str, family: Family) -> list[str]:
    """The family's compared columns that its current model has; its history must have them too."""
    current = set(columns_of(rows, schema, family.current))
    history = set(columns_of(rows, schema, family.history))
    assert current, f"{family.current} does not exist in {schema}"
    assert history, f"{family.history} does not exist in {schema}"
    assert set(family.key_columns) <= history, f"{family.history}: key columns {family.key_columns}"
    assert {"valid_from", "valid_to", "event_id", "event_type"} <= history, f"{family.history}: interval columns"
    wanted = [column for column, _ in family.attributes if column in current]
    missing = [column for column in wanted if column not in history]
    assert not missing, f"{family.history} lacks the current model's columns {missing}"
    return wanted


def model_state_at(
    rows: Rows, schema: str, family: Family, columns: list[str], moment: datetime
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """The history table through the documented point-in-time filter: key -> compared columns."""
    selected = ", ".join([*family.key_columns, *columns])
    found = rows(
        f"select {selected} from {schema}.{family.history} "
        f"where valid_from <= {sql_time(moment)} and (valid_to is null or valid_to > {sql_time(moment)})"
    )
    width = len(family.key_columns)
    state = {tuple(row[:width]): tuple(row[width:]) for row in found}
    assert len(state) == len(found), f"{family.history} at {moment}: a key has two versions in effect"
    return state


def _diff(label: str, got: dict[Any, Any], want: dict[Any, Any]) -> str:
    extra = sorted(set(got) - set(want))[:3]
    missing = sorted(set(want) - set(got))[:3]
    wrong = sorted(key for key in set(got) & set(want) if got[key] != want[key])[:3]
    lines = [f"{label}: {len(got)} rows, expected {len(want)}"]
    lines += [f"  should not be there: {key} {got[key]}" for key in extra]
    lines += [f"  missing: {key} {want[key]}" for key in missing]
    lines += [f"  {key}: model {got[key]}, expected {want[key]}" for key in wrong]
    return "\n".join(lines)


def check_versions(rows: Rows, schema: str, oracle: Oracle, when: str) -> int:
    """Every history table holds exactly the oracle's versions (those in effect at some instant)."""
    checked = 0
    for family in FAMILIES:
        keys = ", ".join(family.key_columns)
        found = rows(
            f"select {keys}, valid_from, valid_to, event_id, event_type from {schema}.{family.history} "
            "where valid_to is null or valid_to > valid_from"
        )
        width = len(family.key_columns)
        got = {(*row[:width], row[width]): tuple(row[width + 1 :]) for row in found}
        assert len(got) == len(found), f"{when}: {family.history} has two versions of a key from one instant"
        want = {
            (*version.key, version.valid_from): (version.valid_to, version.event_id, version.event_type)
            for version in oracle.versions(family.name)
        }
        assert got == want, _diff(f"{when}: {family.history} against the oracle's versions", got, want)
        checked += len(want)
    return checked


def check_history_at(rows: Rows, schema: str, oracle: Oracle, moments: Iterable[datetime], when: str) -> int:
    """The point-in-time filter on every history table gives the oracle's state at each instant."""
    compared = {family.name: compared_attributes(rows, schema, family) for family in FAMILIES}
    checked = 0
    for moment in moments:
        for family in FAMILIES:
            columns = compared[family.name]
            got = model_state_at(rows, schema, family, columns, moment)
            attributes = dict(family.attributes)
            want = {
                key: tuple(attributes[column](payload) for column in columns)
                for key, payload in oracle.state_at(family.name, moment).items()
            }
            assert got == want, _diff(f"{when}: {family.history} at {moment}", got, want)
            checked += len(want)
    return checked


def check_history_against_world(rows: Rows, schema: str, shots: Iterable[Snapshot], when: str) -> int:
    """The point-in-time filter at the instant of each world snapshot gives what the world held."""
    compared = {family.name: compared_attributes(rows, schema, family) for family in FAMILIES}
    checked = 0
    for shot in shots:
        for family in FAMILIES:
            by_column = dict(family.attributes)
            columns = [column for column in compared[family.name] if column in family.world_columns]
            got = model_state_at(rows, schema, family, columns, shot.moment)
            want = {
                key: tuple(by_column[column](value) for column in columns)
                for key, value in shot.state[family.name].items()
            }
            assert got == want, _diff(f"{when}: {family.history} at {shot.moment} against the world", got, want)
            checked += len(want)
    return checked


def instants(rng: random.Random, events: list[dict[str, Any]], count: int) -> list[datetime]:
    """Random instants over the events' span: some exactly at an event's time (where one version
    ends and the next begins), some a millisecond before one, some anywhere."""
    times = sorted({parse_time(event["time"]) for event in events})
    chosen = []
    for _ in range(count):
        kind = rng.randrange(3)
        if kind == 0:
            chosen.append(rng.choice(times))
        elif kind == 1:
            chosen.append(rng.choice(times) - timedelta(milliseconds=1))
        else:
            chosen.append(times[0] + (times[-1] - times[0]) * rng.random())
    return chosen


def day_end(day: date) -> datetime:
    """The last instant of a UTC day the warehouse can tell apart (its timestamps have microseconds)."""
    return datetime.combine(day + timedelta(days=1), time()) - timedelta(microseconds=1)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def _as_date(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def check_daily(rows: Rows, schema: str, oracle: Oracle, when: str) -> int:
    """daily_users and daily_organization_members: a row per day, no gaps, up to the newest event's
    day, each row the oracle's counts at the end of that day. Returns the days checked."""
    found = rows(f"select date_day, users, created, deleted from {schema}.daily_users")
    users = {_as_date(row[0]): tuple(row[1:]) for row in found}
    assert len(users) == len(found), f"{when}: daily_users has a day twice"
    assert users, f"{when}: daily_users is empty"
    first_day, last_day = min(users), max(users)
    assert sorted(users) == _days(first_day, last_day), f"{when}: daily_users skips days"
    newest = oracle.newest_time.date()
    assert last_day == newest, f"{when}: daily_users ends on {last_day}, the newest event is of {newest}"
    first_event = min(parse_time(event["time"]) for event in oracle.events).date()
    assert first_day <= min(c.time for cs in oracle.changes["users"].values() for c in cs).date(), when
    assert first_day >= first_event, f"{when}: daily_users starts on {first_day}, before the first event"
    assert oracle.first_time is not None and first_day == oracle.first_time.date(), f"{when}: the log's first day"
    want = {}
    for day in _days(first_day, last_day):
        created, deleted = oracle.transitions_on("users", day)
        want[day] = (len(oracle.state_at("users", day_end(day))), created, deleted)
    assert users == want, _diff(f"{when}: daily_users", users, want)

    found = rows(f"select date_day, organization_id, members, added, removed from {schema}.daily_organization_members")
    members = {(_as_date(row[0]), row[1]): tuple(row[2:]) for row in found}
    assert len(members) == len(found), f"{when}: daily_organization_members has a (day, organization) twice"
    member_days = sorted({day for day, _ in members})
    assert member_days, f"{when}: daily_organization_members is empty"
    assert member_days == _days(member_days[0], member_days[-1]), f"{when}: daily_organization_members skips days"
    assert member_days[-1] == newest, f"{when}: daily_organization_members ends on {member_days[-1]}, not {newest}"
    expected: dict[tuple[date, str], tuple[int, int, int]] = {}
    for day in member_days:
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for org_id, _ in oracle.state_at("organization_members", day_end(day)):
            counts[org_id][0] += 1
        for group, (added, removed) in oracle.transitions_by_key("organization_members", day, 1).items():
            if group is not None and (added or removed):
                counts[group[0]][1] += added
                counts[group[0]][2] += removed
        expected.update({(day, org_id): (v[0], v[1], v[2]) for org_id, v in counts.items()})
    # A (day, organization) with no member and no change may or may not have its row (zeros)...
    shown = {key: value for key, value in members.items() if value != (0, 0, 0) or key in expected}
    assert shown == expected, _diff(f"{when}: daily_organization_members", shown, expected)
    # ... but every organization has its row on every day from its first membership's on.
    for (org_id,), first in oracle.first_day("organization_members", 1).items():
        gaps = [day for day in _days(max(first, member_days[0]), newest) if (day, org_id) not in members]
        assert not gaps, f"{when}: daily_organization_members has no row for {org_id} on {gaps[:3]}"
    return len(users)


def check_history_equals_current(rows: Rows, schema: str) -> int:
    """The versions in effect (valid_to null) are the current model, row for row: every column
    the two share (applied_at aside), the version's event_id / event_type as last_event_id / type."""
    checked = 0
    for family in FAMILIES:
        current = [c for c in columns_of(rows, schema, family.current) if c != "applied_at"]
        history = set(columns_of(rows, schema, family.history))
        shared = [c for c in current if c in history]
        pairs = [(c, c) for c in shared]
        for current_name, history_name in (("last_event_id", "event_id"), ("last_event_type", "event_type")):
            if current_name in current and current_name not in history:
                pairs.append((current_name, history_name))
        assert set(family.key_columns) <= set(shared), f"{family.history}: keys differ from {family.current}"
        left = _sortable(rows(f"select {', '.join(c for c, _ in pairs)} from {schema}.{family.current}"))
        right = _sortable(
            rows(f"select {', '.join(h for _, h in pairs)} from {schema}.{family.history} where valid_to is null")
        )
        width = len(family.key_columns)
        got = {row[:width]: row for row in right}
        want = {row[:width]: row for row in left}
        assert len(got) == len(right), f"{family.history}: a key has two versions in effect"
        assert got == want, _diff(
            f"{family.history} in effect vs {family.current} (columns {[h for _, h in pairs]})", got, want
        )
        checked += len(want)
    return checked


def _sortable(found: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """JSON columns come back as text (DuckDB) or parsed (psycopg): compare them parsed, as text."""
    import json

    def norm(value: Any) -> Any:
        if isinstance(value, dict | list):
            return json.dumps(value, sort_keys=True)
        if isinstance(value, str) and value[:1] in "{[":
            try:
                return json.dumps(json.loads(value), sort_keys=True)
            except ValueError:
                return value
        return value

    return [tuple(norm(value) for value in row) for row in found]
