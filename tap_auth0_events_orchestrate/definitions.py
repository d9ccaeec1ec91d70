"""Dagster definitions: one job per Auth0 tenant of meltano.yml, side by side.

Each tenant (an extractor inheriting from tap-auth0-events) gets two assets in a group of its
own, `auth0_<tenant>/events` (`meltano run tap-auth0-events--<tenant> target-postgres`) and
`auth0_<tenant>/current_state` (its dbt models, `meltano run dbt-postgres:run`), both in the
tenant's schema and retried on failure; a job `auth0_<tenant>` and a schedule for it. The job
`auth0_all_tenants` runs every tenant at once, one process per step.

    dagster dev -m tap_auth0_events_orchestrate.definitions      # UI and schedules, from the Meltano project
    dagster job execute -m tap_auth0_events_orchestrate.definitions -j auth0_all_tenants

The Meltano project is MELTANO_PROJECT_ROOT, else the working directory or the nearest directory
above it holding a meltano.yml (as Meltano finds it).

Tunable from the environment when the code location loads: ORCHESTRATE_CRON (default hourly),
ORCHESTRATE_MAX_RETRIES (2) and ORCHESTRATE_RETRY_DELAY_SECONDS (60: the first retry's delay,
then exponential with jitter). A failure the tap marks as one no retry can fix (its last line
ends with `[exit N]`, N in tenants.NOT_RETRYABLE_EXITS) is not retried.
"""

# No `from __future__ import annotations`: Dagster reads the `context` annotations at run time.
import os

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    Backoff,
    DagsterRunStatus,
    Definitions,
    Failure,
    Jitter,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    RunRequest,
    RunsFilter,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    asset,
    define_asset_job,
    multiprocess_executor,
    schedule,
)

from tap_auth0_events_orchestrate.tenants import (
    LOADER,
    TRANSFORMER,
    MeltanoFailed,
    MeltanoRun,
    Tenant,
    load_schema,
    project_root,
    read_tenants,
    run_meltano,
    tenant_environ,
)

ALL_TENANTS = "auth0_all_tenants"
CRON = os.environ.get("ORCHESTRATE_CRON", "0 * * * *")
RETRY = RetryPolicy(
    max_retries=int(os.environ.get("ORCHESTRATE_MAX_RETRIES", "2")),
    delay=float(os.environ.get("ORCHESTRATE_RETRY_DELAY_SECONDS", "60")),
    backoff=Backoff.EXPONENTIAL,
    jitter=Jitter.PLUS_MINUS,
)
_IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


def _run(context: AssetExecutionContext, tenant: Tenant, blocks: list[str]) -> tuple[str, MeltanoRun]:
    """One `meltano run` for the tenant, in its schema; a failure names the tenant and the cause."""
    project = project_root()
    env = tenant_environ(os.environ, project, tenant)
    try:
        schema = load_schema(project, tenant, env)
        context.log.info(f"tenant {tenant.name}: meltano run {' '.join(blocks)} into schema {schema}")
        return schema, run_meltano(tenant, schema, blocks, project=project, env=env)
    except MeltanoFailed as failed:
        # A failure the tap marked as one no retry can fix (a wrong token, ...) skips the RetryPolicy.
        raise Failure(
            description=str(failed),
            metadata={
                "tenant": tenant.name,
                "tap exit code": "none marked" if failed.tap_exit is None else failed.tap_exit,
                "output (last lines)": MetadataValue.text(failed.tail),
            },
            allow_retries=failed.retryable,
        ) from None


def tenant_assets(tenant: Tenant) -> list[AssetsDefinition]:
    """The tenant's raw events and, after them, its current-state models."""

    @asset(
        key=AssetKey([tenant.key, "events"]),
        group_name=tenant.key,
        retry_policy=RETRY,
        kinds={"meltano", "postgres"},
        description=f"Auth0 events of tenant {tenant.name}, one table per event type "
        f"(meltano run {tenant.extractor} {LOADER}).",
    )
    def events(context: AssetExecutionContext) -> MaterializeResult[None]:
        schema, run = _run(context, tenant, [tenant.extractor, LOADER])
        return MaterializeResult(metadata={"tenant": tenant.name, "schema": schema, "events emitted": run.emitted})

    @asset(
        key=AssetKey([tenant.key, "current_state"]),
        deps=[events],
        group_name=tenant.key,
        retry_policy=RETRY,
        kinds={"dbt", "postgres"},
        description=f"Current-state models of tenant {tenant.name} (meltano run {TRANSFORMER}:run).",
    )
    def current_state(context: AssetExecutionContext) -> MaterializeResult[None]:
        schema, _ = _run(context, tenant, [f"{TRANSFORMER}:run"])
        return MaterializeResult(metadata={"tenant": tenant.name, "schema": schema})

    return [events, current_state]


def tenant_schedule(tenant: Tenant) -> ScheduleDefinition:
    """Runs the tenant's job on CRON, skipping a tick while one of its runs is still going.

    (Meltano refuses a second run of the same state ID anyway; skipping avoids the failed run.)
    """

    @schedule(name=f"{tenant.key}_schedule", cron_schedule=CRON, job_name=tenant.key)
    def tenant_tick(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
        for job_name in (tenant.key, ALL_TENANTS):
            if context.instance.get_runs_count(RunsFilter(job_name=job_name, statuses=_IN_FLIGHT)):
                return SkipReason(f"tenant {tenant.name}: a run of {job_name} is still in flight")
        return RunRequest()

    return tenant_tick


def build_definitions(tenants: list[Tenant]) -> Definitions:
    assets = [definition for tenant in tenants for definition in tenant_assets(tenant)]
    jobs = {
        tenant.key: define_asset_job(
            tenant.key, selection=AssetSelection.groups(tenant.key), description=f"Tenant {tenant.name}."
        )
        for tenant in tenants
    }
    every_tenant = define_asset_job(
        ALL_TENANTS,
        selection=AssetSelection.groups(*jobs),
        description="Every tenant at once; a tenant that fails does not stop the others.",
    )
    schedules = [tenant_schedule(tenant) for tenant in tenants]
    # One process per step, every tenant at once. On a bigger deployment, swap this executor
    # (k8s_job_executor, celery_executor, docker_executor) or the instance's run launcher.
    executor = multiprocess_executor.configured({"max_concurrent": max(1, len(tenants))})
    return Definitions(assets=assets, jobs=[*jobs.values(), every_tenant], schedules=schedules, executor=executor)


defs = build_definitions(read_tenants(project_root()))
