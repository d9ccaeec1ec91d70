"""The tenant before its events, and the Management API v2 read endpoints over it.

`PreLog` is the world that existed before the tenant enabled Events: users, organizations, their
members (with direct roles), their enabled connections, groups, group members, group roles and
organization group roles, none ever announced by an event. It holds no tables: every entity is
derived on demand, deterministically, from (seed, kind, index), so a tenant of 1,000,000 users and
16,000 organizations costs nothing to start. Pre-log ids sort in index order (a fixed-width,
order-preserving prefix), so a checkpoint page is found by bisecting the index range.

Events touch pre-log entities too: on its first event a pre-log user, organization or group is
adopted by the generator's `World` (copied in, with its relations), which from then on says all
about it.

`Tenant` answers what the Management API lists at this instant: the untouched pre-log world plus
the `World` (the events' effect), with Auth0's silent cascade applied on read by `World.listed`
(the one rule, which the generator's choices use too): a deleted user's memberships, member roles
and group memberships, a deleted organization's members, member roles, connections and group
roles, and a deleted group's members and roles are no longer listed. The fixed tenant set-up
(database, social and passwordless connections, roles) and a few enterprise connections are
pre-log too.
"""

from __future__ import annotations

import base64
import collections
import gzip
import hashlib
import hmac
import json
import math
import random
import secrets
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tap_auth0_events.emulator.generator import (
    EMAIL_DOMAINS,
    GROUP_NAMES,
    LOCALES,
    ORG_NAMES,
    PEOPLE,
    PLANS,
    REGIONS,
    THEMES,
    TIERS,
    World,
)

Obj = dict[str, Any]
_ORDERED62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # ASCII order
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_HEX = "0123456789abcdef"
# The pre-log world is older than any event: it was made over the year before this moment.
PRE_LOG_END = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _ordered(index: int, width: int) -> str:
    digits = []
    for _ in range(width):
        index, rest = divmod(index, 62)
        digits.append(_ORDERED62[rest])
    return "".join(reversed(digits))


def _stamp(rng: random.Random) -> str:
    moment = PRE_LOG_END - timedelta(seconds=rng.random() * 365 * 86400)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class ExportSnapshot:
    """The users when an export job was created: the World's, and the pre-log ids it had taken over."""

    users: dict[str, Obj]
    adopted_users: frozenset[str]


class PreLog:
    """The world before the first event, derived lazily from (seed, index); see the module docstring."""

    def __init__(
        self,
        seed: int,
        users: int,
        organizations: int,
        groups: int,
        members_per_organization: int,
        connection_ids: list[str],
        roles: dict[str, str],
    ) -> None:
        self.seed = seed
        self.users = users
        self.organizations = organizations
        self.groups = groups
        self.members_per_organization = members_per_organization if users else 0
        self.connection_ids = sorted(connection_ids)
        self.role_ids = sorted(roles)
        self.roles = roles
        self._groups_by_organization: dict[str, list[int]] | None = None

    def _rng(self, *key: object) -> random.Random:
        return random.Random(":".join(str(part) for part in (self.seed, *key)))

    # -- ids (sorted as their index) -------------------------------------------------------------

    def user_id(self, index: int) -> str:
        return f"auth0|{index:08x}" + "".join(self._rng("u", index).choices(_HEX, k=16))

    def organization_id(self, index: int) -> str:
        return "org_" + _ordered(index, 4) + "".join(self._rng("o", index).choices(_ALNUM, k=12))

    def group_id(self, index: int) -> str:
        return "grp_" + _ordered(index, 4) + "".join(self._rng("g", index).choices(_ALNUM, k=14))

    @staticmethod
    def index_after(count: int, id_of: Callable[[int], str], cursor: str | None) -> int:
        """The first index whose id sorts after `cursor` (0 without a cursor)."""
        if cursor is None:
            return 0
        return bisect_right(range(count), cursor, key=id_of)

    def index_of(self, kind: str, entity_id: str) -> int | None:
        """The index of a pre-log id (None if it is none): read from its prefix, checked whole."""
        count, id_of, prefix, width, digits = {
            "user": (self.users, self.user_id, "auth0|", 8, _HEX),
            "organization": (self.organizations, self.organization_id, "org_", 4, _ORDERED62),
            "group": (self.groups, self.group_id, "grp_", 4, _ORDERED62),
        }[kind]
        head = entity_id[len(prefix) : len(prefix) + width]
        if not entity_id.startswith(prefix) or len(head) < width or not all(c in digits for c in head):
            return None
        index = 0
        for character in head:
            index = index * len(digits) + digits.index(character)
        return index if index < count and id_of(index) == entity_id else None

    # -- entities ----------------------------------------------------------------------------------

    def user(self, index: int) -> Obj:
        rng = self._rng("user", index)
        given, family, display, slug = rng.choice(PEOPLE)
        handle = f"{slug}{index}"
        email = f"{handle}@{rng.choice(EMAIL_DOMAINS)}"
        user_id = self.user_id(index)
        created = _stamp(rng)
        return {
            "user_id": user_id,
            "email": email,
            "email_verified": rng.random() < 0.7,
            "username": handle.replace(".", "_"),
            "created_at": created,
            "updated_at": created,
            "identities": [
                {
                    "connection": "Username-Password-Authentication",
                    "provider": "auth0",
                    "user_id": user_id.split("|", 1)[1],
                    "isSocial": False,
                }
            ],
            "app_metadata": {"plan": rng.choice(PLANS), "roles": ["member"]},
            "user_metadata": {"locale": rng.choice(LOCALES), "theme": rng.choice(THEMES)},
            "picture": f"https://s.gravatar.com/avatar/{index:032x}?s=480&r=pg&d=identicon",
            "name": display,
            "nickname": slug.split(".")[0],
            "given_name": given,
            "family_name": family,
            "logins_count": int(rng.random() * 200),
        }

    def organization(self, index: int) -> Obj:
        rng = self._rng("organization", index)
        slug, display = rng.choice(ORG_NAMES)
        return {
            "id": self.organization_id(index),
            "name": f"{slug}-{index:x}",
            "display_name": display,
            "metadata": {"region": rng.choice(REGIONS), "tier": rng.choice(TIERS)},
        }

    def group(self, index: int) -> Obj:
        rng = self._rng("group", index)
        created = _stamp(rng)
        group: Obj = {"id": self.group_id(index), "name": rng.choice(GROUP_NAMES)}
        if self.organizations and index % 2 == 0:
            group["type"] = "organization"
            group["organization_id"] = self.organization_id(int(rng.random() * self.organizations))
        else:
            group["type"] = "tenant"
        group["created_at"] = created
        group["updated_at"] = created
        return group

    def organization_group_indexes(self, org_id: str) -> list[int]:
        """The indexes of the pre-log groups of organization `org_id` (every group derived once, on
        the first call: a call per organization must not derive every group again)."""
        if self._groups_by_organization is None:
            by_organization: dict[str, list[int]] = {}
            for index in range(self.groups) if self.organizations else ():
                owner = self.group(index).get("organization_id")
                if owner is not None:
                    by_organization.setdefault(owner, []).append(index)
            self._groups_by_organization = by_organization
        return self._groups_by_organization.get(org_id, [])

    def member_indexes(self, organization: int) -> list[int]:
        rng = self._rng("members", organization)
        count = min(self.users, int(rng.random() * 2 * self.members_per_organization + 0.5))
        return sorted(rng.sample(range(self.users), count))

    def member_role_ids(self, organization: int, user: int) -> list[str]:
        rng = self._rng("member_roles", organization, user)
        return sorted(rng.sample(self.role_ids, min(len(self.role_ids), int(rng.random() * 3))))

    def organization_connections(self, organization: int) -> dict[str, Obj]:
        rng = self._rng("org_connections", organization)
        if not self.connection_ids:
            return {}
        chosen = rng.sample(self.connection_ids, min(len(self.connection_ids), 1 + int(rng.random() * 3)))
        return {
            con_id: {"assign_membership_on_login": rng.random() < 0.5, "show_as_button": rng.random() < 0.8}
            for con_id in sorted(chosen)
        }

    def group_member_indexes(self, group: int) -> list[int]:
        rng = self._rng("group_members", group)
        return sorted(rng.sample(range(self.users), min(self.users, int(rng.random() * 12))))

    def group_role_ids(self, group: int) -> list[str]:
        rng = self._rng("group_roles", group)
        return sorted(rng.sample(self.role_ids, min(len(self.role_ids), int(rng.random() * 3))))

    def organization_group_role_ids(self, group: int) -> list[str]:
        rng = self._rng("org_group_roles", group)
        return sorted(rng.sample(self.role_ids, min(len(self.role_ids), int(rng.random() * 3))))


class Tenant:
    """What the Management API lists now: `PreLog` plus the events' `World`, cascade applied on read.

    A pre-log entity the events have touched lives in the World (`World.adopted`): the World then
    says all about it and its relations. Existence and the cascade are the World's (`has_user`,
    `listed`, ...): one rule for the generator's choices and for these answers.
    Callers hold the emulator's lock while using it (the World changes as events are appended).
    """

    def __init__(self, prelog: PreLog, world: World) -> None:
        self.prelog = prelog
        self.world = world

    # -- existence -------------------------------------------------------------------------------

    def has_organization(self, org_id: str) -> bool:
        return self.world.has_organization(org_id)

    def has_group(self, group_id: str) -> bool:
        return self.world.has_group(group_id)

    def _untouched(self, kind: str, entity_id: str) -> int | None:
        """The pre-log index of an entity no event has touched (None: touched, or not pre-log)."""
        if entity_id in self.world.adopted:
            return None
        return self.prelog.index_of(kind, entity_id)

    def connection(self, con_id: str) -> Obj | None:
        return self.world.connections.get(con_id) or self.world.enterprise_connections.get(con_id)

    # -- tables, as sorted (id, item) pages ------------------------------------------------------

    def page(self, kind: str, cursor: str | None, take: int) -> tuple[list[Obj], bool]:
        """A checkpoint page of a top-level table after `cursor`: (items, more)."""
        count, id_of, make, extra = {
            "organizations": (
                self.prelog.organizations,
                self.prelog.organization_id,
                self.prelog.organization,
                self.world.organizations,
            ),
            "groups": (self.prelog.groups, self.prelog.group_id, self.prelog.group, self.world.groups),
            "users": (self.prelog.users, self.prelog.user_id, self.prelog.user, self.world.users),
        }[kind]
        adopted = self.world.adopted
        candidates: list[tuple[str, int]] = []
        index = PreLog.index_after(count, id_of, cursor)
        while index < count and len(candidates) <= take:
            entity_id = id_of(index)
            if entity_id not in adopted:  # a touched one is in `extra` (or deleted)
                candidates.append((entity_id, index))
            index += 1
        later = sorted(key for key in extra if cursor is None or key > cursor)[: take + 1]
        merged = sorted(candidates + [(key, -1) for key in later])[: take + 1]
        items = [make(i) if i >= 0 else dict(extra[key]) for key, i in merged[:take]]
        return items, len(merged) > take

    def connections(self) -> list[Obj]:
        everything = {**self.world.connections, **self.world.enterprise_connections}
        return [_connection(everything[key]) for key in sorted(everything)]

    def roles(self) -> list[Obj]:
        return [{"id": key, "name": name, "description": name} for key, name in sorted(self.world.roles.items())]

    def _roles(self, role_ids: Iterable[str]) -> list[Obj]:
        roles = self.world.roles
        return [{"id": r, "name": roles[r]} for r in sorted(set(role_ids)) if r in roles]

    def members(self, org_id: str, with_roles: bool) -> list[Obj]:
        prelog, world = self.prelog, self.world
        rows: dict[str, Obj] = {}
        index = self._untouched("organization", org_id)
        if index is not None:
            for user_index in prelog.member_indexes(index):
                user = world.user(prelog.user_id(user_index))
                if user is None:
                    continue  # deleted: the cascade took the membership
                row = _member(user)
                if with_roles:
                    row["roles"] = self._roles(prelog.member_role_ids(index, user_index))
                rows[user["user_id"]] = row
            return [rows[key] for key in sorted(rows)]
        for key in world.organization_members:
            if key[0] == org_id and world.listed("organization_members", key):
                user = world.user(key[1])
                assert user is not None
                row = _member(user)
                if with_roles:
                    row["roles"] = self._roles(r for o, u, r in world.member_roles if (o, u) == key)
                rows[key[1]] = row
        return [rows[key] for key in sorted(rows)]

    def enabled_connections(self, org_id: str) -> list[Obj]:
        world = self.world
        index = self._untouched("organization", org_id)
        if index is not None:
            settings = self.prelog.organization_connections(index)
        else:
            settings = {
                con_id: value
                for (key_org, con_id), value in world.organization_connections.items()
                if key_org == org_id
            }
        rows = []
        for con_id in sorted(settings):
            connection = self.connection(con_id)
            if connection is None:  # a deleted connection is no longer enabled anywhere
                continue
            value = settings[con_id]
            rows.append(
                {
                    "connection_id": con_id,
                    "assign_membership_on_login": bool(value.get("assign_membership_on_login", False)),
                    "show_as_button": bool(value.get("show_as_button", True)),
                    "is_signup_enabled": bool(value.get("is_signup_enabled", False)),
                    "connection": {"name": connection["name"], "strategy": connection["strategy"]},
                }
            )
        return rows

    def organization_groups(self, org_id: str) -> list[Obj]:
        rows = {}
        prelog, adopted = self.prelog, self.world.adopted
        for index in prelog.organization_group_indexes(org_id):
            group = prelog.group(index)
            if group["id"] not in adopted:
                rows[group["id"]] = group
        for group in self.world.groups.values():
            if group.get("organization_id") == org_id:
                rows[group["id"]] = dict(group)
        return [rows[key] for key in sorted(rows)]

    def organization_group_roles(self, org_id: str, group_id: str) -> list[Obj]:
        prelog, world = self.prelog, self.world
        index = self._untouched("group", group_id)
        if index is not None:
            if prelog.group(index).get("organization_id") != org_id:
                return []
            return self._roles(prelog.organization_group_role_ids(index))
        return self._roles(
            r
            for o, g, r in world.organization_group_roles
            if (o, g) == (org_id, group_id) and world.has_organization(o)
        )

    def group_members(self, group_id: str) -> list[Obj]:
        prelog, world = self.prelog, self.world
        rows: dict[str, Obj] = {}
        index = self._untouched("group", group_id)
        if index is not None:
            created = prelog.group(index)["created_at"]
            for user_index in prelog.group_member_indexes(index):
                user_id = prelog.user_id(user_index)
                if world.has_user(user_id):
                    rows[user_id] = {"id": user_id, "member_type": "user", "type": "user", "created_at": created}
            return [rows[key] for key in sorted(rows)]
        for key in world.group_members:
            if key[0] != group_id or not world.listed("group_members", key):
                continue
            kind = "user" if world.has_user(key[1]) else "connection"
            rows[key[1]] = {"id": key[1], "member_type": kind, "type": kind}
            if key in world.group_members_since:
                rows[key[1]]["created_at"] = world.group_members_since[key]
        return [rows[key] for key in sorted(rows)]

    def group_roles(self, group_id: str) -> list[Obj]:
        index = self._untouched("group", group_id)
        if index is not None:
            return self._roles(self.prelog.group_role_ids(index))
        return self._roles(r for g, r in self.world.group_roles if g == group_id)

    # -- the users export ------------------------------------------------------------------------

    def export_snapshot(self) -> ExportSnapshot:
        """The users as they are now: the World's (copied) and which pre-log ones it has taken over."""
        world = self.world
        return ExportSnapshot(
            {key: dict(value) for key, value in world.users.items()},
            frozenset(key for key in world.adopted if self.prelog.index_of("user", key) is not None),
        )

    def export_lines(self, snapshot: ExportSnapshot, fields: list[str] | None) -> Iterator[bytes]:
        """One JSON line per user (requested fields only): untouched pre-log users first, lazily."""
        import orjson

        def line(user: Obj) -> bytes:
            row = user if not fields else {name: user[name] for name in fields if name in user}
            return orjson.dumps(row) + b"\n"

        for index in range(self.prelog.users):
            if not snapshot.adopted_users or self.prelog.user_id(index) not in snapshot.adopted_users:
                yield line(self.prelog.user(index))
        for key in sorted(snapshot.users):
            yield line(snapshot.users[key])

    def export_total(self, snapshot: ExportSnapshot) -> int:
        return self.prelog.users - len(snapshot.adopted_users) + len(snapshot.users)

    def tables(self) -> dict[str, Any]:
        """Everything listed now, materialised (for tests and small worlds)."""
        organizations: list[Obj] = []
        cursor = None
        while True:
            items, more = self.page("organizations", cursor, 100)
            organizations.extend(items)
            if not more or not items:
                break
            cursor = items[-1]["id"]
        groups: list[Obj] = []
        cursor = None
        while True:
            items, more = self.page("groups", cursor, 100)
            groups.extend(items)
            if not more or not items:
                break
            cursor = items[-1]["id"]
        users = [orjson_loads(raw) for raw in self.export_lines(self.export_snapshot(), None)]
        return {
            "users": sorted(users, key=lambda user: user["user_id"]),
            "organizations": organizations,
            "organization_members": {o["id"]: self.members(o["id"], True) for o in organizations},
            "organization_connections": {o["id"]: self.enabled_connections(o["id"]) for o in organizations},
            "organization_groups": {o["id"]: self.organization_groups(o["id"]) for o in organizations},
            "organization_group_roles": {
                (o["id"], g["id"]): self.organization_group_roles(o["id"], g["id"])
                for o in organizations
                for g in self.organization_groups(o["id"])
            },
            "connections": self.connections(),
            "roles": self.roles(),
            "groups": groups,
            "group_members": {g["id"]: self.group_members(g["id"]) for g in groups},
            "group_roles": {g["id"]: self.group_roles(g["id"]) for g in groups},
        }


def orjson_loads(raw: bytes) -> Any:
    import orjson

    return orjson.loads(raw)


def gzip_stream(lines: Iterator[bytes], chunk: int = 256 * 1024) -> Iterator[bytes]:
    """Compress `lines` as one gzip member, yielding compressed pieces as they fill up."""
    import zlib

    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    pending: list[bytes] = []
    size = 0
    for item in lines:
        pending.append(item)
        size += len(item)
        if size >= chunk:
            out = compressor.compress(b"".join(pending))
            pending, size = [], 0
            if out:
                yield out
    out = compressor.compress(b"".join(pending)) + compressor.flush()
    if out:
        yield out


_ = gzip  # gzip files are what clients open; zlib (wbits 31) writes them


def _member(user: Obj) -> Obj:
    return {
        "user_id": user["user_id"],
        "email": user.get("email"),
        "picture": user.get("picture"),
        "name": user.get("name"),
    }


def _connection(connection: Obj) -> Obj:
    return {
        "id": connection["id"],
        "name": connection["name"],
        "strategy": connection["strategy"],
        "display_name": connection.get("display_name", connection["name"]),
        "is_domain_connection": False,
        "realms": [connection["name"]],
    }


# --- the HTTP side -------------------------------------------------------------------------------

READ_SCOPES = (
    "read:users",
    "read:organizations",
    "read:organization_members",
    "read:organization_member_roles",
    "read:organization_connections",
    "read:organization_groups",
    "read:organization_group_roles",
    "read:connections",
    "read:roles",
    "read:groups",
    "read:group_members",
    "read:group_roles",
)
# Auth0's per-plan buckets (reference §9.3): family -> (burst, refill per minute); "other" covers the rest.
RATE_LIMITS: dict[str, dict[str, tuple[float, float]]] = {
    "free": {"other": (2, 120)},
    "essentials": {
        "users": (40, 500),
        "organizations": (5, 50),
        "organization_members": (40, 500),
        "organization_member_roles": (20, 200),
        "organization_connections": (5, 50),
        "connections": (5, 50),
        "other": (10, 150),
    },
    "enterprise": {
        "organizations": (10, 100),
        "organization_members": (40, 500),
        "organization_member_roles": (20, 200),
        "organization_connections": (10, 100),
        "other": (50, 960),
    },
}
RATE_LIMITS["professional"] = RATE_LIMITS["essentials"]
MAX_TAKE = 100
OFFSET_LIMIT = 1000
PAGING_LIMIT_MESSAGE = "You can only page through the first 1000 records. Use checkpoint pagination (from, take)."


class _Bucket:
    def __init__(self, burst: float, per_minute: float) -> None:
        self.burst = burst
        self.rate = per_minute / 60.0
        self.tokens = burst
        self.at = time.monotonic()

    def take(self) -> tuple[bool, int, int]:
        """(allowed, remaining, reset epoch seconds: when the bucket is full again)."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        allowed = self.tokens >= 1
        if allowed:
            self.tokens -= 1
        reset = math.ceil(time.time() + (self.burst - self.tokens) / self.rate)
        return allowed, int(self.tokens), reset


class _Refused(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class ManagementApi:
    """The Management API v2 read endpoints and the users export job, over an emulator's `Tenant`.

    `calls` and `limited` count answered calls and 429s per rate-limit family (for benchmarks).
    """

    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator
        self.config = emulator.config
        self.calls: collections.Counter[str] = collections.Counter()
        self.limited: collections.Counter[str] = collections.Counter()
        self.jobs: dict[str, Obj] = {}
        self._secret = secrets.token_bytes(16)
        self._buckets: dict[str, _Bucket] = {}
        self._bucket_lock = threading.Lock()

    # -- plumbing ------------------------------------------------------------------------------

    def handle(self, handler: Any, method: str, body: bytes) -> None:
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        if parts.path.startswith("/exports/"):
            self._download(handler, parts.path[len("/exports/") :], query)
            return
        segments = [unquote(piece) for piece in parts.path[len("/api/v2/") :].split("/")]
        headers: dict[str, str] = {}
        try:
            route = self._route(method, segments)
            if route is None:
                raise _Refused(404, "Not Found")
            family, scopes, answer = route
            if self._rate_limit(family, headers):
                raise _Refused(
                    429, "Too Many Requests: the rate limit of this endpoint is exhausted", "too_many_requests"
                )
            granted = self.emulator.scopes_for(handler.headers.get("Authorization"))
            if granted is None:
                raise _Refused(401, "Invalid token", "invalid_token")
            for needed in scopes:
                if not any(scope in granted for scope in needed):
                    raise _Refused(
                        403, "Insufficient scope, expected any of: " + ",".join(needed), "insufficient_scope"
                    )
            with self.emulator._lock:
                status, payload = answer(Tenant(self.emulator.prelog, self.emulator.world), query, body, handler)
        except _Refused as refused:
            reason = handler.responses.get(refused.status, ("Error",))[0]
            error: Obj = {"statusCode": refused.status, "error": reason, "message": refused.message}
            if refused.code is not None:
                error["errorCode"] = refused.code
            handler._json(refused.status, error, headers)
            return
        handler._json(status, payload, headers)

    def _rate_limit(self, family: str, headers: dict[str, str]) -> bool:
        """Count the call; True when its bucket is empty (429). Sets the x-ratelimit-* headers."""
        plan = self.config.rate_limit_plan
        with self._bucket_lock:
            self.calls[family] += 1
            if plan is None:
                return False
            limits = RATE_LIMITS[plan]
            key = family if family in limits else "other"
            bucket = self._buckets.get(key)
            if bucket is None:
                burst, per_minute = limits[key]
                scale = self.config.rate_limit_scale
                bucket = self._buckets[key] = _Bucket(burst * scale, per_minute * scale)
            allowed, remaining, reset = bucket.take()
            headers.update(
                {
                    "x-ratelimit-limit": str(int(bucket.burst)),
                    "x-ratelimit-remaining": str(remaining),
                    "x-ratelimit-reset": str(reset),
                }
            )
            if not allowed:
                self.limited[family] += 1
            return not allowed

    def _route(self, method: str, s: list[str]) -> tuple[str, list[tuple[str, ...]], Any] | None:
        if method == "POST":
            if s == ["jobs", "users-exports"]:
                return "other", [("read:users",)], self._create_export
            return None
        n = len(s)
        if s[0] == "organizations":
            if n == 1:
                return "organizations", [("read:organizations",)], self._organizations
            if n == 3 and s[2] == "members":
                return "organization_members", [("read:organization_members",)], self._members
            if n == 3 and s[2] == "enabled_connections":
                return "organization_connections", [("read:organization_connections",)], self._enabled_connections
            if n == 3 and s[2] == "groups":
                return "other", [("read:organization_groups",)], self._organization_groups
            if n == 5 and s[2] == "groups" and s[4] == "roles":
                return "other", [("read:organization_group_roles",)], self._organization_group_roles
            return None
        if s[0] == "connections" and n == 1:
            return "connections", [("read:connections",)], self._connections
        if s[0] == "roles" and n == 1:
            return "other", [("read:roles",)], self._roles
        if s[0] == "groups":
            if n == 1:
                return "other", [("read:groups",)], self._groups
            if n == 3 and s[2] == "members":
                return "other", [("read:group_members",)], self._group_members
            if n == 3 and s[2] == "roles":
                return "other", [("read:group_roles",)], self._group_roles
            return None
        if s[0] == "jobs" and n == 2:
            return "other", [("read:users", "create:users")], self._job
        return None

    # -- paging ----------------------------------------------------------------------------------

    @staticmethod
    def _take(query: dict[str, list[str]], name: str = "take", default: int = 50) -> int:
        raw = (query.get(name) or [str(default)])[0]
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_TAKE:
            raise _Refused(
                400, f"Query validation error: '{name}' must be between 1 and {MAX_TAKE}", "invalid_query_string"
            )
        return int(raw)

    @staticmethod
    def _cursor(query: dict[str, list[str]]) -> str | None:
        raw = (query.get("from") or [None])[0]
        if not raw:
            return None
        try:
            return base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            raise _Refused(
                400, "Query validation error: 'from' is not a valid checkpoint", "invalid_query_string"
            ) from None

    @staticmethod
    def _next(last_id: str) -> str:
        return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")

    def _checkpoint(self, key: str, rows: list[Obj], id_key: str, query: dict[str, list[str]]) -> Obj:
        """A checkpoint page of `rows` (sorted by `id_key`), or an offset page when `page` is given."""
        if "page" in query or "per_page" in query:
            return self._offset(key, rows, query, with_totals=False)
        cursor, take = self._cursor(query), self._take(query)
        after = [row for row in rows if cursor is None or row[id_key] > cursor]
        answer: Obj = {key: after[:take]}
        if len(after) > take:
            answer["next"] = self._next(after[take - 1][id_key])
        return answer

    def _offset(self, key: str, rows: list[Obj], query: dict[str, list[str]], with_totals: bool = True) -> Obj:
        page_raw = (query.get("page") or ["0"])[0]
        if not page_raw.isdigit():
            raise _Refused(400, "Query validation error: 'page' must be a number", "invalid_query_string")
        page, per_page = int(page_raw), self._take(query, "per_page", 50)
        start = page * per_page
        if start >= OFFSET_LIMIT:
            raise _Refused(400, PAGING_LIMIT_MESSAGE, "invalid_paging")
        items = rows[start : min(start + per_page, OFFSET_LIMIT)]
        if with_totals or (query.get("include_totals") or ["false"])[0] == "true":
            return {"start": start, "limit": per_page, "total": len(rows), key: items}
        return {key: items}

    # -- answers ---------------------------------------------------------------------------------

    def _organizations(self, tenant: Tenant, query: dict[str, list[str]], body: bytes, handler: Any) -> tuple[int, Obj]:
        if "page" in query or "per_page" in query:
            page_raw = (query.get("page") or ["0"])[0]
            per_page = self._take(query, "per_page", 50)
            start = int(page_raw) * per_page if page_raw.isdigit() else 0
            if start >= OFFSET_LIMIT:
                raise _Refused(400, PAGING_LIMIT_MESSAGE, "invalid_paging")
            rows = self._all(tenant, "organizations", OFFSET_LIMIT)
            return 200, self._offset("organizations", rows, query, with_totals=False)
        cursor, take = self._cursor(query), self._take(query)
        items, more = tenant.page("organizations", cursor, take)
        answer: Obj = {"organizations": items}
        if more and items:
            answer["next"] = self._next(items[-1]["id"])
        return 200, answer

    @staticmethod
    def _all(tenant: Tenant, kind: str, limit: int) -> list[Obj]:
        rows: list[Obj] = []
        cursor = None
        while len(rows) < limit:
            items, more = tenant.page(kind, cursor, MAX_TAKE)
            rows.extend(items)
            if not more or not items:
                break
            cursor = items[-1]["id"]
        return rows[:limit]

    def _organization(self, tenant: Tenant, org_id: str) -> None:
        if not tenant.has_organization(org_id):
            raise _Refused(404, "No organization found by that id or name", "inexistent_organization")

    def _members(self, tenant: Tenant, query: dict[str, list[str]], body: bytes, handler: Any) -> tuple[int, Obj]:
        org_id = _segment(handler, 1)
        fields = ",".join(query.get("fields", []))
        with_roles = "roles" in fields.split(",")
        if with_roles:
            granted = self.emulator.scopes_for(handler.headers.get("Authorization")) or []
            if "read:organization_member_roles" not in granted:
                raise _Refused(
                    403, "Insufficient scope, expected any of: read:organization_member_roles", "insufficient_scope"
                )
        self._organization(tenant, org_id)
        return 200, self._checkpoint("members", tenant.members(org_id, with_roles), "user_id", query)

    def _enabled_connections(
        self, tenant: Tenant, query: dict[str, list[str]], body: bytes, handler: Any
    ) -> tuple[int, Obj]:
        org_id = _segment(handler, 1)
        self._organization(tenant, org_id)
        return 200, self._offset("enabled_connections", tenant.enabled_connections(org_id), query)

    def _organization_groups(
        self, tenant: Tenant, query: dict[str, list[str]], body: bytes, handler: Any
    ) -> tuple[int, Obj]:
        org_id = _segment(handler, 1)
        self._organization(tenant, org_id)
        return 200, self._checkpoint("groups", tenant.organization_groups(org_id), "id", query)

    def _organization_group_roles(
        self, tenant: Tenant, query: dict[str, list[str]], body: bytes, handler: Any
    ) -> tuple[int, Obj]:
        org_id, group_id = _segment(handler, 1), _segment(handler, 3)
        self._organization(tenant, org_id)
        if not any(group["id"] == group_id for group in tenant.organization_groups(org_id)):
            raise _Refused(404, "Group not found", "inexistent_group")
        return 200, self._checkpoint("roles", tenant.organization_group_roles(org_id, group_id), "id", query)

    def _connections(self, tenant: Tenant, query: dict[str, list[str]], body: bytes, handler: Any) -> tuple[int, Obj]:
        rows = tenant.connections()
        strategies = query.get("strategy")
        if strategies:
            rows = [row for row in rows if row["strategy"] in strategies]
        return 200, self._checkpoint("connections", rows, "id", query)

    def _roles(self, tenant: Tenant, query: dict[str, list[str]], body: bytes, handler: Any) -> tuple[int, Obj]:
        return 200, self._offset("roles", tenant.roles(), query)

    def _groups(self, tenant: Tenant, query: dict[str, list[str]], body: bytes, handler: Any) -> tuple[int, Obj]:
        cursor, take = self._cursor(query), self._take(query)
        items, more = tenant.page("groups", cursor, take)
        answer: Obj = {"groups": items}
        if more and items:
            answer["next"] = self._next(items[-1]["id"])
        return 200, answer

    def _group(self, tenant: Tenant, group_id: str) -> None:
        if not tenant.has_group(group_id):
            raise _Refused(404, "Group not found", "inexistent_group")

    def _group_members(self, tenant: Tenant, query: dict[str, list[str]], body: bytes, handler: Any) -> tuple[int, Obj]:
        group_id = _segment(handler, 1)
        self._group(tenant, group_id)
        return 200, self._checkpoint("members", tenant.group_members(group_id), "id", query)

    def _group_roles(self, tenant: Tenant, query: dict[str, list[str]], body: bytes, handler: Any) -> tuple[int, Obj]:
        group_id = _segment(handler, 1)
        self._group(tenant, group_id)
        return 200, self._checkpoint("roles", tenant.group_roles(group_id), "id", query)

    # -- the users export job --------------------------------------------------------------------

    def _create_export(self, tenant: Tenant, query: dict[str, list[str]], body: bytes, handler: Any) -> tuple[int, Obj]:
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            raise _Refused(400, "Payload validation error: 'Invalid JSON'", "invalid_body") from None
        if not isinstance(params, dict) or params.get("format", "json") not in ("json", "csv"):
            raise _Refused(400, "Payload validation error: 'format' must be json or csv", "invalid_body")
        fields = [str(item["name"]) for item in params.get("fields") or [] if isinstance(item, dict) and "name" in item]
        job_id = "job_" + secrets.token_hex(8)
        now = time.time()
        job: Obj = {
            "id": job_id,
            "type": "users_export",
            "status": "pending",
            "created_at": _iso(now),
            "format": params.get("format", "json"),
            "fields": [{"name": name} for name in fields],
        }
        if params.get("connection_id"):
            job["connection_id"] = params["connection_id"]
        self.jobs[job_id] = {"job": job, "created": now, "fields": fields, "snapshot": tenant.export_snapshot()}
        return 201, dict(job)

    def _job(self, tenant: Tenant, query: dict[str, list[str]], body: bytes, handler: Any) -> tuple[int, Obj]:
        job_id = _segment(handler, 1)
        stored = self.jobs.get(job_id)
        if stored is None:
            raise _Refused(404, "The job does not exist", "inexistent_job")
        job = dict(stored["job"])
        now = time.time()
        if now - stored["created"] < self.config.export_pending_seconds:
            job["percentage_done"] = 0
            return 200, job
        if self.config.export_fails:
            job.update({"status": "failed", "status_details": "Export failed: an internal error occurred"})
            return 200, job
        expires = int(now + self.config.export_link_seconds)
        host, port = handler.server.server_address[:2]
        job.update(
            {
                "status": "completed",
                "percentage_done": 100,
                "time_left_seconds": 0,
                "summary": {"total": tenant.export_total(stored["snapshot"])},
                "location": f"http://{host}:{port}/exports/{job_id}.json.gz"
                f"?expires={expires}&sig={self._sign(job_id, expires)}",
            }
        )
        return 200, job

    def _sign(self, job_id: str, expires: int) -> str:
        return hmac.new(self._secret, f"{job_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    def _download(self, handler: Any, name: str, query: dict[str, list[str]]) -> None:
        job_id = name.removesuffix(".json.gz")
        expires_raw, sig = (query.get("expires") or [""])[0], (query.get("sig") or [""])[0]
        stored = self.jobs.get(job_id)
        valid = (
            stored is not None
            and expires_raw.isdigit()
            and hmac.compare_digest(sig, self._sign(job_id, int(expires_raw)))
        )
        if not valid or int(expires_raw) < time.time():
            message = "Request has expired" if valid else "Access Denied"
            data = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                f"<Message>{message}</Message></Error>"
            ).encode()
            handler.send_response(403)
            handler.send_header("Content-Type", "application/xml")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return
        assert stored is not None
        tenant = Tenant(self.emulator.prelog, self.emulator.world)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/gzip")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for piece in gzip_stream(tenant.export_lines(stored["snapshot"], stored["fields"])):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        handler.wfile.write(b"0\r\n\r\n")


def _segment(handler: Any, index: int) -> str:
    return unquote(urlsplit(handler.path).path[len("/api/v2/") :].split("/")[index])


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
