"""A 2-minute soak (bench/soak.py): scheduled runs of the real CLI against a misbehaving emulator,
some killed with SIGKILL; no event lost, no record without its key, memory flat. And what the soak
found: a short-lived token is not fetched again for every connection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CLIENT_ID, CLIENT_SECRET, fast_config, run_tap, tap_config

from tap_auth0_events.emulator.server import ConnectionPlan, Emulator

pytestmark = pytest.mark.integration

SOAK = Path(__file__).resolve().parents[1] / "bench" / "soak.py"
# Peak RSS of the last third of the runs against the first third (medians): flat within 10 %.
RSS_TOLERANCE = 1.10


def test_two_minute_soak_loses_nothing_and_stays_flat(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    completed = subprocess.run(
        [sys.executable, str(SOAK), "--minutes", "2", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert out.exists(), completed.stderr[-3000:]
    report = json.loads(out.read_text())
    summary, runs = report["summary"], report["runs"]
    failed = [run for run in runs if run["signal"] is None and run["exit_code"] != 0]
    assert not failed, failed[:3]
    assert summary["events_lost"] == 0, summary["lost_sample"]
    assert summary["reached_bound"], "the last run read up to its bound"
    assert summary["bound_seq"] > 2000, "live events after the history were read too"
    assert summary["emitted_not_in_log"] == 0
    assert summary["unkeyed_records"] == 0
    assert summary["runs"] >= 10
    assert summary["sigkills"] >= 1
    assert summary["token_renewals"] >= 1
    assert summary["reconnects"] >= 5
    first, last = summary["rss_mb_first_third_median"], summary["rss_mb_last_third_median"]
    assert last <= first * RSS_TOLERANCE, (first, last)
    assert completed.returncode == 0, completed.stdout[-2000:]


def test_a_short_lived_token_is_reused_across_reconnects_until_near_its_expiry(tmp_path: Path) -> None:
    with Emulator(fast_config(token_ttl_seconds=30)) as emulator:
        emulator.queue(*[ConnectionPlan(after_events=100, action="close") for _ in range(4)])
        config = tap_config(emulator, api_token=None, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        result = run_tap(tmp_path, config)
        connections = len(emulator.requests)
        token_requests = emulator.token_requests
    assert result.returncode == 0, result.stderr[-2000:]
    assert connections >= 5
    assert token_requests == 1, "a 30 s token is renewed after 27 s, not on every connection"
