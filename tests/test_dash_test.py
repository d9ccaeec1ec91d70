"""`--test` reads the selection on one connection, as a sync does (issue 18): a tenant lacking some
types is read fine, a quiet tenant takes a few seconds, a partial selection carries its types as
filters, and a sample writes SCHEMA and a STATE that moves no position."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import TAP, fast_config, tap_config

from tap_auth0_events.emulator.server import Emulator
from tap_auth0_events.event_types import STREAM_KEYS, stream_name

pytestmark = pytest.mark.integration

LACKING = frozenset({"group.created", "group.deleted", "connection.created"})


def _dash_dash_test(tmp_path: Path, config: dict[str, Any]) -> tuple[subprocess.CompletedProcess[str], float]:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    began = time.monotonic()
    done = subprocess.run([TAP, "--config", str(config_path), "--test"], capture_output=True, text=True, timeout=120)
    return done, time.monotonic() - began


def _messages(stdout: str, kind: str) -> list[dict[str, Any]]:
    messages = [json.loads(line) for line in stdout.split("\n") if line.strip()]
    return [message for message in messages if message["type"] == kind]


def test_a_tenant_lacking_some_types_is_read_on_one_connection_without_a_filter(tmp_path: Path) -> None:
    with Emulator(fast_config(unsupported_types=LACKING)) as emulator:
        done, _ = _dash_dash_test(tmp_path, tap_config(emulator, idle_timeout_seconds=60))
        requests = list(emulator.requests)
        types_in_log = {event["event_type"] for event in emulator.summary()} - LACKING
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ERROR" not in done.stderr
    assert len(requests) == 1 and requests[0]["event_types"] == []
    per_stream = Counter(message["stream"] for message in _messages(done.stdout, "RECORD"))
    assert set(per_stream.values()) == {1}
    assert set(per_stream) == {stream_name(event_type) for event_type in types_in_log}
    assert {message["stream"] for message in _messages(done.stdout, "SCHEMA")} == set(map(stream_name, STREAM_KEYS))
    # The SDK writes STATE after a dry run; a sample moves no position: the input STATE (none).
    assert [message["value"] for message in _messages(done.stdout, "STATE")] == [{}]


def test_a_quiet_tenant_takes_a_few_seconds_on_one_connection(tmp_path: Path) -> None:
    with Emulator(fast_config(initial_events=0)) as emulator:
        done, seconds = _dash_dash_test(tmp_path, tap_config(emulator, idle_timeout_seconds=60))
        connections = len(emulator.requests)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ERROR" not in done.stderr
    assert connections == 1
    assert seconds < 15, f"--test on a quiet tenant took {seconds:.1f}s"  # 80 s with a connection per stream
    assert _messages(done.stdout, "RECORD") == []
    assert [message["value"] for message in _messages(done.stdout, "STATE")] == [{}]


# The SDK's `Tap.run_sync_dry_run` with some of the streams, as `--test` calls it with all of them.
_PARTIAL = """
import json, sys
from tap_auth0_events.tap import TapAuth0Events
tap = TapAuth0Events(config=json.loads(sys.argv[1]))
tap.run_sync_dry_run(1, [tap.streams[name] for name in sys.argv[2:]])
"""


def test_a_partial_selection_carries_exactly_its_types_as_filters(emulator: Emulator) -> None:
    chosen = ["user.created", "user.deleted", "organization.created"]
    config = json.dumps(tap_config(emulator, idle_timeout_seconds=60))
    done = subprocess.run(
        [sys.executable, "-c", _PARTIAL, config, *map(stream_name, chosen)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert [request["event_types"] for request in emulator.requests] == [sorted(chosen)]
    per_stream = Counter(message["stream"] for message in _messages(done.stdout, "RECORD"))
    assert per_stream == {stream_name(event_type): 1 for event_type in chosen}
