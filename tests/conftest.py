"""Shared fixtures: a live emulator on 127.0.0.1 and a way to run the real tap CLI against it."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tap_auth0_events.baseline_streams import BASELINE_STREAMS, BASELINES_STREAM
from tap_auth0_events.emulator.server import Emulator, EmulatorConfig

TOKEN = "emulator-token"
CLIENT_ID = "emulator-client"
CLIENT_SECRET = "emulator-secret"
TAP = str(Path(sys.executable).parent / "tap-auth0-events")
# The baseline's streams, which every catalog lists beside the event streams.
BASELINE_NAMES = {*(stream.name for stream in BASELINE_STREAMS), BASELINES_STREAM}


def fast_config(**overrides: Any) -> EmulatorConfig:
    """An emulator that cycles often and never stalls a test."""
    settings: dict[str, Any] = {
        "initial_events": 600,
        "retry_ms": 10,
        "heartbeat_seconds": 0.2,
        "cycle_seconds": 30.0,
    }
    settings.update(overrides)
    return EmulatorConfig(**settings)


def management_config(**overrides: Any) -> EmulatorConfig:
    """A small tenant before its events, served by the Management API with every read scope granted."""
    settings: dict[str, Any] = {
        "initial_events": 200,
        "users_before": 300,
        "organizations_before": 12,
        "groups_before": 6,
        "members_per_organization": 8,
        "grant_read_scopes": True,
        "export_pending_seconds": 0.05,
        "cycle_seconds": None,
    }
    settings.update(overrides)
    return EmulatorConfig(**settings)


EMULATOR = str(Path(sys.executable).parent / "tap-auth0-events-emulator")


@contextlib.contextmanager
def emulator_command(*arguments: str, port_file: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`tap-auth0-events-emulator --port 0 --port-file PORT_FILE ARGUMENTS...` running: (process, its URL).
    Stopped with SIGTERM afterwards."""
    flags = ("--port", "0", "--port-file", str(port_file))
    process = subprocess.Popen(
        [EMULATOR, *flags, *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text()):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the emulator did not start"
            time.sleep(0.05)
        yield process, f"http://127.0.0.1:{port_file.read_text()}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(autouse=True)
def _fast_lane_starts_no_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test without the `integration` marker runs in the fast lane (`pytest -m "not integration"`),
    which starts no process: one that tries fails here, naming the marker it is missing."""
    if request.node.get_closest_marker("integration") is None:

        def refuse(*args: Any, **kwargs: Any) -> None:
            raise AssertionError(f"{request.node.nodeid} starts a process: mark it `integration`")

        monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(fast_config()) as server:
        yield server


def tap_config(emulator: Emulator, **overrides: Any) -> dict[str, Any]:
    """Settings for a run against `emulator`. A run that reads the whole log ends when no event has
    come for `idle_timeout_seconds`: the smallest allowed (1), since nearly every run waits it once.
    A test whose point is the idle timeout, or whose timing leans on it, sets its own. No baseline
    (the emulator's tokens have only read:events, as a new application's do): the baseline's tests
    ask for one."""
    config: dict[str, Any] = {
        "api_url": emulator.url,
        "domain": "acme-demo.us.auth0.com",
        "api_token": TOKEN,
        "start_date": "2000-01-01T00:00:00Z",
        "idle_timeout_seconds": 1,
        "read_timeout_seconds": 2,
        "max_run_seconds": 60,
        "max_backoff_seconds": 1,
        "baseline": "never",
    }
    config.update(overrides)
    return {key: value for key, value in config.items() if value is not None}


@dataclass
class TapRun:
    returncode: int
    stdout: str
    stderr: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [message for message in self.messages if message["type"] == "RECORD"]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [message["value"] for message in self.messages if message["type"] == "STATE"]

    @property
    def final_state(self) -> dict[str, Any] | None:
        return self.states[-1] if self.states else None

    def by_stream(self) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for message in self.records:
            grouped[message["stream"]].append(message["record"])
        return grouped

    def records_of_events(self) -> list[dict[str, Any]]:
        """The records of the event streams (not of the baseline's)."""
        return [message["record"] for message in self.records if not message["stream"].startswith("baseline")]

    def event_ids(self) -> list[str]:
        return [message["record"]["event_id"] for message in self.records]


def run_tap(
    tmp_path: Path,
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> TapRun:
    """Run the installed `tap-auth0-events` command, as Meltano would, and parse what it prints."""
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    args = [TAP, "--config", str(config_path)]
    if state is not None:
        state_path = tmp_path / "state.json"
        state_path.write_text(json.dumps(state))
        args += ["--state", str(state_path)]
    if catalog is not None:
        catalog_path = tmp_path / "catalog.json"
        catalog_path.write_text(json.dumps(catalog))
        args += ["--catalog", str(catalog_path)]
    completed = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}, check=False
    )
    # Split on "\n" only: str.splitlines() would also split inside strings holding U+2028.
    messages = [json.loads(line) for line in completed.stdout.split("\n") if line.strip()]
    return TapRun(completed.returncode, completed.stdout, completed.stderr, messages)


def assert_clean_failure(result: TapRun, code: int, *phrases: str) -> None:
    """The run failed as a user should see it: exit `code`, its line marked `[exit code]`, each phrase in
    the log, no traceback, no token."""
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    assert f"[exit {code}]\n" in result.stderr, "the line ends with the exit marker orchestrators read"
    for phrase in phrases:
        assert phrase in result.stderr, phrase
    assert "Traceback" not in result.stderr
    assert TOKEN not in result.stderr + result.stdout


def discover(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    config_path = tmp_path / "discover-config.json"
    config_path.write_text(json.dumps(config))
    completed = subprocess.run(
        [TAP, "--config", str(config_path), "--discover"], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(completed.stdout)


@pytest.fixture(scope="session")
def discovered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The tap's catalog, discovered once for the tests that select streams from it: discovery
    connects nowhere and depends on none of the settings those tests vary."""
    return discover(tmp_path_factory.mktemp("discover"), {"api_url": "http://127.0.0.1:9", "api_token": TOKEN})


def select_streams(catalog: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """A copy of the catalog with exactly `names` selected (stream-level metadata)."""
    catalog = copy.deepcopy(catalog)
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] in names
    return catalog
