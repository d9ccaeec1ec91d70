"""Into PostgreSQL: `meltano run tap-auth0-events target-postgres dbt-postgres:run`.

The same scenario and checks as the DuckDB tests, in a schema of its own that is dropped
afterwards. Without a server on 127.0.0.1:5432 (or PGHOST:PGPORT) these tests skip, except in
CI (CI=true), where they fail: CI must run them.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from warehouse_helpers import (
    INTERMEDIATE,
    MODELS,
    STREAMS,
    Pipeline,
    base_tables,
    check_history_models,
    check_models,
    check_raw_tables,
    check_scenario_outcomes,
    expected_state,
    meltano_env,
    meltano_run,
    start_scenario,
    table_types,
)

pytestmark = [pytest.mark.postgres, pytest.mark.integration, pytest.mark.slow]

PIPELINE = ("tap-auth0-events", "target-postgres", "dbt-postgres:run")
HOST = os.environ.get("PGHOST", "127.0.0.1")
PORT = int(os.environ.get("PGPORT", "5432"))
USER = os.environ.get("PGUSER", "postgres")
PASSWORD = os.environ.get("PGPASSWORD", "")


def _server_answers() -> bool:
    try:
        socket.create_connection((HOST, PORT), timeout=2).close()
    except OSError:
        return False
    return True


def connect_or_skip() -> psycopg.Connection[Any]:
    """A connection to the test server; without one the test skips, or fails when CI=true."""
    if not _server_answers():
        reason = f"PostgreSQL is not answering on {HOST}:{PORT} (scripts/postgres.sh starts it)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true requires the PostgreSQL tests to run", pytrace=False)
        pytest.skip(reason)
    return _connect()


def _connect() -> psycopg.Connection[Any]:
    """A connection to PGDATABASE, else to `test` (this project's machines), else `postgres`."""
    names = [os.environ["PGDATABASE"]] if os.environ.get("PGDATABASE") else ["test", "postgres"]
    for name in names:
        try:
            return psycopg.connect(host=HOST, port=PORT, user=USER, password=PASSWORD, dbname=name, autocommit=True)
        except psycopg.OperationalError as error:
            if name == names[-1] or "does not exist" not in str(error):
                raise
    raise AssertionError("unreachable")


@dataclass
class PostgresWarehouse:
    connection: psycopg.Connection[Any]
    schema: str

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()


def loader_environ(connection: psycopg.Connection[Any], schema: str) -> dict[str, str]:
    """The variables that point the loader and dbt at this server's database, in `schema`."""
    return {
        "TARGET_POSTGRES_HOST": HOST,
        "TARGET_POSTGRES_PORT": str(PORT),
        "TARGET_POSTGRES_USER": USER,
        "TARGET_POSTGRES_PASSWORD": PASSWORD,
        "TARGET_POSTGRES_DATABASE": connection.info.dbname,
        "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema,
    }


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline[PostgresWarehouse]]:
    connection = connect_or_skip()
    schema = f"auth0_test_{secrets.token_hex(4)}"  # one schema per run: parallel runs never meet
    tmp = tmp_path_factory.mktemp("postgres")
    scenario = start_scenario()
    try:
        env = meltano_env(tmp, scenario.emulator, loader_environ(connection, schema))
        first = meltano_run(env, *PIPELINE, "dbt-postgres:test")
        yield Pipeline(scenario, env, PostgresWarehouse(connection, schema), first)
    finally:
        scenario.emulator.stop()
        connection.execute(f'drop schema if exists "{schema}" cascade')
        connection.close()


def test_each_event_type_gets_a_table_with_each_event_once(pipeline: Pipeline) -> None:
    emulator, warehouse = pipeline.scenario.emulator, pipeline.warehouse
    assert not emulator.plans, "the planned duplicate delivery happened"
    assert pipeline.first.emitted == len(emulator.log) + 1, "the tap emitted one event twice"
    assert base_tables(warehouse.rows, warehouse.schema) == set(STREAMS) | set(MODELS) | set(INTERMEDIATE)
    check_raw_tables(warehouse.rows, warehouse.schema, emulator)


def test_columns_are_typed(pipeline: Pipeline) -> None:
    warehouse = pipeline.warehouse
    raw = table_types(warehouse.rows, warehouse.schema, "user_created")
    assert raw["event_time"] == "timestamp without time zone"
    assert raw["event_id"] == raw["event_offset"] == "text"
    assert raw["object"] == raw["context"] == raw["previous_object"] == "jsonb"
    (key,) = warehouse.rows(
        "select kcu.column_name from information_schema.table_constraints tc "
        "join information_schema.key_column_usage kcu using (constraint_schema, constraint_name) "
        f"where tc.table_schema = '{warehouse.schema}' and tc.table_name = 'user_created' "
        "and tc.constraint_type = 'PRIMARY KEY'"
    )
    assert key == ("event_id",), "target-postgres keys the table on the tap's key property"
    users = table_types(warehouse.rows, warehouse.schema, "current_users")
    assert users["updated_at"] == "timestamp without time zone"
    assert (users["email_verified"], users["logins_count"], users["user_metadata"]) == ("boolean", "bigint", "jsonb")


def test_the_raw_tables_carry_an_indexed_load_marker_and_the_built_tables_statistics(pipeline: Pipeline) -> None:
    """What keeps an incremental run's cost to what was loaded (docs/warehouse.md, "How the models
    update"): the marker column with its index, recorded for every event seen, and statistics for
    the tables the first run built (without them the planner reads whole tables)."""
    warehouse = pipeline.warehouse
    assert table_types(warehouse.rows, warehouse.schema, "user_created")["_auth0_events_loaded"] == "bigint"
    indexed = warehouse.rows(
        f"select indexdef from pg_indexes where schemaname = '{warehouse.schema}' and tablename = 'user_created'"
    )
    assert any("(_auth0_events_loaded)" in definition for (definition,) in indexed), indexed
    ((seen, marked),) = warehouse.rows(f"select count(*), count(loaded) from {warehouse.schema}.int_seen_events")
    assert seen > 0 and marked == seen, "every event seen is recorded with its load marker"
    built = ("int_seen_events", "int_history_events", "users_history", "daily_organization_members")
    names = ", ".join(f"'{name}'" for name in built)
    analyzed = warehouse.rows(
        f"select distinct tablename from pg_stats where schemaname = '{warehouse.schema}' and tablename in ({names})"
    )
    assert {name for (name,) in analyzed} == set(built)


def test_current_state_models_equal_the_emulators_world(pipeline: Pipeline) -> None:
    warehouse = pipeline.warehouse
    check_models(warehouse.rows, warehouse.schema, expected_state(pipeline.scenario))
    check_scenario_outcomes(warehouse.rows, warehouse.schema, pipeline.scenario)


def test_history_models_follow_the_events_and_end_in_the_current_models(pipeline: Pipeline) -> None:
    # The seeded history plus the life cycles delivered newest first, one event twice.
    warehouse = pipeline.warehouse
    check_history_models(warehouse.rows, warehouse.schema, pipeline.scenario.emulator, "postgres pipeline")


def test_dbt_tests_on_the_keys_pass(pipeline: Pipeline) -> None:
    summary = re.findall(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+)", pipeline.first.output)[-1]
    passed, warned, failed = map(int, summary)
    assert passed >= 20 and warned == failed == 0, pipeline.first.tail()


def test_a_second_run_adds_only_the_new_events(pipeline: Pipeline) -> None:
    emulator, warehouse = pipeline.scenario.emulator, pipeline.warehouse
    appended = emulator.append(40)
    again = meltano_run(pipeline.env, *PIPELINE)
    assert again.emitted == len(appended), "the run resumed from STATE"
    check_raw_tables(warehouse.rows, warehouse.schema, emulator)
    check_models(warehouse.rows, warehouse.schema, expected_state(pipeline.scenario))


def test_a_full_refresh_replays_everything_and_leaves_one_row_per_event(pipeline: Pipeline) -> None:
    emulator, warehouse = pipeline.scenario.emulator, pipeline.warehouse
    replay = meltano_run(pipeline.env, *PIPELINE, full_refresh=True)
    assert replay.emitted == len(emulator.log), "every event was delivered again"
    check_raw_tables(warehouse.rows, warehouse.schema, emulator)
    check_models(warehouse.rows, warehouse.schema, expected_state(pipeline.scenario))
