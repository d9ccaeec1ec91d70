"""Into DuckDB: `meltano run tap-auth0-events target-duckdb dbt-duckdb:run`, then the demo.

One pipeline per module (dbt is slow to start): the emulator's seeded history plus life cycles
delivered newest first, and one event sent twice. The checks compare the raw tables with the
emulator's log and the current-state models with the generator's world.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from warehouse_helpers import (
    INTERMEDIATE,
    MODELS,
    ROOT,
    STREAMS,
    Pipeline,
    base_tables,
    check_history_models,
    check_models,
    check_raw_tables,
    check_scenario_outcomes,
    clean_environ,
    expected_state,
    meltano_env,
    meltano_run,
    start_scenario,
    table_types,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCHEMA = "auth0_events"
PIPELINE = ("tap-auth0-events", "target-duckdb", "dbt-duckdb:run")


@dataclass
class DuckDBWarehouse:
    path: Path

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        # A connection per query: an open one would lock the file against the next meltano run.
        connection = duckdb.connect(str(self.path), read_only=True)
        try:
            return connection.execute(sql).fetchall()
        finally:
            connection.close()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline[DuckDBWarehouse]]:
    tmp = tmp_path_factory.mktemp("duckdb")
    scenario = start_scenario()
    try:
        env = meltano_env(tmp, scenario.emulator, {"TARGET_DUCKDB_FILEPATH": str(tmp / "warehouse.duckdb")})
        first = meltano_run(env, *PIPELINE, "dbt-duckdb:test")
        yield Pipeline(scenario, env, DuckDBWarehouse(tmp / "warehouse.duckdb"), first)
    finally:
        scenario.emulator.stop()


def test_each_event_type_gets_a_table_with_each_event_once(pipeline: Pipeline) -> None:
    emulator, rows = pipeline.scenario.emulator, pipeline.warehouse.rows
    assert not emulator.plans, "the planned duplicate delivery happened"
    assert pipeline.first.emitted == len(emulator.log) + 1, "the tap emitted one event twice"
    assert base_tables(rows, SCHEMA) == set(STREAMS) | set(MODELS) | set(INTERMEDIATE)
    check_raw_tables(rows, SCHEMA, emulator)


def test_meltano_runs_the_tap_on_its_fast_path(pipeline: Pipeline) -> None:
    # Meltano's invocation (config, catalog and state files, no stream maps) writes records as raw JSON.
    assert "on one connection (fast path)" in pipeline.first.output, pipeline.first.tail()


def test_columns_are_typed(pipeline: Pipeline) -> None:
    rows = pipeline.warehouse.rows
    raw = table_types(rows, SCHEMA, "user_created")
    assert raw["event_time"] == "timestamp"
    assert raw["event_id"] == raw["event_offset"] == "varchar"
    assert raw["object"] == raw["context"] == raw["previous_object"] == "json"
    users = table_types(rows, SCHEMA, "current_users")
    assert (users["updated_at"], users["email_verified"], users["logins_count"]) == ("timestamp", "boolean", "bigint")
    assert users["user_metadata"] == "json"


def test_current_state_models_equal_the_emulators_world(pipeline: Pipeline) -> None:
    rows = pipeline.warehouse.rows
    check_models(rows, SCHEMA, expected_state(pipeline.scenario))
    check_scenario_outcomes(rows, SCHEMA, pipeline.scenario)


def test_history_models_follow_the_events_and_end_in_the_current_models(pipeline: Pipeline) -> None:
    # The seeded history plus the life cycles delivered newest first, one event twice.
    warehouse = pipeline.warehouse
    check_history_models(warehouse.rows, SCHEMA, pipeline.scenario.emulator, "duckdb pipeline")


def test_dbt_tests_on_the_keys_pass(pipeline: Pipeline) -> None:
    # The last dbt summary is `dbt-duckdb:test`'s (unique / not_null / composite keys).
    summary = re.findall(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+)", pipeline.first.output)[-1]
    passed, warned, failed = map(int, summary)
    assert passed >= 20 and warned == failed == 0, pipeline.first.tail()


def test_a_second_run_adds_only_the_new_events(pipeline: Pipeline) -> None:
    emulator = pipeline.scenario.emulator
    appended = emulator.append(40)
    again = meltano_run(pipeline.env, *PIPELINE)
    assert again.emitted == len(appended), "the run resumed from STATE"
    check_raw_tables(pipeline.warehouse.rows, SCHEMA, emulator)
    check_models(pipeline.warehouse.rows, SCHEMA, expected_state(pipeline.scenario))


def test_a_full_refresh_replays_everything_and_leaves_one_row_per_event(pipeline: Pipeline) -> None:
    emulator = pipeline.scenario.emulator
    replay = meltano_run(pipeline.env, *PIPELINE, full_refresh=True)
    assert replay.emitted == len(emulator.log), "every event was delivered again"
    check_raw_tables(pipeline.warehouse.rows, SCHEMA, emulator)
    check_models(pipeline.warehouse.rows, SCHEMA, expected_state(pipeline.scenario))


def test_dbt_profiles_default_to_the_loaders_settings() -> None:
    # dbt reads the loaders' variables; unset, both must fall back to the same values.
    plugins = yaml.safe_load((ROOT / "meltano.yml").read_text())["plugins"]["loaders"]
    defaults = {
        f"{plugin['name'].replace('-', '_').upper()}_{setting['name'].upper()}": str(setting["value"])
        for plugin in plugins
        for setting in plugin["settings"]
        if "value" in setting
    }
    checked = 0
    for engine in ("duckdb", "postgres"):
        profile = (ROOT / "transform" / "profiles" / engine / "profiles.yml").read_text()
        for variable, default in re.findall(r"env_var\('(TARGET_\w+)', '([^']*)'\)", profile):
            assert defaults.get(variable) == default, f"{engine} profile: {variable} defaults to {default!r}"
            checked += 1
    assert checked >= 8


def test_demo_loads_builds_the_models_and_prints_the_summary(tmp_path: Path) -> None:
    warehouse = tmp_path / "demo.duckdb"
    env = clean_environ()
    env.update(
        {
            "DEMO_SKIP_SETUP": "1",  # the suite runs after setup; see scripts/demo.sh
            "DEMO_EVENTS": "800",
            "TARGET_DUCKDB_FILEPATH": str(warehouse),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
            "DBT_TARGET_PATH": str(tmp_path / "dbt-target"),
            "DBT_LOG_PATH": str(tmp_path / "dbt-logs"),
        }
    )
    completed = subprocess.run(
        ["bash", "scripts/demo.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    out = completed.stdout
    assert "progress: " in completed.stderr and "events emitted" in completed.stderr, "the tap logs progress"
    counts = DuckDBWarehouse(warehouse).rows(
        f"select (select count(*) from {SCHEMA}.user_created), (select count(*) from {SCHEMA}.current_users), "
        f"(select count(*) from {SCHEMA}.current_organizations)"
    )[0]
    assert counts[0] >= 1 and counts[1] >= 1
    assert re.search(rf"^  user\.created +{counts[0]} +{counts[0]} ", out, re.M), out
    assert "Current state (dbt models in auth0_events):" in out, out
    assert re.search(rf"^  users +{counts[1]}$", out, re.M), out
    assert re.search(rf"^  organizations +{counts[2]}$", out, re.M), out
    assert "Largest organizations:" in out
    # The demo's first run reads a baseline, and the loader keeps every one of its rows (a batch's
    # first row is what target-duckdb 0.8.0 with DuckDB 2.0 drops when its first column is filled).
    assert re.search(r"^Baseline bsl_\d{8}T\d{6}Z ", out, re.M), out
    warehouse_rows = DuckDBWarehouse(warehouse).rows
    completions = warehouse_rows(f"select stream, records from {SCHEMA}.baselines")
    assert len(completions) == 10
    for stream, records in completions:
        assert warehouse_rows(f"select count(*) from {SCHEMA}.{stream}") == [(records,)], stream
