"""Three tenants side by side under Dagster, into PostgreSQL.

`dagster job execute -m tap_auth0_events_orchestrate.definitions -j auth0_all_tenants` runs the three tenants of
meltano.yml (tap-auth0-events--us, --eu, --au) at once, one process per step, each against an
emulator of its own (its own seed, tenant name and token) and into a schema of its own. Each
tenant then holds what the single-tenant pipeline tests hold, and nothing of another tenant.
In the first run `au` has a wrong token: it fails alone, with its cause and without the token, and
is not retried (the tap marks its line `[exit 3]`); in the second it has the right one and catches
up while the others add only their new events, and `us`, whose API answers 503 until its first
attempt has given up (exit 9), succeeds on its retry.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_schedule_context,
    instance_for_test,
)
from dagster._core.instance.ref import InstanceRef
from test_warehouse_postgres import HOST, PASSWORD, PORT, USER, PostgresWarehouse, connect_or_skip
from warehouse_helpers import (
    INTERMEDIATE,
    MELTANO,
    MODELS,
    ROOT,
    STREAMS,
    Scenario,
    base_tables,
    check_models,
    check_raw_tables,
    check_scenario_outcomes,
    clean_environ,
    expected_event_ids,
    expected_state,
    start_scenario,
)

from tap_auth0_events.emulator.server import ConnectionPlan, Emulator, decode_offset
from tap_auth0_events_orchestrate.tenants import Tenant, failure_cause, read_tenants, tap_exit, tenant_environ

pytestmark = [pytest.mark.postgres, pytest.mark.integration, pytest.mark.slow]

DAGSTER = str(Path(sys.executable).parent / "dagster")
MODULE = "tap_auth0_events_orchestrate.definitions"  # installed with the tap, run from a Meltano project
NAMES = ("us", "eu", "au")
FAILING = "au"  # has a wrong token in the first run
OUTAGE = "us"  # its API is down for a while in the second run


@dataclass
class TenantCase:
    name: str
    scenario: Scenario
    token: str
    schema: str

    @property
    def extractor(self) -> str:
        return f"tap-auth0-events--{self.name}"

    @property
    def state_id(self) -> str:
        return f"dev:{self.extractor}-to-target-postgres"

    def env(self, token: str) -> dict[str, str]:
        prefix = f"TAP_AUTH0_EVENTS__{self.name.upper()}_"
        return {
            f"{prefix}API_URL": self.scenario.emulator.url,
            f"{prefix}API_TOKEN": token,
            f"{prefix}START_DATE": "2000-01-01T00:00:00Z",
            f"{prefix}IDLE_TIMEOUT_SECONDS": "2",
            f"{prefix}READ_TIMEOUT_SECONDS": "2",
            f"{prefix}MAX_RUN_SECONDS": "120",
            f"{prefix}MAX_BACKOFF_SECONDS": "1",
            f"{prefix}BASELINE": "never",  # the emulator's tokens have read:events only
            f"{prefix}_LOAD_SCHEMA": self.schema,  # the `load_schema` extra
        }


@dataclass
class DagsterOutcome:
    """What one `dagster job execute` did, read back from the Dagster instance it wrote."""

    returncode: int
    output: str
    status: DagsterRunStatus
    emitted: dict[str, int]  # tenant -> events emitted, from its events asset's metadata
    materialized: set[AssetKey]
    failures: dict[str, list[str]] = field(default_factory=dict)  # step key -> one error chain per failed attempt
    attempts: dict[str, int] = field(default_factory=dict)  # step key -> times it started
    steps: list[tuple[str, str]] = field(default_factory=list)  # (event type, step key), in order


@dataclass
class Orchestration:
    tenants: dict[str, TenantCase]
    env: dict[str, str]
    tmp: Path
    warehouse: PostgresWarehouse
    wrong_token: str
    first: DagsterOutcome

    def loaded(self) -> list[TenantCase]:
        """The tenants the first run could load (all but the one with the wrong token)."""
        return [case for case in self.tenants.values() if case.name != FAILING]


def run_all_tenants(env: dict[str, str], home: Path) -> DagsterOutcome:
    args = [DAGSTER, "job", "execute", "-m", MODULE, "-j", "auth0_all_tenants"]
    completed = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        run = instance.get_runs(limit=1)[0]
        events = [entry.dagster_event for entry in instance.all_logs(run.run_id) if entry.dagster_event]
        outcome = DagsterOutcome(completed.returncode, completed.stdout + completed.stderr, run.status, {}, set())
        for event in events:
            step = event.step_key or ""
            if step:
                outcome.steps.append((event.event_type_value, step))
            if event.event_type in (DagsterEventType.STEP_START, DagsterEventType.STEP_RESTARTED):
                outcome.attempts[step] = outcome.attempts.get(step, 0) + 1
            elif event.event_type in (DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_UP_FOR_RETRY):
                outcome.failures.setdefault(step, []).append(_error_chain(event.event_specific_data.error))
            elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                materialization = event.step_materialization_data.materialization
                outcome.materialized.add(materialization.asset_key)
                emitted = materialization.metadata.get("events emitted")
                if emitted is not None:
                    outcome.emitted[materialization.metadata["tenant"].value] = emitted.value
    return outcome


def _error_chain(error: Any) -> str:
    """An error and its causes, as Dagster shows them ("Exceeded max_retries" is caused by ...)."""
    messages = []
    while error is not None:
        messages.append(error.message.strip())
        error = error.cause
    return " <- ".join(messages)


def meltano_state(env: dict[str, str], *args: str) -> str:
    """`meltano state <args>` against the test's Meltano system database."""
    command = [MELTANO, "--log-level=warning", "state", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True).stdout


def check_tenant(orchestration: Orchestration, case: TenantCase) -> None:
    """The tenant's schema holds its own emulator's events and world: the single-tenant checks."""
    rows = orchestration.warehouse.rows
    try:
        assert base_tables(rows, case.schema) == set(STREAMS) | set(MODELS) | set(INTERMEDIATE)
        check_raw_tables(rows, case.schema, case.scenario.emulator)
        check_models(rows, case.schema, expected_state(case.scenario))
        check_scenario_outcomes(rows, case.schema, case.scenario)
    except AssertionError as error:
        raise AssertionError(f"tenant {case.name}: {error}") from error


# -- the run -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def orchestration(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orchestration]:
    connection = connect_or_skip()
    tmp = tmp_path_factory.mktemp("orchestrate")
    home = tmp / "dagster"
    home.mkdir()
    run = secrets.token_hex(4)  # schemas of their own: parallel test runs never meet
    tenants: dict[str, TenantCase] = {}
    try:
        for index, name in enumerate(NAMES):
            token = f"token-{name}-{secrets.token_hex(8)}"
            scenario = start_scenario(
                initial_events=800 + 100 * index,  # enough for the rarer types and test events
                seed=100 + index,
                tenant=f"acme-{name}",
                api_tokens={token: ["read:events"]},
            )
            tenants[name] = TenantCase(name, scenario, token, f"auth0_test_{run}_{name}")
        env = {key: value for key, value in clean_environ().items() if not key.startswith(("DAGSTER_", "ORCHESTRATE_"))}
        env.update(
            {
                "MELTANO_PROJECT_ROOT": str(ROOT),
                "MELTANO_DATABASE_URI": f"sqlite:///{tmp / 'meltano.db'}",
                "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
                "TARGET_POSTGRES_HOST": HOST,
                "TARGET_POSTGRES_PORT": str(PORT),
                "TARGET_POSTGRES_USER": USER,
                "TARGET_POSTGRES_PASSWORD": PASSWORD,
                "TARGET_POSTGRES_DATABASE": connection.info.dbname,
                "DBT_TARGET_PATH": str(tmp / "dbt-target"),
                "DBT_LOG_PATH": str(tmp / "dbt-logs"),
                "DAGSTER_HOME": str(home),
                "ORCHESTRATE_MAX_RETRIES": "1",
                "ORCHESTRATE_RETRY_DELAY_SECONDS": "1",
                # A value of the parent tap's own that would break every tenant, were it inherited.
                "TAP_AUTH0_EVENTS_ON_EXPIRED_OFFSET": "not-an-option",
            }
        )
        wrong = f"wrong-{secrets.token_hex(12)}"
        for case in tenants.values():
            env.update(case.env(wrong if case.name == FAILING else case.token))
        # Meltano creates its system database on first use: once, before three runs race to.
        subprocess.run([MELTANO, "state", "list"], cwd=ROOT, env=env, capture_output=True, timeout=120, check=True)
        first = run_all_tenants(env, home)
        yield Orchestration(tenants, env, tmp, PostgresWarehouse(connection, ""), wrong, first)
    finally:
        for case in tenants.values():
            case.scenario.emulator.stop()
            connection.execute(f'drop schema if exists "{case.schema}" cascade')
        connection.close()


# -- the first run: two tenants load, the one with the wrong token fails alone --------------------------


def test_the_tenants_worlds_share_no_event(orchestration: Orchestration) -> None:
    """The precondition of every leak check below: no event id is in two emulators."""
    seen: set[str] = set()
    for case in orchestration.tenants.values():
        ids = {event_id for ids in expected_event_ids(case.scenario.emulator).values() for event_id in ids}
        assert not ids & seen, f"{case.name} shares events with another tenant"
        seen |= ids


def test_each_tenant_loads_its_own_world_into_its_own_schema(orchestration: Orchestration) -> None:
    first = orchestration.first
    for case in orchestration.loaded():
        key = f"auth0_{case.name}"
        assert {AssetKey([key, "events"]), AssetKey([key, "current_state"])} <= first.materialized, first.output[-3000:]
        emulator = case.scenario.emulator
        assert not emulator.plans, "the planned duplicate delivery happened"
        assert first.emitted[case.name] == len(emulator.log) + 1, "the tap emitted one event twice"
        check_tenant(orchestration, case)


def test_the_tenants_run_side_by_side(orchestration: Orchestration) -> None:
    """Every tenant's first step was launched, each in a process of its own, before any step ended."""
    steps = orchestration.first.steps
    ended = min(index for index, (kind, _) in enumerate(steps) if kind in ("STEP_SUCCESS", "STEP_UP_FOR_RETRY"))
    launched = {step for kind, step in steps[:ended] if kind == "STEP_WORKER_STARTING"}
    assert launched == {f"auth0_{name}__events" for name in NAMES}, steps[: ended + 1]


def test_a_tenant_with_a_wrong_token_fails_alone_and_says_why(orchestration: Orchestration) -> None:
    first = orchestration.first
    assert first.returncode != 0 and first.status == DagsterRunStatus.FAILURE
    assert set(first.failures) == {f"auth0_{FAILING}__events"}, first.failures
    attempts = first.failures[f"auth0_{FAILING}__events"]
    # ORCHESTRATE_MAX_RETRIES=1, but a wrong token would fail again the same way: one attempt only.
    assert len(attempts) == first.attempts[f"auth0_{FAILING}__events"] == 1, attempts
    (message,) = attempts
    assert f"tenant {FAILING}: `meltano run tap-auth0-events--{FAILING} target-postgres` failed" in message
    assert "Extractor failed: HTTP 401 from the Events API" in message and "[exit 3]" in message, message
    assert f"auth0_{FAILING}__current_state" not in first.attempts, "its models wait for its events"
    assert AssetKey([f"auth0_{FAILING}", "events"]) not in first.materialized
    schema = orchestration.tenants[FAILING].schema
    tables = base_tables(orchestration.warehouse.rows, schema)
    assert all(orchestration.warehouse.rows(f'select 1 from {schema}."{table}" limit 1') == [] for table in tables)


def test_the_wrong_token_is_written_nowhere(orchestration: Orchestration) -> None:
    token = orchestration.wrong_token.encode()
    assert token not in orchestration.first.output.encode()
    # Dagster's instance, Meltano's system database, dbt's logs, and Meltano's run directories.
    places = [orchestration.tmp, *(ROOT / ".meltano" / "run").glob("tap-auth0-events--*")]
    written = [path for place in places for path in place.rglob("*") if path.is_file()]
    assert any(path.suffix == ".db" for path in written), "Dagster's and Meltano's databases were searched too"
    leaks = [str(path) for path in written if token in path.read_bytes()]
    assert leaks == [], f"the token was written to {leaks}"


def test_each_tenant_keeps_its_own_state(orchestration: Orchestration) -> None:
    state_ids = set(meltano_state(orchestration.env, "list").split())
    loaded = {case.state_id for case in orchestration.loaded()}
    assert loaded <= state_ids <= {case.state_id for case in orchestration.tenants.values()}, "tenants' IDs only"
    for case in orchestration.loaded():
        state = json.loads(meltano_state(orchestration.env, "get", case.state_id))
        bookmarks = state["singer_state"]["bookmarks"]
        assert set(bookmarks) == set(STREAMS), case.name
        last = len(case.scenario.emulator.log) - 1
        offsets = {decode_offset(bookmark["offset"]) for bookmark in bookmarks.values()}
        assert offsets == {last}, f"{case.name}: STATE is at its own emulator's last event"


# -- the second run: the fixed tenant catches up, the others add only their new events -----------------


def end_outage_at_retry(home: Path, emulator: Emulator, step: str, known: set[str], done: threading.Event) -> None:
    """The outage lasts until Dagster puts `step` up for retry: then the emulator serves again."""
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        while not done.wait(0.2):
            runs = [run for run in instance.get_runs(limit=1) if run.run_id not in known]
            if runs and any(
                entry.dagster_event and entry.dagster_event.step_key == step
                for entry in instance.all_logs(runs[0].run_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY)
            ):
                emulator.plans.clear()
                return


def test_a_second_run_adds_only_each_tenants_new_events(orchestration: Orchestration) -> None:
    """... while OUTAGE's API answers 503 until its first attempt has failed (exit 9): the retry reads."""
    appended = {
        name: orchestration.tenants[name].scenario.emulator.append(20 + 10 * index) for index, name in enumerate(NAMES)
    }
    fixed, down = orchestration.tenants[FAILING], orchestration.tenants[OUTAGE]
    env = {**orchestration.env, **fixed.env(fixed.token)}
    env[f"TAP_AUTH0_EVENTS__{OUTAGE.upper()}_MAX_RUN_SECONDS"] = "6"  # exit 9 after 6 s of faults only
    down.scenario.emulator.queue(*[ConnectionPlan(status=503)] * 1000)
    home = orchestration.tmp / "dagster"
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        known = {run.run_id for run in instance.get_runs()}
    done = threading.Event()
    watcher = threading.Thread(
        target=end_outage_at_retry, args=(home, down.scenario.emulator, f"auth0_{OUTAGE}__events", known, done)
    )
    watcher.start()
    try:
        second = run_all_tenants(env, home)
    finally:
        done.set()
        watcher.join()
    assert second.returncode == 0 and second.status == DagsterRunStatus.SUCCESS, second.output[-3000:]
    (outage,) = second.failures[f"auth0_{OUTAGE}__events"]
    assert "HTTP 503" in outage and "[exit 9]" in outage, outage
    assert second.attempts[f"auth0_{OUTAGE}__events"] == 2, "retried once, and the retry succeeded"
    assert set(second.failures) == {f"auth0_{OUTAGE}__events"}, second.failures
    for case in orchestration.loaded():
        assert second.emitted[case.name] == len(appended[case.name]), f"{case.name} resumed from its own STATE"
    assert second.emitted[FAILING] >= len(fixed.scenario.emulator.log), "the fixed tenant read its whole history"
    for case in orchestration.tenants.values():
        check_tenant(orchestration, case)


# -- the parts, one by one ---------------------------------------------------------------------------


def test_the_tenants_are_the_extractors_inheriting_from_the_tap(tmp_path: Path) -> None:
    assert [tenant.extractor for tenant in read_tenants(ROOT)] == [f"tap-auth0-events--{name}" for name in NAMES]
    (tmp_path / "meltano.yml").write_text(
        "plugins:\n  extractors:\n"
        "  - {name: tap-auth0-events}\n"
        "  - {name: tap-auth0-events--acme-prod, inherit_from: tap-auth0-events}\n"
        "  - {name: tap-other, inherit_from: tap-other-base}\n"
    )
    (tenant,) = read_tenants(tmp_path)
    assert (tenant.name, tenant.key) == ("acme-prod", "auth0_acme_prod")
    (tmp_path / "meltano.yml").write_text(
        "plugins:\n  extractors:\n"
        "  - {name: tap-auth0-events--acme-prod, inherit_from: tap-auth0-events}\n"
        "  - {name: tap-auth0-events--acme_prod, inherit_from: tap-auth0-events}\n"
    )
    with pytest.raises(ValueError, match="auth0_acme_prod"):
        read_tenants(tmp_path)


def test_a_tenant_run_sees_none_of_the_parent_taps_variables(tmp_path: Path) -> None:
    environ = {
        "TAP_AUTH0_EVENTS_API_TOKEN": "the default tenant's",
        "TAP_AUTH0_EVENTS_DOMAIN": "default.us.auth0.com",
        "TAP_AUTH0_EVENTS__EU_API_TOKEN": "eu's own",
        "TARGET_POSTGRES_HOST": "db",
        "DBT_TARGET_PATH": "/dbt/target",
    }
    env = tenant_environ(environ, tmp_path, Tenant("tap-auth0-events--eu"))
    assert env["TAP_AUTH0_EVENTS__EU_API_TOKEN"] == "eu's own" and env["TARGET_POSTGRES_HOST"] == "db"
    assert not {"TAP_AUTH0_EVENTS_API_TOKEN", "TAP_AUTH0_EVENTS_DOMAIN"} & set(env)
    assert env["DBT_TARGET_PATH"] == "/dbt/target/auth0_eu", "tenants run dbt side by side: a target/ each"
    assert env["DBT_LOG_PATH"] == str(tmp_path / "transform" / "logs" / "auth0_eu")


def test_a_failed_run_names_what_failed_and_its_last_words() -> None:
    def line(source: str, message: str, level: str = "info") -> str:
        return f"2026-11-30T12:38:15.396697Z [{level:<9}] {source} {message}"

    loader = [
        line("tap-auth0-events--eu", "pass finished (...): 3 events emitted"),
        line("target-postgres", 'psycopg2.OperationalError: connection to server at "db" failed'),
        line("target-postgres", 'METRIC: {"type":"counter"}'),
        line("meltano", "Loader failed", "error"),
        line("meltano", "Block run completed", "error"),
    ]
    assert failure_cause(loader, "tap-auth0-events--eu") == (
        'Loader failed: psycopg2.OperationalError: connection to server at "db" failed'
    )
    dbt = [
        line("dbt-postgres", "Database Error in model current_users (models/current_users.sql)"),
        line("meltano", "`dbt-postgres run` failed with exit code: 1", "error"),
    ]
    assert failure_cause(dbt, "tap-auth0-events--eu") == (
        "`dbt-postgres run` failed with exit code: 1: Database Error in model current_users (models/current_users.sql)"
    )
    assert failure_cause(["Traceback (most recent call last):", "ImportError: no module", ""], "x") == (
        "ImportError: no module"
    )
    assert tap_exit(loader, "tap-auth0-events--eu") is None, "the loader failed: nothing marked"
    marked = [line("tap-auth0-events--eu", "HTTP 401 from the Events API (...): the token ... [exit 3]"), *loader]
    assert tap_exit(marked, "tap-auth0-events--eu") == 3
    assert tap_exit([line("target-postgres", "a record's text [exit 3]")], "tap-auth0-events--eu") is None


def test_a_tenants_schedule_skips_while_a_run_of_that_tenant_is_in_flight() -> None:
    from tap_auth0_events_orchestrate.definitions import defs

    us, eu = defs.resolve_schedule_def("auth0_us_schedule"), defs.resolve_schedule_def("auth0_eu_schedule")
    assert (us.job_name, us.cron_schedule) == ("auth0_us", "0 * * * *")
    steps = sorted(node.name for node in defs.resolve_job_def("auth0_us").nodes)
    assert steps == ["auth0_us__current_state", "auth0_us__events"], "the tenant's job runs its own steps only"
    with instance_for_test() as instance:
        assert isinstance(us(build_schedule_context(instance=instance)), RunRequest)
        instance.add_run(DagsterRun(job_name="auth0_us", run_id=str(uuid.uuid4()), status=DagsterRunStatus.STARTED))
        assert isinstance(us(build_schedule_context(instance=instance)), SkipReason)
        assert isinstance(eu(build_schedule_context(instance=instance)), RunRequest), "another tenant's run"
        every = DagsterRun(job_name="auth0_all_tenants", run_id=str(uuid.uuid4()), status=DagsterRunStatus.STARTING)
        instance.add_run(every)
        assert isinstance(eu(build_schedule_context(instance=instance)), SkipReason), "the all-tenants run has it"


def test_the_definitions_load_the_tenants_of_the_users_own_project(tmp_path: Path) -> None:
    """From a Meltano project outside the repository: found from a directory below it (as Meltano
    finds its project), or through MELTANO_PROJECT_ROOT from anywhere; its tenants, not ours."""
    project = tmp_path / "own-project"
    (project / "extract").mkdir(parents=True)
    (project / "meltano.yml").write_text(
        "project_id: own-project\ndefault_environment: dev\nenvironments:\n- name: dev\n"
        "plugins:\n  extractors:\n"
        "  - {name: tap-auth0-events, namespace: tap_auth0_events, executable: tap-auth0-events}\n"
        "  - {name: tap-auth0-events--acme-prod, inherit_from: tap-auth0-events, load_schema: auth0_acme}\n"
    )
    env = {key: value for key, value in clean_environ().items() if not key.startswith(("DAGSTER_", "MELTANO_"))}
    env["DAGSTER_HOME"] = str(tmp_path / "dagster")
    (tmp_path / "dagster").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for cwd, extra in ((project / "extract", {}), (elsewhere, {"MELTANO_PROJECT_ROOT": str(project)})):
        completed = subprocess.run(
            [DAGSTER, "job", "list", "-m", MODULE],
            cwd=cwd,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        jobs = {line.removeprefix("Job: ").strip() for line in completed.stdout.splitlines() if line[:5] == "Job: "}
        assert jobs - {"__ASSET_JOB"} == {"auth0_acme_prod", "auth0_all_tenants"}, completed.stdout
    nowhere = subprocess.run(
        [DAGSTER, "job", "list", "-m", MODULE], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300
    )
    assert nowhere.returncode != 0 and "no meltano.yml in" in nowhere.stdout + nowhere.stderr
