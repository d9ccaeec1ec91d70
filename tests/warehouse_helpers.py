"""Shared parts of the warehouse tests: `meltano run` against the emulator, and the checks.

The pipeline runs as a user runs it (`meltano run tap-auth0-events target-... dbt-...:run`,
settings from environment variables); the checks compare what landed in the database with the
emulator's own log (raw tables) and with its generator's world (current-state models).
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import secrets
import string
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Generic, TypeVar

from conftest import TOKEN, fast_config
from history_oracle import (
    DAILY_MODELS,
    HISTORY_MODELS,
    Oracle,
    check_daily,
    check_history_at,
    check_history_equals_current,
    check_versions,
    instants,
)

from tap_auth0_events.emulator.generator import EventGenerator, World
from tap_auth0_events.emulator.server import ConnectionPlan, Emulator
from tap_auth0_events.event_types import EVENT_TYPES, OTHER_EVENTS_STREAM, STREAM_KEYS, stream_name

ROOT = Path(__file__).resolve().parents[1]
MELTANO = str(Path(sys.executable).parent / "meltano")
STREAMS = sorted(stream_name(key) for key in STREAM_KEYS)  # a table per event type, and other_events
EVENT_TYPE_OF = {stream_name(event_type): event_type for event_type in EVENT_TYPES}
# Types a newer API has and this tap does not: the scenario's history holds some (into other_events).
UNKNOWN_TYPES = ("role.created", "role.deleted")
CURRENT = (
    "current_users",
    "current_organizations",
    "current_organization_members",
    "current_organization_member_roles",
    "current_groups",
    "current_group_members",
    "current_connections",
    "current_organization_connections",
    "current_group_roles",
    "current_organization_group_roles",
)
HISTORY = HISTORY_MODELS  # one type-2 table per entity and relation (tests/history_oracle.py)
DAILY = DAILY_MODELS
# Every model an analyst reads.
MODELS = (*CURRENT, *HISTORY, *DAILY)
# The models' building blocks (incremental tables too): the newest event per key, deletions included.
INTERMEDIATE = (
    "int_seen_events",
    "int_users",
    "int_organizations",
    "int_groups",
    "int_organization_memberships",
    "int_organization_member_roles",
    "int_group_memberships",
    "int_connections",
    "int_organization_connections",
    "int_group_roles",
    "int_organization_group_roles",
    "int_history_events",
    "int_baselines",
)
# Variables from the developer's shell that would change what a test run does.
_FOREIGN_PREFIXES = ("TAP_AUTH0_EVENTS_", "TARGET_DUCKDB_", "TARGET_POSTGRES_", "DBT_", "MELTANO_")
_EMITTED = re.compile(r"pass finished \([^\n]*?\): (\d+) events emitted")

Rows = Callable[[str], list[tuple[Any, ...]]]


# -- running Meltano -------------------------------------------------------------------------------


def clean_environ() -> dict[str, str]:
    """os.environ without the tap, loader, dbt and Meltano settings a developer may have set."""
    return {key: value for key, value in os.environ.items() if not key.startswith(_FOREIGN_PREFIXES)}


def meltano_env(tmp: Path, emulator: Emulator, extra: dict[str, str]) -> dict[str, str]:
    """The environment of one isolated pipeline: own Meltano system database, own dbt dirs."""
    env = clean_environ()
    env.update(
        {
            "MELTANO_PROJECT_ROOT": str(ROOT),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp / 'meltano.db'}",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TAP_AUTH0_EVENTS_API_URL": emulator.url,
            "TAP_AUTH0_EVENTS_API_TOKEN": TOKEN,
            "TAP_AUTH0_EVENTS_START_DATE": "2000-01-01T00:00:00Z",
            "TAP_AUTH0_EVENTS_IDLE_TIMEOUT_SECONDS": "2",
            "TAP_AUTH0_EVENTS_READ_TIMEOUT_SECONDS": "2",
            "TAP_AUTH0_EVENTS_MAX_RUN_SECONDS": "120",
            # The emulator's token has read:events only; the baseline's tests ask for one.
            "TAP_AUTH0_EVENTS_BASELINE": "never",
            # dbt writes target/ and logs/ here instead of transform/, so runs never collide.
            "DBT_TARGET_PATH": str(tmp / "dbt-target"),
            "DBT_LOG_PATH": str(tmp / "dbt-logs"),
        }
    )
    env.update(extra)
    return env


@dataclass
class MeltanoRun:
    returncode: int
    output: str

    @property
    def emitted(self) -> int:
        """Events the tap emitted (its `pass finished` log line), copies included."""
        counts = [int(match) for match in _EMITTED.findall(self.output)]
        assert len(counts) == 1, f"expected one 'pass finished' line:\n{self.tail()}"
        return counts[0]

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def meltano_run(env: dict[str, str], *blocks: str, full_refresh: bool = False, timeout: float = 300) -> MeltanoRun:
    args = [MELTANO, "--log-level=info", "run", *(["--full-refresh"] if full_refresh else []), *blocks]
    completed = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    run = MeltanoRun(completed.returncode, completed.stdout + completed.stderr)
    assert run.returncode == 0, f"{' '.join(args)} failed:\n{run.tail()}"
    return run


Warehouse = TypeVar("Warehouse")


@dataclass
class Pipeline(Generic[Warehouse]):
    """A scenario loaded into a warehouse by a first `meltano run`, for a test module to share."""

    scenario: Scenario
    env: dict[str, str]
    warehouse: Warehouse
    first: MeltanoRun


# -- the scenario: a seeded history plus hand-placed out-of-order events ------------------------------


@dataclass
class Scenario:
    emulator: Emulator
    # The world of the extra, out-of-order events (their truth, in time order).
    extra: World
    # A user deleted and then created again with the same id (must exist at the end).
    recreated_user: dict[str, Any] = field(default_factory=dict)
    # A test event ("a0purpose": "test") about a real user, newer than its real events.
    test_event: dict[str, Any] = field(default_factory=dict)

    def worlds(self) -> list[World]:
        return [self.emulator.world, self.extra]


def _event_id() -> str:
    return "evt_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(22))


def start_scenario(initial_events: int = 1500, **overrides: Any) -> Scenario:
    """An emulator with `initial_events` of history, then life cycles delivered newest first.

    `overrides` go to the emulator's config (seed, tenant, tokens: one scenario per tenant).

    A second generator (another seed per emulator seed, so other ids) plays, in time order: user A
    created, updated, deleted, then created again (same id); user B created and updated;
    organization O created, B added, given a role, removed; group G created with a member;
    connection C1 created, updated, deleted; connection C2 created and updated; last, a test event
    that updates B (which must change nothing). The emulator then delivers these events in reverse
    time order, so arrival order disagrees with event time everywhere. The next connection also
    sends one event twice.
    The history itself holds a few test events about made-up users (the emulator's default) and
    events of UNKNOWN_TYPES (5 %).
    """
    overrides = {"unknown_types": UNKNOWN_TYPES, **overrides}
    emulator = Emulator(fast_config(initial_events=initial_events, **overrides)).start()
    generator = EventGenerator(seed=424242 + emulator.config.seed, tenant=emulator.config.tenant)
    moment = datetime.now(timezone.utc) - timedelta(hours=2)
    events: list[dict[str, Any]] = []

    def play(event_type: str) -> dict[str, Any]:
        nonlocal moment
        moment += timedelta(minutes=1)
        event = generator.next_event(time=moment, event_type=event_type)
        events.append(event)
        return event

    created_a = play("user.created")
    play("user.updated")
    play("user.deleted")  # A is the only user: the forced update and delete pick it
    play("user.created")
    play("user.updated")  # B, the only user left
    play("organization.created")
    play("organization.member.added")
    play("organization.member.role.assigned")
    play("organization.member.deleted")
    play("group.created")
    play("group.member.added")
    play("connection.created")
    play("connection.updated")
    play("connection.deleted")  # C1 is the only connection: the forced update and delete pick it
    play("connection.created")
    play("connection.updated")  # C2, the only connection left
    assert generator.world.unannounced == [], "every entity came with an event"
    # Someone sends a test event with B's data: newer than B's last change, another email.
    test_event = copy.deepcopy(next(e for e in reversed(events) if e["type"] == "user.updated"))
    test_event["id"] = _event_id()
    test_event["a0purpose"] = "test"
    test_event["time"] = _later(events[-1]["time"], minutes=1)
    test_event["data"]["object"]["email"] = "test-event@example.org"
    test_event["data"]["object"]["updated_at"] = test_event["time"]
    # A comes back: its user.created again, a minute after its deletion.
    recreated = copy.deepcopy(created_a)
    recreated["id"] = _event_id()
    deleted_at = datetime.fromisoformat(events[2]["time"].replace("Z", "+00:00"))
    recreated["time"] = (deleted_at + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    events.extend([recreated, test_event])
    for event in reversed(events):
        emulator.append_event(event)
    emulator.queue(ConnectionPlan(action="duplicate", after_events=200))
    return Scenario(emulator, generator.world, recreated["data"]["object"], test_event)


def _later(stamp: str, minutes: int) -> str:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


# -- what must exist at the end ------------------------------------------------------------------------


def parse_time(value: str) -> datetime:
    """An event or object timestamp as the warehouse stores it: naive UTC."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc).replace(tzinfo=None)


@dataclass
class Expected:
    users: dict[str, dict[str, Any]]
    organizations: dict[str, dict[str, Any]]
    organization_members: set[tuple[str, str]]
    member_roles: set[tuple[str, str, str]]
    role_names: dict[str, str]
    groups: dict[str, dict[str, Any]]
    group_members: set[tuple[str, str]]
    connections: dict[str, dict[str, Any]]
    organization_connections: dict[tuple[str, str], dict[str, Any]]
    group_roles: set[tuple[str, str]]
    organization_group_roles: set[tuple[str, str, str]]


def expected_state(scenario: Scenario) -> Expected:
    """The union of the worlds: the history's and the out-of-order extra's (disjoint ids)."""
    expected = expected_from_worlds(scenario.worlds())
    expected.users[scenario.recreated_user["user_id"]] = scenario.recreated_user
    return expected


def expected_from_worlds(worlds: list[World]) -> Expected:
    """What the models must hold when every event of these worlds (disjoint ids) has been loaded.

    Test events never enter a world, so nothing they say is expected anywhere."""
    for world in worlds:
        assert world.unannounced == [], "the expectation assumes every change came as an event"
    users = {key: value for world in worlds for key, value in world.users.items()}
    organizations = {key: value for world in worlds for key, value in world.organizations.items()}
    groups = {key: value for world in worlds for key, value in world.groups.items()}
    connections = {key for world in worlds for key in (*world.connections, *world.enterprise_connections)}
    # A deletion removes what depends on it, as in Auth0 (the generator's world keeps it).
    members = {pair for world in worlds for pair in world.organization_members if pair[0] in organizations}
    members = {pair for pair in members if pair[1] in users}
    return Expected(
        users=users,
        organizations=organizations,
        organization_members=members,
        # Roles show for current members only (the world keeps roles of removed members).
        member_roles={key for world in worlds for key in world.member_roles if key[:2] in members},
        role_names={key: value for world in worlds for key, value in world.roles.items()},
        groups=groups,
        group_members={
            pair
            for world in worlds
            for pair in world.group_members
            if pair[0] in groups and (pair[1] in users or pair[1] in connections)
        },
        connections={key: value for world in worlds for key, value in world.enterprise_connections.items()},
        organization_connections={
            key: value
            for world in worlds
            for key, value in world.organization_connections.items()
            if key[0] in organizations and key[1] in connections
        },
        group_roles={key for world in worlds for key in world.group_roles if key[0] in groups},
        organization_group_roles={
            key
            for world in worlds
            for key in world.organization_group_roles
            if key[0] in organizations and key[1] in groups
        },
    )


# -- checks ---------------------------------------------------------------------------------------------


def logged_events(emulator: Emulator) -> list[dict[str, Any]]:
    """Every event of the emulator's log, whole, in log order (copies delivered again included)."""
    return [json.loads(stored.frame.split(b"\ndata: ", 1)[1])["event"] for stored in emulator.log.events]


def check_history_models(rows: Rows, schema: str, emulator: Emulator, when: str, count: int = 12) -> Oracle:
    """The history and daily models against the oracle of the emulator's whole log: every version,
    the state at `count` random instants, every day; and the versions in effect are the current
    models. Returns the oracle."""
    oracle = Oracle(logged_events(emulator))
    assert check_versions(rows, schema, oracle, when) > 0
    moments = instants(random.Random(len(oracle.events)), oracle.events, count)
    assert check_history_at(rows, schema, oracle, moments, when) > 0
    assert check_daily(rows, schema, oracle, when) >= 1
    assert check_history_equals_current(rows, schema) > 0
    return oracle


def expected_event_ids(emulator: Emulator) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {name: set() for name in STREAMS}
    for event in emulator.summary():
        event_type = event["event_type"]
        ids[stream_name(event_type) if event_type in EVENT_TYPES else OTHER_EVENTS_STREAM].add(event["event_id"])
    return ids


def check_raw_tables(rows: Rows, schema: str, emulator: Emulator, *, test_events_may_be_lost: bool = False) -> int:
    """One table per event type holding exactly the distinct events of that type, once each, and
    other_events holding those of the types the tap does not know.

    `test_events_may_be_lost`: target-duckdb 0.8 (the newest on PyPI) loads each batch with a CSV
    `COPY` that lets DuckDB guess a header row, and DuckDB takes the first row for one when it alone
    has a value in a text column that the others leave empty: a test event (`a0purpose`) that comes
    first in its stream's batch is dropped. Fixed upstream (jwills/target-duckdb#58), not released.
    With this flag only test events may be missing. Returns how many test events the tables hold.
    """
    expected = expected_event_ids(emulator)
    times = {event["event_id"]: parse_time(event["time"]) for event in emulator.summary()}
    purposes = {event["event_id"]: event["a0purpose"] for event in emulator.summary()}
    types_of = {event["event_id"]: event["event_type"] for event in emulator.summary()}
    tests_kept = 0
    for table in STREAMS:
        got = rows(f'select event_id, event_time, event_type, a0purpose from {schema}."{table}"')
        ids = [row[0] for row in got]
        assert len(ids) == len(set(ids)), f"{table}: an event_id occurs more than once"
        if test_events_may_be_lost:
            lost = expected[table] - set(ids)
            assert all(purposes[event_id] == "test" for event_id in lost), f"{table}: real events missing"
            expected[table] -= lost
        assert set(ids) == expected[table], (
            f"{table}: rows differ from the emulator's log: {sorted(set(ids) - expected[table])[:3]} not in the log, "
            f"{sorted(expected[table] - set(ids))[:3]} missing"
        )
        assert {row[0]: row[1] for row in got} == {event_id: times[event_id] for event_id in ids}, table
        # Exactly the types of the log's events of this table (none when it has none).
        logged_types = {types_of[event_id] for event_id in expected[table]}
        if table == OTHER_EVENTS_STREAM:
            assert logged_types <= set(UNKNOWN_TYPES)
            assert {row[2] for row in got} == logged_types, "other_events holds the unknown types"
        else:
            assert logged_types <= {EVENT_TYPE_OF[table]}
            assert {row[2] for row in got} == logged_types, f"{table}: rows of another type"
        assert {row[0]: row[3] for row in got} == {event_id: purposes[event_id] for event_id in ids}, table
        tests_kept += sum(row[3] == "test" for row in got)
    if not test_events_may_be_lost:
        assert tests_kept >= 2, "the raw tables keep test events (the scenario's and the history's)"
    return tests_kept


def _json(value: Any) -> Any:
    """A JSON column as Python: DuckDB returns the text, psycopg the parsed jsonb."""
    return json.loads(value) if isinstance(value, str) else value


def _as_set(text: str | None) -> set[str]:
    return set(text.split(",")) if text else set()


def check_models(rows: Rows, schema: str, expected: Expected) -> None:
    """The current-state models hold exactly what the worlds say exists."""
    users = {row[0]: row[1:] for row in rows(f"select user_id, email, updated_at from {schema}.current_users")}
    assert set(users) == set(expected.users), (
        f"current_users: wrong set of users: {sorted(set(users) - set(expected.users))[:3]} should not exist, "
        f"{sorted(set(expected.users) - set(users))[:3]} should"
    )
    assert users == {
        user_id: (user.get("email"), parse_time(user["updated_at"])) for user_id, user in expected.users.items()
    }, "current_users: a user's newest state is wrong"

    found = rows(f"select organization_id, name, display_name from {schema}.current_organizations")
    organizations = {row[0]: row[1:] for row in found}
    assert organizations == {
        org_id: (org.get("name"), org.get("display_name")) for org_id, org in expected.organizations.items()
    }, "current_organizations differ from the world"

    groups = {
        row[0]: row[1:] for row in rows(f"select group_id, name, group_type, external_id from {schema}.current_groups")
    }
    assert groups == {
        group_id: (group["name"], group["type"], group.get("external_id"))
        for group_id, group in expected.groups.items()
    }, "current_groups differ from the world"

    roles = rows(f"select organization_id, user_id, role_id, role_name from {schema}.current_organization_member_roles")
    assert {row[:3] for row in roles} == expected.member_roles, "current_organization_member_roles: wrong roles"
    assert len(roles) == len(expected.member_roles)
    assert all(row[3] == expected.role_names[row[2]] for row in roles)

    members = rows(
        f"select organization_id, user_id, role_count, role_ids, role_names, user_exists, organization_exists "
        f"from {schema}.current_organization_members"
    )
    assert len(members) == len(expected.organization_members)
    assert {row[:2] for row in members} == expected.organization_members, "current_organization_members differ"
    for org_id, user_id, role_count, role_ids, role_names, user_exists, org_exists in members:
        held = {role for org, user, role in expected.member_roles if (org, user) == (org_id, user_id)}
        assert (role_count, _as_set(role_ids)) == (len(held), held), (org_id, user_id)
        pairs = zip((role_ids or "").split(","), (role_names or "").split(","), strict=True)
        assert all(expected.role_names[role] == name for role, name in pairs if role)
        assert user_exists is (user_id in expected.users)
        assert org_exists is (org_id in expected.organizations)

    found = rows(
        f"select connection_id, name, strategy, display_name, show_as_button, options, enabled_clients "
        f"from {schema}.current_connections"
    )
    connections = {row[0]: (*row[1:5], _json(row[5]), _json(row[6])) for row in found}
    assert connections == {
        con_id: (
            connection["name"],
            connection["strategy"],
            connection.get("display_name"),
            connection.get("show_as_button"),
            connection["options"],
            connection.get("enabled_clients"),
        )
        for con_id, connection in expected.connections.items()
    }, "current_connections differ from the world"

    group_members = rows(f"select group_id, member_id, member_type, group_exists from {schema}.current_group_members")
    assert len(group_members) == len(expected.group_members)
    assert {row[:2] for row in group_members} == expected.group_members, "current_group_members differ"
    for group_id, member_id, member_type, group_exists in group_members:
        assert member_type == ("connection" if member_id.startswith("con_") else "user")
        assert group_exists is (group_id in expected.groups)

    # The settings of an organization's connection; is_enabled and organization_access_level are
    # absent from the older event shape, so only assign_membership_on_login is always sent.
    found = rows(
        f"select organization_id, connection_id, assign_membership_on_login "
        f"from {schema}.current_organization_connections"
    )
    assert {row[:2]: row[2] for row in found} == {
        key: settings["assign_membership_on_login"] for key, settings in expected.organization_connections.items()
    }, "current_organization_connections differ from the world"
    assert len(found) == len(expected.organization_connections)

    found = rows(f"select group_id, role_id from {schema}.current_group_roles")
    assert_same_rows("current_group_roles", found, expected.group_roles)

    found = rows(f"select organization_id, group_id, role_id from {schema}.current_organization_group_roles")
    assert_same_rows("current_organization_group_roles", found, expected.organization_group_roles)


def assert_same_rows(model: str, found: list[tuple[Any, ...]], expected: set[tuple[Any, ...]]) -> None:
    """One row per expected key, naming a few of the rows too many and too few."""
    assert len(found) == len(set(found)), f"{model}: a key twice"
    extra, missing = sorted(set(found) - expected), sorted(expected - set(found))
    assert not extra and not missing, f"{model}: {extra[:3]} should not be there, {missing[:3]} should"


def check_scenario_outcomes(rows: Rows, schema: str, scenario: Scenario) -> None:
    """The out-of-order life cycles resolved by event time, not by arrival."""
    recreated = scenario.recreated_user["user_id"]
    (last_event,) = rows(f"select last_event_type from {schema}.current_users where user_id = '{recreated}'")
    assert last_event == ("user.created",), "a user created again after its deletion exists again"
    (survivor,) = scenario.extra.users  # B: A was deleted from this world
    (updated_at,) = rows(f"select updated_at from {schema}.current_users where user_id = '{survivor}'")
    assert updated_at[0] == parse_time(scenario.extra.users[survivor]["updated_at"]), "newest update wins"
    assert scenario.extra.organization_members == set(), "the membership was removed"
    (org_id,) = scenario.extra.organizations
    assert rows(f"select user_id from {schema}.current_organization_members where organization_id = '{org_id}'") == []
    (c2,) = scenario.extra.enterprise_connections  # C1 was deleted
    found = rows(f"select connection_id, last_event_type from {schema}.current_connections")
    assert (c2, "connection.updated") in found, "the newest event of C2, its update, wins"
    assert len(found) == len({row[0] for row in found}), "one row per connection"

    test_event = scenario.test_event
    assert test_event["data"]["object"]["user_id"] == survivor, "the test event is about B"
    (email,) = rows(f"select email from {schema}.current_users where user_id = '{survivor}'")
    assert email[0] == scenario.extra.users[survivor]["email"] != "test-event@example.org", "test event ignored"
    kept = rows(f"select a0purpose from {schema}.user_updated where event_id = '{test_event['id']}'")
    assert kept == [("test",)], "the raw table keeps the test event"


def table_types(rows: Rows, schema: str, table: str) -> dict[str, str]:
    found = rows(
        "select column_name, data_type from information_schema.columns "
        f"where table_schema = '{schema}' and table_name = '{table}'"
    )
    return {name: data_type.lower() for name, data_type in found}


def base_tables(rows: Rows, schema: str) -> set[str]:
    found = rows(
        f"select table_name from information_schema.tables where table_schema = '{schema}' "
        "and table_type = 'BASE TABLE'"
    )
    return {row[0] for row in found}
