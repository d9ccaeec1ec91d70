"""From a user's own project: the tap and its models installed into a Meltano project made with
`meltano init` in a temporary directory outside this repository, step by step as README's
"Meltano" section tells a user to, then loaded from the emulator and built there.

One Meltano project serves both engines (its plugins are installed once):

    meltano init own
    meltano add --plugin-type extractor tap-auth0-events --from-ref tap-auth0-events.yml
        (plugins/extractors/tap-auth0-events.yml with pip_url: the wheel built from this checkout)
    meltano add --plugin-type loader target-duckdb --from-ref plugins/loaders/target-duckdb.yml
    meltano add --plugin-type loader target-postgres --from-ref plugins/loaders/target-postgres.yml
    meltano add --plugin-type transformer dbt-duckdb --from-ref plugins/transformers/dbt-duckdb.yml
    meltano add --plugin-type transformer dbt-postgres --from-ref plugins/transformers/dbt-postgres.yml
    transform/: the user's dbt project, with a model of its own and our package in packages.yml
    meltano invoke dbt-duckdb deps
    meltano run tap-auth0-events target-<engine> dbt-<engine>:build

Then every model (current_* and int_*) must equal, row for row, what this repository's own
pipeline (meltano.yml, analytics/) builds from the same events; after more events, a second
`meltano run ... dbt-<engine>:run` there must update the models incrementally (rows applied by the
first run keep their time) and still equal this repository's build of all the events.
`pytest -s` prints the commands and what they printed.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_warehouse_duckdb import DuckDBWarehouse
from test_warehouse_postgres import HOST, PASSWORD, PORT, USER, PostgresWarehouse, connect_or_skip
from warehouse_helpers import (
    INTERMEDIATE,
    MELTANO,
    MODELS,
    ROOT,
    Scenario,
    check_models,
    clean_environ,
    expected_state,
    meltano_env,
    meltano_run,
    start_scenario,
)

pytestmark = pytest.mark.integration

Rows = Callable[[str], list[tuple[Any, ...]]]
# When a run applied or saw an event, and the load marker the loader's insert drew: facts of
# the runs and loads, not of the events, so they differ between two projects built at other moments.
RUN_TIMES = ("applied_at", "seen_at", "loaded")
USER_MODEL = "my_user_count"
# What a run's output shows in the transcript (a whole `meltano run` log is hundreds of lines).
_SHOWN = re.compile(
    r"pass finished|Installed|Added|Done\. PASS=|Completed successfully|Block run completed|Installing|"
    r"Extractor '|Loader '|Transformer '|required by groups|created at|ERROR|Error|error"
)


@dataclass
class OwnProject:
    """A user's Meltano project, with its dbt project in transform/."""

    path: Path
    transcript: list[str] = field(default_factory=list)

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
        completed = subprocess.run(
            [MELTANO, *args],
            cwd=self.path,
            env=env or _user_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output = completed.stdout + completed.stderr
        self.note(f"$ meltano {' '.join(args)}", output)
        assert completed.returncode == 0, f"meltano {' '.join(args)} failed:\n{output[-6000:]}"
        return output

    def note(self, command: str, output: str) -> None:
        lines = output.splitlines()
        shown = lines if len(lines) <= 12 else [line for line in lines if _SHOWN.search(line)]
        self.transcript.append("\n".join([command, *(f"  {line.strip()}" for line in shown)]))


def _user_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**clean_environ(), "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", **(extra or {})}


def _write_dbt_project(project: Path) -> None:
    """The user's dbt project: a model of its own, our package from this checkout, the profiles
    of this repository's (they read the loaders' variables) under the project's profile name."""
    transform = project / "transform"
    (transform / "models").mkdir(parents=True)
    (transform / "dbt_project.yml").write_text(
        'name: my_analytics\nversion: "1.0.0"\nconfig-version: 2\nprofile: my_analytics\n'
    )
    (transform / "packages.yml").write_text(f"packages:\n  - local: {ROOT / 'transform'}\n")
    (transform / "models" / f"{USER_MODEL}.sql").write_text(
        "select count(*) as users from {{ ref('auth0_events__current_users') }}\n"
    )
    for engine in ("duckdb", "postgres"):
        profile = (ROOT / "transform" / "profiles" / engine / "profiles.yml").read_text()
        (transform / "profiles" / engine).mkdir(parents=True)
        (transform / "profiles" / engine / "profiles.yml").write_text(
            profile.replace("\ntap_auth0_events:\n", "\nmy_analytics:\n")
        )


@pytest.fixture(scope="module")
def own_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnProject]:
    base = tmp_path_factory.mktemp("own")
    assert ROOT not in base.parents, "the project lives outside the repository"
    init = subprocess.run(
        [MELTANO, "init", "own", "--no-usage-stats"], cwd=base, env=_user_env(), capture_output=True, text=True
    )
    assert init.returncode == 0, init.stderr[-4000:]
    project = OwnProject(base / "own")
    project.note("$ meltano init own --no-usage-stats", init.stdout + init.stderr)

    # The tap from a wheel of this checkout: the plugin definition with pip_url pointing at it.
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(base / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (base / "dist").glob("tap_auth0_events-*.whl")
    definition = (ROOT / "plugins" / "extractors" / "tap-auth0-events.yml").read_text()
    assert "\npip_url: tap-auth0-events\n" in definition
    local = base / "tap-auth0-events.yml"
    local.write_text(definition.replace("\npip_url: tap-auth0-events\n", f"\npip_url: {wheel}\n"))
    project.note(f"(tap-auth0-events.yml: plugins/extractors/tap-auth0-events.yml with pip_url: {wheel.name})", "")

    project.run("add", "--plugin-type", "extractor", "tap-auth0-events", "--from-ref", str(local))
    for kind, name in (
        ("loader", "target-duckdb"),
        ("loader", "target-postgres"),
        ("transformer", "dbt-duckdb"),
        ("transformer", "dbt-postgres"),
    ):
        project.run(
            "add", "--plugin-type", kind, name, "--from-ref", str(ROOT / "plugins" / f"{kind}s" / f"{name}.yml")
        )
    _write_dbt_project(project.path)
    project.note("(transform/: dbt_project.yml, packages.yml, models/my_user_count.sql, profiles/)", "")
    project.run("invoke", "dbt-duckdb", "deps")
    yield project
    print("\n\n".join(project.transcript))


def test_meltano_add_from_ref_gives_a_working_extractor_and_no_other_plugin(own_project: OwnProject) -> None:
    meltano_yml = yaml.safe_load((own_project.path / "meltano.yml").read_text())
    plugins = meltano_yml["plugins"]
    assert sorted(plugins) == ["extractors", "loaders", "transformers"], "no stray utilities: entry"
    (extractor,) = plugins["extractors"]
    assert extractor["name"] == "tap-auth0-events" and len(extractor["settings"]) >= 12
    # The installed tap answers --about with the definition's settings.
    about = own_project.run("invoke", "tap-auth0-events", "--about", "--format=json")
    for setting in extractor["settings"]:
        assert f'"{setting["name"]}"' in about, setting["name"]
    # Meltano knows which settings are secret and which groups are required.
    listed = own_project.run("config", "list", "tap-auth0-events")
    assert "(required by groups" in listed
    linked = own_project.path / "transform" / "dbt_packages" / "auth0_events"
    assert linked.resolve() == (ROOT / "transform").resolve(), "dbt deps linked the local package"


# -- the same events, built in the user's project and in this repository ------------------------------


@dataclass
class Engine:
    name: str
    own_env: Callable[[Scenario], dict[str, str]]  # the user's project's loader and dbt settings
    repo_extra: Callable[[Path], dict[str, str]]  # this repository's pipeline, into a place of its own
    own_rows: Rows
    repo_rows: Callable[[Path], Rows]
    own_schema: str
    repo_schema: Callable[[Path], str]


def _tap_env(scenario: Scenario) -> dict[str, str]:
    return {
        "TAP_AUTH0_EVENTS_API_URL": scenario.emulator.url,
        "TAP_AUTH0_EVENTS_API_TOKEN": "emulator-token",
        "TAP_AUTH0_EVENTS_START_DATE": "2000-01-01T00:00:00Z",
        "TAP_AUTH0_EVENTS_IDLE_TIMEOUT_SECONDS": "2",
        "TAP_AUTH0_EVENTS_READ_TIMEOUT_SECONDS": "2",
        "TAP_AUTH0_EVENTS_MAX_RUN_SECONDS": "120",
        "TAP_AUTH0_EVENTS_BASELINE": "never",  # the emulator's token has read:events only
    }


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "duckdb":
        own = tmp_path / "own.duckdb"
        yield Engine(
            "duckdb",
            own_env=lambda scenario: {**_tap_env(scenario), "TARGET_DUCKDB_FILEPATH": str(own)},
            repo_extra=lambda place: {"TARGET_DUCKDB_FILEPATH": str(place / "repo.duckdb")},
            own_rows=DuckDBWarehouse(own).rows,
            repo_rows=lambda place: DuckDBWarehouse(place / "repo.duckdb").rows,
            own_schema="auth0_events",
            repo_schema=lambda place: "auth0_events",
        )
        return
    connection = connect_or_skip()
    prefix = f"auth0_own_{secrets.token_hex(3)}"
    server = {
        "TARGET_POSTGRES_HOST": HOST,
        "TARGET_POSTGRES_PORT": str(PORT),
        "TARGET_POSTGRES_USER": USER,
        "TARGET_POSTGRES_PASSWORD": PASSWORD,
        "TARGET_POSTGRES_DATABASE": connection.info.dbname,
    }

    rows = PostgresWarehouse(connection, prefix).rows

    def repo_schema(place: Path) -> str:
        return f"{prefix}_{place.name}"

    try:
        yield Engine(
            "postgres",
            own_env=lambda scenario: {
                **_tap_env(scenario),
                **server,
                "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": f"{prefix}_user",
            },
            repo_extra=lambda place: {**server, "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": repo_schema(place)},
            own_rows=rows,
            repo_rows=lambda place: rows,
            own_schema=f"{prefix}_user",
            repo_schema=repo_schema,
        )
    finally:
        for schema in [f"{prefix}_user", repo_schema(tmp_path / "first"), repo_schema(tmp_path / "second")]:
            connection.execute(f'drop schema if exists "{schema}" cascade')
        connection.close()


def _model_rows(rows: Rows, schema: str, table: str) -> list[tuple[Any, ...]]:
    """Every row of a model, every column but the run times, in a fixed order."""
    found = rows(
        "select column_name from information_schema.columns "
        f"where table_schema = '{schema}' and table_name = '{table}' order by ordinal_position"
    )
    columns = [name for (name,) in found if name not in RUN_TIMES]
    assert columns, f"{schema}.{table} is missing"
    return sorted(rows(f"select {', '.join(columns)} from {schema}.{table}"), key=repr)


def _repo_build(engine: Engine, scenario: Scenario, place: Path) -> dict[str, list[tuple[Any, ...]]]:
    """This repository's pipeline (meltano.yml, analytics/) over every event, from scratch."""
    place.mkdir()
    env = meltano_env(place, scenario.emulator, engine.repo_extra(place))
    meltano_run(env, "tap-auth0-events", f"target-{engine.name}", f"dbt-{engine.name}:run")
    rows, schema = engine.repo_rows(place), engine.repo_schema(place)
    return {table: _model_rows(rows, schema, table) for table in (*MODELS, *INTERMEDIATE)}


def _assert_same_models(engine: Engine, repo: dict[str, list[tuple[Any, ...]]]) -> None:
    for table, expected in repo.items():
        got = _model_rows(engine.own_rows, engine.own_schema, table)
        assert got == expected, f"{table}: the user's project and this repository's build differ"


def test_own_project_builds_the_models_this_repository_builds_then_updates_them_incrementally(
    own_project: OwnProject, engine: Engine, tmp_path: Path
) -> None:
    scenario = start_scenario(initial_events=800)
    try:
        env = _user_env(engine.own_env(scenario))
        first = own_project.run("run", "tap-auth0-events", f"target-{engine.name}", f"dbt-{engine.name}:build", env=env)
        assert re.search(r"Done\. PASS=\d+ WARN=0 ERROR=0", first), "dbt build: models and their tests passed"
        rows, schema = engine.own_rows, engine.own_schema
        check_models(rows, schema, expected_state(scenario))
        assert rows(f"select users from {schema}.{USER_MODEL}") == rows(f"select count(*) from {schema}.current_users")
        _assert_same_models(engine, _repo_build(engine, scenario, tmp_path / "first"))
        seen_first = rows(f"select count(*), max(seen_at) from {schema}.int_seen_events")[0]

        appended = scenario.emulator.append(60)
        own_project.run("run", "tap-auth0-events", f"target-{engine.name}", f"dbt-{engine.name}:run", env=env)
        # Incremental: what the first run applied keeps its time; the new events got the second run's.
        times = rows(f"select seen_at, count(*) from {schema}.int_seen_events group by seen_at order by seen_at")
        assert len(times) == 2 and times[0] == (seen_first[1], seen_first[0]), times
        assert 0 < times[1][1] <= len(appended)
        check_models(rows, schema, expected_state(scenario))
        _assert_same_models(engine, _repo_build(engine, scenario, tmp_path / "second"))
    finally:
        scenario.emulator.stop()
