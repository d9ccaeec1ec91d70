"""Incremental dbt runs equal a full rebuild and the tenant's history, round after round, on DuckDB
and on PostgreSQL.

A generator of our own (its world is the truth) plays random rounds of a tenant's life
(tests/tenant_life.py): new users, organizations, groups, memberships and roles, updates,
deletions, entities deleted and created again with the same id, test events (`"a0purpose":
"test"`, the generator's and forged deletions of existing users, which the models must ignore);
now and then it copies its world, with the instant. Each round's events reach the emulator in a
shuffled order, in two deliveries: first the newer part (plus copies of events from earlier
rounds, delivered again), then the older part, which arrives after newer events of the same
entities have been applied: late events, which split or shorten versions already built. After
each delivery the real tap reads the emulator into the real loader (`tap-auth0-events |
target-...`, with the loader's settings from meltano.yml and the STATE handed on), and `dbt run`
updates the models incrementally. Then:

- every model (current, history, daily, intermediate) equals row for row a `--full-refresh` build
  of the same raw tables into another schema (every column but `applied_at`, the time of the run
  that applied the row, which a full refresh sets to its own);
- every history table holds exactly the versions the oracle (tests/history_oracle.py) derives from
  the events the emulator holds, and the point-in-time filter gives the oracle's state at random
  instants (at an event's time, a millisecond before one, anywhere); the daily models hold the
  oracle's counts at the end of every day; the versions in effect are the current models.

After the second delivery, when every event of the round has arrived, the current-state models
must hold what the generator's world holds, and the history tables, at each instant the world was
copied (this round's and the earlier rounds'), what it held then.

dbt runs in one long-lived process (tests/dbt_driver.py) so that each call costs the run, not
dbt's start-up.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
import yaml
from conftest import TOKEN, fast_config
from history_oracle import (
    BEFORE_LOG,
    FAMILIES,
    check_history_at,
    check_oracle_against_world,
)
from tenant_life import FORCED, Tenant
from test_emulator_invariant import Replay, event_of
from test_warehouse_postgres import HOST, PASSWORD, PORT, USER, connect_or_skip
from warehouse_helpers import (
    INTERMEDIATE,
    MODELS,
    ROOT,
    check_history_models,
    check_raw_tables,
    clean_environ,
)

from tap_auth0_events.emulator.server import Emulator

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TAP = str(Path(sys.executable).parent / "tap-auth0-events")
PLUGINS = ROOT / ".meltano"
ROUNDS = 4
BEFORE_LOG_EVENTS = 300  # the tenant's life before its log began, never delivered
INSTANTS = 6  # random instants at which each history table is compared with the oracle, per delivery
SEED = int(os.environ.get("INCREMENTAL_TEST_SEED", "20261130"))
# Keys of each model, to show the first differing rows.
KEYS = {
    "current_users": 1,
    "current_organizations": 1,
    "current_groups": 1,
    "current_organization_members": 2,
    "current_organization_member_roles": 3,
    "current_group_members": 2,
    "int_users": 1,
    "int_organizations": 1,
    "int_groups": 1,
    "int_organization_memberships": 2,
    "int_organization_member_roles": 3,
    "int_group_memberships": 2,
    "int_seen_events": 2,
    "current_connections": 1,
    "int_connections": 1,
    **{family.current: len(family.keys) for family in FAMILIES},
    # A version: its key and valid_from (when the model's columns come in that order).
    **{family.history: len(family.keys) + 1 for family in FAMILIES},
    "daily_users": 1,
    "daily_organization_members": 2,
}


# -- the warehouse under test ------------------------------------------------------------------------


class DbtSession:
    """dbt commands through tests/dbt_driver.py, run by the dbt plugin's own Python."""

    def __init__(self, engine: str) -> None:
        python = PLUGINS / "transformers" / f"dbt-{engine}" / "venv" / "bin" / "python"
        self.proc = subprocess.Popen(
            [str(python), str(ROOT / "tests" / "dbt_driver.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=clean_environ(),
        )
        self.profiles = str(ROOT / "transform" / "profiles" / engine)

    def run(self, env: dict[str, str], *args: str) -> None:
        vars_ = ["--vars", json.dumps({"auth0_events_schema": env["RAW_SCHEMA"]})]
        request = {
            "env": env,
            "parse_args": ["--profiles-dir", self.profiles, *vars_],
            "args": ["run", "--quiet", "--profiles-dir", self.profiles, *vars_, *args],
        }
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline() or '{"success": false, "error": "driver died"}')
        assert answer["success"], f"dbt {' '.join(args)} failed: {answer['error']}"

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@dataclass
class Warehouse:
    engine: str
    loader_config: dict[str, Any]
    schema: str  # raw tables and the incrementally updated models
    full_schema: str  # the same models rebuilt from scratch
    dbt_env: dict[str, str]
    rows_of: Any
    dbt: DbtSession
    state: dict[str, Any] = field(default_factory=dict)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.rows_of(sql)

    def models_env(self, schema: str) -> dict[str, str]:
        variable = f"TARGET_{self.engine.upper()}_DEFAULT_TARGET_SCHEMA"
        return {**self.dbt_env, variable: schema, "RAW_SCHEMA": self.schema}


def loader_settings(name: str) -> dict[str, Any]:
    """The loader's settings as meltano.yml gives them."""
    plugins = yaml.safe_load((ROOT / "meltano.yml").read_text())["plugins"]["loaders"]
    (plugin,) = [plugin for plugin in plugins if plugin["name"] == name]
    return {setting["name"]: setting["value"] for setting in plugin["settings"] if "value" in setting}


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    engine = request.param
    env = {
        "MELTANO_PROJECT_ROOT": str(ROOT),
        "DBT_TARGET_PATH": str(tmp_path / "dbt-target"),
        "DBT_LOG_PATH": str(tmp_path / "dbt-logs"),
    }
    if engine == "duckdb":
        path = tmp_path / "warehouse.duckdb"
        env["TARGET_DUCKDB_FILEPATH"] = str(path)

        def rows(sql: str) -> list[tuple[Any, ...]]:
            connection = duckdb.connect(str(path), read_only=True)  # closed: the loader needs the file
            try:
                return connection.execute(sql).fetchall()
            finally:
                connection.close()

        config = {**loader_settings("target-duckdb"), "filepath": str(path), "default_target_schema": "auth0_events"}
        dbt = DbtSession(engine)
        try:
            yield Warehouse(engine, config, "auth0_events", "auth0_full", env, rows, dbt)
        finally:
            dbt.close()
        return
    connection = connect_or_skip()
    schema = f"auth0_incr_{secrets.token_hex(4)}"
    env.update(
        {
            "TARGET_POSTGRES_HOST": HOST,
            "TARGET_POSTGRES_PORT": str(PORT),
            "TARGET_POSTGRES_USER": USER,
            "TARGET_POSTGRES_PASSWORD": PASSWORD,
            "TARGET_POSTGRES_DATABASE": connection.info.dbname,
        }
    )

    def pg_rows(sql: str) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    config = {
        **loader_settings("target-postgres"),
        "host": HOST,
        "port": PORT,
        "user": USER,
        "password": PASSWORD,
        "database": connection.info.dbname,
        "default_target_schema": schema,
    }
    dbt = DbtSession(engine)
    try:
        yield Warehouse(engine, config, schema, schema + "_full", env, pg_rows, dbt)
    finally:
        dbt.close()
        for name in (schema, schema + "_full"):
            connection.execute(f'drop schema if exists "{name}" cascade')
        connection.close()


def load(warehouse: Warehouse, emulator: Emulator, tmp: Path, baseline: str = "never") -> None:
    """tap-auth0-events | target-<engine>, from the STATE the last load left. `baseline`: the tap's
    setting (never by default: the emulator's token has read:events only, unless it grants more)."""
    tap_config, target_config, state = tmp / "tap.json", tmp / "target.json", tmp / "state.json"
    tap_config.write_text(
        json.dumps(
            {
                "api_url": emulator.url,
                "api_token": TOKEN,
                "start_date": "2000-01-01T00:00:00Z",
                "idle_timeout_seconds": 1,
                "read_timeout_seconds": 5,
                "max_run_seconds": 60,
                "baseline": baseline,
            }
        )
    )
    target_config.write_text(json.dumps(warehouse.loader_config))
    state.write_text(json.dumps(warehouse.state))
    target = PLUGINS / "loaders" / f"target-{warehouse.engine}" / "venv" / "bin" / f"target-{warehouse.engine}"
    env = clean_environ()
    with open(tmp / "tap.log", "w") as tap_log, open(tmp / "target.log", "w") as target_log:
        tap = subprocess.Popen(
            [TAP, "--config", str(tap_config), "--state", str(state)], stdout=subprocess.PIPE, stderr=tap_log, env=env
        )
        loader = subprocess.run(
            [str(target), "--config", str(target_config)],
            stdin=tap.stdout,
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
            check=False,
        )
        assert tap.stdout is not None
        tap.stdout.close()
        assert tap.wait(timeout=60) == 0, (tmp / "tap.log").read_text()[-3000:]
        target_log.write(loader.stderr)
    assert loader.returncode == 0, loader.stderr[-3000:]
    states = [line for line in loader.stdout.splitlines() if line.strip()]
    if states:
        last = json.loads(states[-1])
        warehouse.state = last.get("value", last)


# -- the random life of a tenant ---------------------------------------------------------------------


# -- the checks ----------------------------------------------------------------------------------------


def _ordered(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=lambda row: json.dumps(row, default=str, sort_keys=True))


def check_equal_to_full_refresh(warehouse: Warehouse, when: str) -> None:
    warehouse.dbt.run(warehouse.models_env(warehouse.full_schema), "--full-refresh")
    for model in (*MODELS, *INTERMEDIATE):
        # Every column but the time of the run that applied the row (a full refresh applies all at once).
        found = warehouse.rows(
            "select column_name from information_schema.columns "
            f"where table_schema = '{warehouse.schema}' and table_name = '{model}' order by ordinal_position"
        )
        columns = ", ".join(name for (name,) in found if name not in ("applied_at", "seen_at"))
        assert columns, f"{model}: no columns"
        incremental = _ordered(warehouse.rows(f"select {columns} from {warehouse.schema}.{model}"))
        full = _ordered(warehouse.rows(f"select {columns} from {warehouse.full_schema}.{model}"))
        if incremental != full:
            keys = KEYS.get(model, 1)
            a = {row[:keys]: row for row in incremental}
            b = {row[:keys]: row for row in full}
            differ = sorted((key for key in a.keys() | b.keys() if a.get(key) != b.get(key)), key=str)[:3]
            shown = "\n".join(f"  {key}:\n    incremental {a.get(key)}\n    full        {b.get(key)}" for key in differ)
            raise AssertionError(
                f"{when}: {model} differs from a full refresh ({len(incremental)} vs {len(full)} rows):\n{shown}"
            )


def test_incremental_runs_equal_a_full_refresh_and_the_world(warehouse: Warehouse, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    emulator = Emulator(fast_config(initial_events=0)).start()
    tenant = Tenant(rng, emulator.config.tenant)
    # The tenant lived before its log began: these events are never delivered, so the first
    # event of many an entity and relation is an update, a deletion or a removal.
    before_log = tenant.events(BEFORE_LOG_EVENTS)
    tenant.snapshots.clear()
    delivered: list[dict[str, Any]] = []
    try:
        for round_number in range(1, ROUNDS + 1):
            batch = tenant.events(400 if round_number == 1 else rng.randrange(80, 200))
            # The oldest part of the round arrives last, after newer events of the same entities.
            late = rng.randrange(len(batch) // 5, len(batch) // 2)
            newer, older = batch[late:], batch[:late]
            again = rng.sample(delivered, min(len(delivered), rng.randrange(0, 15)))
            for part, label in (
                (newer + again + rng.sample(newer, min(5, len(newer))), "newer part"),
                (older, "late part"),
            ):
                when = f"round {round_number}, after the {label}"
                rng.shuffle(part)
                for event in part:
                    emulator.append_event(event)
                load(warehouse, emulator, tmp_path)
                # DuckDB's loader may drop a test event (see check_raw_tables); never another one.
                test_events_kept = check_raw_tables(
                    warehouse.rows, warehouse.schema, emulator, test_events_may_be_lost=warehouse.engine == "duckdb"
                )
                warehouse.dbt.run(warehouse.models_env(warehouse.schema))
                check_equal_to_full_refresh(warehouse, when)
                oracle = check_history_models(warehouse.rows, warehouse.schema, emulator, when, INSTANTS)
            delivered.extend(batch)
            # Every event up to now has arrived: the history at each instant the world was copied
            # (this round's and the earlier ones', which later events must not have disturbed), as
            # far as the log tells of the world before it (the models equal the oracle, above).
            for shot in tenant.snapshots:
                check_oracle_against_world(oracle, shot, log_began_later=True)
            assert check_history_at(
                warehouse.rows, warehouse.schema, oracle, [s.moment for s in tenant.snapshots], when
            )
        # Lives before the log were found: keys whose first event is not their creation.
        revealed = {
            family.name: sum(1 for steps in oracle.steps[family.name].values() if steps[0].time == BEFORE_LOG)
            for family in FAMILIES
        }
        assert revealed["users"] and revealed["organization_members"] and revealed["organizations"], revealed
        assert len(before_log) >= BEFORE_LOG_EVENTS
        # The rounds did exercise what they are for.
        assert tenant.recreated >= 2, "entities were deleted and created again"
        assert tenant.test_events >= 2 and tenant.generator.test_events_emitted >= 2, "test events were delivered"
        assert test_events_kept >= 5, "test events reached the raw tables (and the models ignored them)"
        types = {event["type"] for event in delivered}
        assert set(FORCED) <= types, "every kind of deletion happened"
        assert len(tenant.snapshots) >= 5, "the world was copied at several instants"
        assert tenant.ties >= 2, "updates of one user at the same instant were delivered"
    finally:
        emulator.stop()


# -- the baseline ----------------------------------------------------------------------------------

BASELINE_WORLD = {
    "initial_events": 300,
    "users_before": 120,
    "organizations_before": 6,
    "groups_before": 4,
    "members_per_organization": 8,
    "grant_read_scopes": True,  # the token may read what the baseline reads
}


def replay_keys(replay: Replay) -> dict[str, set[tuple[str, ...]]]:
    """The key of every entity and relation the replayed tenant holds, per family."""
    return {
        "users": {(key,) for key in replay.users},
        "organizations": {(key,) for key in replay.organizations},
        "groups": {(key,) for key in replay.groups},
        "connections": {(key,) for key in replay.connections},
        "organization_members": {(org, user) for org, users in replay.members.items() for user in users},
        "organization_member_roles": {
            (org, user, role)
            for org, users in replay.members.items()
            for user, roles in users.items()
            for role in roles
        },
        "organization_connections": {(org, con) for org, cons in replay.org_connections.items() for con in cons},
        "group_members": {(group, member) for group, members in replay.group_members.items() for member in members},
        "group_roles": {(group, role) for group, roles in replay.group_roles.items() for role in roles},
        "organization_group_roles": {
            (org, group, role) for (org, group), roles in replay.org_group_roles.items() for role in roles
        },
    }


def model_keys(warehouse: Warehouse, table: str, where: str = "") -> dict[str, set[tuple[str, ...]]]:
    """The keys of each family's `table` (current_{name} or {name}_history) in the models' schema."""
    found = {}
    for family in FAMILIES:
        name = table.format(name=family.name)
        rows = warehouse.rows(f"select {', '.join(family.key_columns)} from {warehouse.schema}.{name} {where}")
        found[family.name] = set(rows)
    return found


def known_keys(warehouse: Warehouse) -> dict[str, set[tuple[str, ...]]]:
    """The keys some event or baseline record names, per family: all the models can know of."""
    return model_keys(warehouse, "{name}_history")


def check_keys(
    found: dict[str, set[tuple[str, ...]]],
    truth: dict[str, set[tuple[str, ...]]],
    when: str,
    known: dict[str, set[tuple[str, ...]]] | None = None,
) -> None:
    """`found` holds exactly the keys of `truth` (of those in `known`, when given: a relation that
    ended before the log with no event and no baseline to tell of it is unknowable)."""
    for name, keys in truth.items():
        if known is not None:
            keys = keys & known[name]
        extra, missing = sorted(found[name] - keys), sorted(keys - found[name])
        assert not extra and not missing, f"{when}: {name}: {extra[:3]} should not be there, {missing[:3]} should"


# Deletions the log misses in the second round: only the baseline after them can tell of them.
LOST = [
    "user.deleted",
    "organization.deleted",
    "organization.member.deleted",
    "organization.member.role.deleted",
    "organization.connection.removed",
    "group.deleted",
    "group.member.deleted",
    "group.role.deleted",
    "organization.group.role.deleted",
    "connection.deleted",
]


def test_a_baseline_makes_every_model_the_tenant_and_its_past(warehouse: Warehouse, tmp_path: Path) -> None:
    """A first run with a baseline of a tenant with a past: every current model holds what the
    Management API answers, the history at random instants what the world before the log replayed
    with the events says, and incremental runs equal a full refresh, through live events, deletions
    the log missed, a second baseline that reconciles them, and live events after it."""
    rng = random.Random(SEED)
    with Emulator(fast_config(**BASELINE_WORLD)) as emulator:
        replay_from = emulator.tenant_before_log()
        load(warehouse, emulator, tmp_path, baseline="first_run")
        (records,) = warehouse.rows(f"select count(*) from {warehouse.schema}.baseline_users")[0:1]
        assert records[0] > BASELINE_WORLD["users_before"] // 2, "the baseline was loaded"
        warehouse.dbt.run(warehouse.models_env(warehouse.schema))
        check_keys(
            model_keys(warehouse, "current_{name}"), replay_keys(Replay(emulator.tenant())), "after the baseline"
        )
        check_equal_to_full_refresh(warehouse, "after the baseline")
        lost: list[dict[str, Any]] = []
        for round_number in (1, 2, 3):
            emulator.append(rng.randrange(40, 120))
            if round_number == 2:
                before = emulator.tenant()
                lost = [event for event_type in LOST for event in emulator.lose(event_type)]
                assert emulator.tenant() != before, "the lost deletions changed the tenant"
                # The baseline's started_at is Auth0's Date (whole seconds): start it in a later
                # second than the events, so that none of them falls within its read.
                time.sleep(1.1)
            load(warehouse, emulator, tmp_path, baseline="now" if round_number == 2 else "never")
            when = f"round {round_number}"
            warehouse.dbt.run(warehouse.models_env(warehouse.schema))
            check_keys(model_keys(warehouse, "current_{name}"), replay_keys(Replay(emulator.tenant())), when)
            check_equal_to_full_refresh(warehouse, when)
        # The second baseline closed what the lost deletions removed, as found by reconciliation.
        (started,) = warehouse.rows(f"select max(started_at) from {warehouse.schema}.baselines")[0]
        reconciled = warehouse.rows(
            f"select count(*) from {warehouse.schema}.users_history where ended_by_reconciliation"
            f" and valid_to = (select max(started_at) from {warehouse.schema}.baselines)"
        )
        assert reconciled[0][0] >= 1, "the user deleted without an event was closed by reconciliation"
        # The history: what existed at random instants of the log, and before it; a lost deletion
        # counts from the start of the baseline that found it.
        second_baseline = stamp(started)
        timeline = sorted(
            [(event["time"], event) for event in (event_of(stored) for stored in emulator.log.events)]
            + [(second_baseline, event) for event in lost],
            key=lambda pair: pair[0],
        )
        times = sorted({moment for moment, _ in timeline})
        known = known_keys(warehouse)
        for instant in ["2000-01-01T00:00:00.000Z", second_baseline, *rng.sample(times, 8)]:
            replay = Replay(replay_from)
            for moment, event in timeline:
                if moment <= instant:
                    replay.apply(event)
            at = f"where valid_from <= '{instant[:-1]}' and (valid_to is null or valid_to > '{instant[:-1]}')"
            check_keys(
                model_keys(warehouse, "{name}_history", at), replay_keys(replay), f"the history at {instant}", known
            )


def stamp(moment: datetime) -> str:
    """A warehouse timestamp (UTC) as the events write their time: 2026-12-07T17:22:46.123Z."""
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


@pytest.mark.postgres
def test_a_load_committing_while_dbt_runs_is_read_by_a_run(tmp_path: Path) -> None:
    """On PostgreSQL the loader may commit while dbt runs, and a load that drew lower load markers
    may commit after one that drew higher ones (macros/load_markers.sql). A run must then wait for
    it or leave it to the next run; never record the higher markers and skip the lower ones."""
    connection = connect_or_skip()
    schema = f"auth0_lock_{secrets.token_hex(4)}"
    emulator = Emulator(fast_config(initial_events=0)).start()
    tenant = Tenant(random.Random(SEED), emulator.config.tenant)
    env = {
        "MELTANO_PROJECT_ROOT": str(ROOT),
        "DBT_TARGET_PATH": str(tmp_path / "dbt-target"),
        "DBT_LOG_PATH": str(tmp_path / "dbt-logs"),
        "TARGET_POSTGRES_HOST": HOST,
        "TARGET_POSTGRES_PORT": str(PORT),
        "TARGET_POSTGRES_USER": USER,
        "TARGET_POSTGRES_PASSWORD": PASSWORD,
        "TARGET_POSTGRES_DATABASE": connection.info.dbname,
    }
    config = {
        **loader_settings("target-postgres"),
        **{"host": HOST, "port": PORT, "user": USER, "password": PASSWORD},
        **{"database": connection.info.dbname, "default_target_schema": schema},
    }
    dbt = DbtSession("postgres")
    warehouse = Warehouse("postgres", config, schema, schema + "_full", env, None, dbt)

    def rows(sql: str) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    warehouse.rows_of = rows
    loader = psycopg.connect(connection.info.dsn, password=PASSWORD or None)  # the loader's transaction
    try:
        for event in tenant.events(300):
            emulator.append_event(event)
        load(warehouse, emulator, tmp_path)
        dbt.run(warehouse.models_env(schema))  # the markers are added, every event seen

        def copy_of_an_event(table: str) -> tuple[str, str]:
            """SQL inserting a copy of one of `table`'s events under a new event id, as the loader
            inserts (the columns named, the marker drawn from its default); the new id."""
            found = rows(
                "select column_name from information_schema.columns where table_schema = "
                f"'{schema}' and table_name = '{table}' and column_name <> '_auth0_events_loaded'"
            )
            columns = ", ".join(f'"{name}"' for (name,) in found)
            copied = ", ".join("%(id)s" if name == "event_id" else f'"{name}"' for (name,) in found)
            event_id = f"evt_{secrets.token_hex(8)}"
            sql = f'insert into "{schema}"."{table}" ({columns}) select {copied} from "{schema}"."{table}" limit 1'
            return sql, event_id

        held_sql, held_id = copy_of_an_event("user_created")
        committed_sql, committed_id = copy_of_an_event("user_updated")
        loader.execute(held_sql, {"id": held_id})  # draws the lower marker; not committed yet
        with connection.cursor() as cursor:  # autocommit: a later load, committed first
            cursor.execute(committed_sql, {"id": committed_id})
        errors: list[BaseException] = []
        run = threading.Thread(target=_capture, args=(lambda: dbt.run(warehouse.models_env(schema)), errors))
        run.start()
        waited = False
        for _ in range(300):  # until dbt waits for the held transaction, or has finished without it
            if not run.is_alive():
                break
            waiting = rows(
                "select count(*) from pg_locks join pg_class on pg_class.oid = pg_locks.relation "
                "where not pg_locks.granted and pg_class.relname = 'user_created' "
                f"and pg_class.relnamespace = '{schema}'::regnamespace"
            )
            if waiting[0][0]:
                waited = True
                break
            time.sleep(0.1)
        loader.commit()
        run.join(timeout=300)
        assert not errors, errors
        dbt.run(warehouse.models_env(schema))  # the next run
        seen = {event_id for (event_id,) in rows(f'select event_id from "{schema}".int_seen_events')}
        assert committed_id in seen
        assert held_id in seen, f"the event committed late was never read (the run waited for it: {waited})"
        assert waited, "the run did not wait for the load in flight"
        check_equal_to_full_refresh(warehouse, "after the late commit")
    finally:
        loader.close()
        dbt.close()
        emulator.stop()
        for name in (schema, schema + "_full"):
            connection.execute(f'drop schema if exists "{name}" cascade')
        connection.close()


def _capture(call: Any, errors: list[BaseException]) -> None:
    try:
        call()
    except BaseException as error:  # re-raised by the test's thread
        errors.append(error)
