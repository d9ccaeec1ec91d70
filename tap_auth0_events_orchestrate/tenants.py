"""The tenants of the Meltano project, and one tenant's `meltano run`.

Free of Dagster: which extractors are tenants, what environment a tenant's run gets, how the
run is made and what a failed run's cause is. `definitions.py` turns this into Dagster jobs.

A tenant is an extractor in meltano.yml that inherits from `tap-auth0-events`. Meltano keeps
its settings (`TAP_AUTH0_EVENTS__<TENANT>_<SETTING>`) and its STATE (state ID
`<environment>:<extractor>-to-target-postgres`) apart from every other tenant's; its
`load_schema` extra names its schema, which this module hands to both the loader and dbt.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

PARENT = "tap-auth0-events"
LOADER = "target-postgres"
TRANSFORMER = "dbt-postgres"
# The parent's own variables (TAP_AUTH0_EVENTS_API_TOKEN, ...). A tenant inherits whatever the
# parent is set to, so a tenant run never sees them: a tenant without its own token must fail,
# not read the default tenant. A tenant's variables start with TAP_AUTH0_EVENTS__ (two `_`).
_PARENT_VARIABLE = re.compile(r"^TAP_AUTH0_EVENTS_(?!_)")
# A line of Meltano's uncolored console log: time, [level], who (meltano or a plugin), message.
_LOG_LINE = re.compile(r"^\S+ \[(?P<level>[a-z]+)\s*\] (?P<source>\S+) ?(?P<message>.*)$")
_EMITTED = re.compile(r"pass finished \([^)]*\): (\d+) events emitted")
# The tap ends its last line with `[exit <code>]` (tap_auth0_events.exits.marked): `meltano run`
# does not pass the tap's exit code on, its lines it does.
_TAP_EXIT = re.compile(r"\[exit (\d+)\]$")
# Exit codes that no retry can fix: bad settings or input (1, 2), a wrong token (3) or scope (4),
# a bad request or unsupported type (5), an expired offset (6), a stuck message or error (7, 8).
# 9 (only faults until max_run_seconds: an outage, rate limits) and anything unmarked (the loader's
# connection errors, dbt) can pass, and are retried.
NOT_RETRYABLE_EXITS = frozenset(range(1, 9))
_TAIL_LINES = 40


def project_root() -> Path:
    """The Meltano project, found as Meltano finds it: MELTANO_PROJECT_ROOT, else the working
    directory or the nearest directory above it holding a meltano.yml (else the working directory,
    which `read_tenants` then reports)."""
    if os.environ.get("MELTANO_PROJECT_ROOT"):
        return Path(os.environ["MELTANO_PROJECT_ROOT"])
    here = Path.cwd()
    return next((place for place in (here, *here.parents) if (place / "meltano.yml").is_file()), here)


@dataclass(frozen=True)
class Tenant:
    extractor: str  # e.g. tap-auth0-events--eu

    @property
    def name(self) -> str:
        """The tenant's short name: the extractor's name without `tap-auth0-events--`."""
        return self.extractor.removeprefix(f"{PARENT}--")

    @property
    def key(self) -> str:
        """A name Dagster accepts (letters, digits, `_`) for the tenant's job, group and assets."""
        return "auth0_" + re.sub(r"[^A-Za-z0-9_]", "_", self.name)


def read_tenants(project: Path) -> list[Tenant]:
    """The extractors of meltano.yml that inherit from tap-auth0-events, in file order."""
    path = project / "meltano.yml"
    if not path.is_file():
        raise FileNotFoundError(
            f"no meltano.yml in {project}: run Dagster from your Meltano project or set MELTANO_PROJECT_ROOT"
        )
    document = yaml.safe_load(path.read_text()) or {}
    extractors = (document.get("plugins") or {}).get("extractors") or []
    tenants = [Tenant(plugin["name"]) for plugin in extractors if plugin.get("inherit_from") == PARENT]
    keys = [tenant.key for tenant in tenants]
    clashes = sorted({key for key in keys if keys.count(key) > 1})
    if clashes:
        raise ValueError(f"meltano.yml: tenants whose names differ only in punctuation: {', '.join(clashes)}")
    return tenants


def meltano_executable() -> str:
    """`meltano` next to this Python (the project's .venv), else on PATH."""
    beside = Path(sys.executable).parent / "meltano"
    found = str(beside) if beside.exists() else shutil.which("meltano")
    if not found:
        raise FileNotFoundError("meltano is not installed next to this Python nor on PATH")
    return found


def tenant_environ(environ: Mapping[str, str], project: Path, tenant: Tenant) -> dict[str, str]:
    """`environ` for one tenant: without the parent tap's variables, with dbt's own directories.

    Tenants run dbt side by side in the same dbt project, so each gets its own target/ and logs/
    (under DBT_TARGET_PATH and DBT_LOG_PATH when set, else transform/target and transform/logs).
    """
    env = {key: value for key, value in environ.items() if not _PARENT_VARIABLE.match(key)}
    target = Path(environ.get("DBT_TARGET_PATH") or project / "transform" / "target")
    logs = Path(environ.get("DBT_LOG_PATH") or project / "transform" / "logs")
    env["DBT_TARGET_PATH"] = str(target / tenant.key)
    env["DBT_LOG_PATH"] = str(logs / tenant.key)
    return env


def load_schema(project: Path, tenant: Tenant, env: Mapping[str, str]) -> str:
    """The tenant's `load_schema` extra as Meltano resolves it (env, .env, system db, meltano.yml)."""
    args = [meltano_executable(), "--log-level=warning", "config", "print", "--extras", "--format=json"]
    completed = subprocess.run(
        [*args, tenant.extractor], cwd=project, env=dict(env), capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise MeltanoFailed(tenant, "meltano config print", f"could not read load_schema: {last}")
    return str(json.loads(completed.stdout)["_load_schema"])


class MeltanoFailed(Exception):
    """One tenant's Meltano command failed; the message names the tenant and the cause."""

    def __init__(self, tenant: Tenant, command: str, cause: str, tail: str = "", tap_exit: int | None = None) -> None:
        super().__init__(f"tenant {tenant.name}: `{command}` failed: {cause}")
        self.tenant = tenant
        self.cause = cause
        self.tail = tail
        self.tap_exit = tap_exit  # the tap's exit code, from its marked last line, if it wrote one

    @property
    def retryable(self) -> bool:
        """False when the tap said it failed in a way that would fail again the same way."""
        return self.tap_exit not in NOT_RETRYABLE_EXITS


@dataclass
class MeltanoRun:
    command: str
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=2000))
    emitted: int | None = None  # from the tap's `pass finished` line, when there was one

    def tail(self, count: int = _TAIL_LINES) -> str:
        return "\n".join(list(self.lines)[-count:])


def run_meltano(
    tenant: Tenant,
    schema: str,
    blocks: Iterable[str],
    *,
    project: Path,
    env: Mapping[str, str],
    echo: Callable[[str], None] = print,
) -> MeltanoRun:
    """`meltano run <blocks>` for one tenant, its output echoed line by line as it comes.

    The loader and dbt both read TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA (transform/profiles), so
    the tenant's raw tables and models land in its own schema. Raises MeltanoFailed on failure.
    """
    args = [meltano_executable(), "--log-level=info", "--log-format=uncolored", "run", *blocks]
    run = MeltanoRun(command=f"meltano run {' '.join(blocks)}")
    full_env = {**env, "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": schema}
    process = subprocess.Popen(
        args, cwd=project, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip("\n")
            echo(line)
            run.lines.append(line)
            found = _EMITTED.search(line)
            if found:
                run.emitted = (run.emitted or 0) + int(found.group(1))
        returncode = process.wait()
    finally:
        if process.poll() is None:  # the step was interrupted: let Meltano stop the tap cleanly
            process.terminate()
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
    if returncode != 0:
        cause = failure_cause(run.lines, tenant.extractor)
        raise MeltanoFailed(tenant, run.command, cause, run.tail(), tap_exit(run.lines, tenant.extractor))
    return run


def tap_exit(lines: Iterable[str], extractor: str) -> int | None:
    """The exit code of the tap's last marked line (`... [exit 3]`), if the tap wrote one."""
    code = None
    for line in lines:
        parsed = _LOG_LINE.match(line)
        if parsed and parsed["source"] in (extractor, PARENT):
            found = _TAP_EXIT.search(parsed["message"].rstrip())
            code = int(found.group(1)) if found else code
    return code


def failure_cause(lines: Iterable[str], extractor: str) -> str:
    """What Meltano says failed, with the last line the failing plugin wrote.

    E.g. "Extractor failed: HTTP 401 from the Events API (...): the token is missing, invalid or
    expired (...)". Meltano names the failing block ("Extractor failed", "Loader failed",
    "`dbt-postgres run` failed with exit code: 1"); that plugin's last line says why.
    """
    last_by_source: dict[str, str] = {}
    verdicts: list[str] = []
    last = ""
    for line in lines:
        parsed = _LOG_LINE.match(line)
        message = (parsed["message"] if parsed else line).strip()
        if parsed and parsed["source"] == "meltano":
            if parsed["level"] == "error" and message != "Block run completed":
                verdicts.append(message)
        elif parsed and message and not message.startswith("METRIC:"):
            last_by_source[parsed["source"]] = message
        last = message or last
    if not verdicts:
        return last or "no output"
    return "; ".join(_with_reason(verdict, last_by_source, extractor) for verdict in verdicts)


def _with_reason(verdict: str, last_by_source: Mapping[str, str], extractor: str) -> str:
    blamed = re.findall(r"^`(\S+) ", verdict)  # "`dbt-postgres run` failed with exit code: 1"
    if verdict.startswith("Extractor"):  # "Extractor failed", "Extractor and loader failed"
        blamed.append(extractor)
    if "oader failed" in verdict:
        blamed.append(LOADER)
    reasons = [last_by_source[source] for source in blamed if source in last_by_source]
    return f"{verdict}: {' / '.join(reasons)}" if reasons else verdict
