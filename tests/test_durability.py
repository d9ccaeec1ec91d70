"""kill -9 at random moments, and changing the selection between runs: nothing is lost."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import TAP, fast_config, run_tap, select_streams, tap_config

from tap_auth0_events.emulator.server import Emulator
from tap_auth0_events.event_types import stream_name

pytestmark = pytest.mark.integration

KILLS = 20


def _read_killed_output(path: Path) -> tuple[set[str], dict | None]:
    """Event ids of the records before the last complete STATE line, and that STATE."""
    covered: set[str] = set()
    pending: set[str] = set()
    state = None
    for line in path.read_bytes().split(b"\n"):
        try:
            message = json.loads(line)
        except ValueError:
            continue  # the line the kill cut in half
        if message["type"] == "RECORD":
            pending.add(message["record"]["event_id"])
        elif message["type"] == "STATE":
            covered |= pending
            pending = set()
            state = message["value"]
    return covered, state


@pytest.mark.slow
def test_kill_9_at_20_random_moments_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261124)
    # Small connections and a retry pause slow each run down enough for kills to land mid-run.
    with Emulator(fast_config(initial_events=12_000, cycle_events=400, retry_ms=40)) as emulator:
        config_path = tmp_path / "config.json"
        # The idle timeout is part of how long each run lasts: 2 s keeps the runs that have little
        # left to read alive past the kill (0.4-1.6 s after the start).
        config_path.write_text(json.dumps(tap_config(emulator, idle_timeout_seconds=2)))
        state: dict | None = None
        delivered: set[str] = set()
        killed_mid_run = 0
        for attempt in range(KILLS):
            args = [TAP, "--config", str(config_path)]
            if state is not None:
                state_path = tmp_path / f"state-{attempt}.json"
                state_path.write_text(json.dumps(state))
                args += ["--state", str(state_path)]
            out = tmp_path / f"out-{attempt}.jsonl"
            with out.open("wb") as sink:
                process = subprocess.Popen(args, stdout=sink, stderr=subprocess.DEVNULL)
                time.sleep(rng.uniform(0.4, 1.6))
                if process.poll() is None:
                    killed_mid_run += 1
                    os.kill(process.pid, signal.SIGKILL)
                process.wait()
            covered, last_state = _read_killed_output(out)
            delivered |= covered
            state = last_state or state  # as Meltano would: the last STATE the target saw
        final = run_tap(tmp_path, tap_config(emulator), state=state)
        assert final.returncode == 0, final.stderr[-2000:]
        delivered |= set(final.event_ids())
        log_ids = {event["event_id"] for event in emulator.summary()}
        assert killed_mid_run >= KILLS // 2, "most kills must land while the tap is running"
        assert delivered == log_ids


# A stream map that changes nothing still sends every record through the SDK's record path.
@pytest.mark.parametrize("path", [{}, {"stream_maps": {"user_created": {}}}], ids=["fast-path", "sdk-path"])
def test_sigterm_ends_the_run_cleanly_with_state_for_what_was_written(tmp_path: Path, path: dict) -> None:
    with Emulator(fast_config(initial_events=12_000, cycle_events=400, retry_ms=40)) as emulator:
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(tap_config(emulator, **path)))
        out = tmp_path / "out.jsonl"
        with out.open("wb") as sink:
            process = subprocess.Popen([TAP, "--config", str(config_path)], stdout=sink, stderr=subprocess.PIPE)
            _wait_for_records(out)  # the signal lands in the middle of the sync, not during start-up
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=30)
        assert process.returncode == 143, stderr.decode()[-2000:]
        lines = out.read_bytes().split(b"\n")
        assert lines[-1] == b"", "output ends with a complete line"
        messages = [json.loads(line) for line in lines if line]
        assert messages[-1]["type"] == "STATE", "the last word is the STATE covering every record"
        emitted = [m["record"]["event_id"] for m in messages if m["type"] == "RECORD"]
        assert 0 < len(emitted) < 12_000
        resumed = run_tap(tmp_path, tap_config(emulator), state=messages[-1]["value"])
        assert resumed.returncode == 0
        assert set(emitted) | set(resumed.event_ids()) == {e["event_id"] for e in emulator.summary()}
        assert not set(emitted) & set(resumed.event_ids()), "a clean stop replays nothing"


def _wait_for_records(out: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while b'"type":"RECORD"' not in out.read_bytes():
        assert time.monotonic() < deadline, "the tap wrote no record"
        time.sleep(0.05)


def test_newly_selected_stream_is_back_filled_and_others_continue(tmp_path: Path, discovered: dict) -> None:
    with Emulator(fast_config(initial_events=800)) as emulator:
        first_streams = {"user_created", "user_deleted"}
        catalog = select_streams(discovered, first_streams)
        first = run_tap(tmp_path, tap_config(emulator), catalog=catalog)
        assert first.returncode == 0, first.stderr
        appended = emulator.append(40)

        both = first_streams | {"organization_created"}
        second = run_tap(
            tmp_path, tap_config(emulator), state=first.final_state, catalog=select_streams(discovered, both)
        )
        assert second.returncode == 0, second.stderr
        assert "back-filling organization_created" in second.stderr
        by_stream = second.by_stream()
        log = emulator.summary()
        expected_orgs = {e["event_id"] for e in log if e["event_type"] == "organization.created"}
        assert {r["event_id"] for r in by_stream["organization_created"]} == expected_orgs
        # The old streams continue from their offset: only the appended events, each once.
        new_user_events = [e.event_id for e in appended if stream_name(e.event_type) in first_streams]
        old_stream_ids = [r["event_id"] for name in first_streams for r in by_stream.get(name, [])]
        assert sorted(old_stream_ids) == sorted(new_user_events)
        # Afterwards all three share one position, and a further run has nothing to add.
        offsets = {second.final_state["bookmarks"][name]["offset"] for name in both}
        assert len(offsets) == 1
        catalog = select_streams(discovered, both)
        third = run_tap(tmp_path, tap_config(emulator), state=second.final_state, catalog=catalog)
        assert third.returncode == 0 and third.records == []


def test_deselecting_a_stream_does_not_move_other_positions_backwards(tmp_path: Path, discovered: dict) -> None:
    with Emulator(fast_config(initial_events=600)) as emulator:
        all_three = {"user_created", "user_updated", "group_created"}
        catalog = select_streams(discovered, all_three)
        first = run_tap(tmp_path, tap_config(emulator), catalog=catalog)
        assert first.returncode == 0
        emulator.append(30)
        fewer = {"user_created", "user_updated"}
        catalog = select_streams(discovered, fewer)
        second = run_tap(tmp_path, tap_config(emulator), state=first.final_state, catalog=catalog)
        assert second.returncode == 0, second.stderr
        assert "back-filling" not in second.stderr
        assert {m["stream"] for m in second.records} <= fewer
        bookmarks = second.final_state["bookmarks"]
        assert bookmarks["group_created"] == first.final_state["bookmarks"]["group_created"], "left as it was"
        assert bookmarks["user_created"]["offset"] == emulator.summary()[-1]["offset"]
        # Re-selecting it later back-fills from its own older offset: exactly what it missed.
        third = run_tap(
            tmp_path,
            tap_config(emulator),
            state=second.final_state,
            catalog=select_streams(discovered, all_three),
        )
        assert third.returncode == 0, third.stderr
        missed = [e["event_id"] for e in emulator.summary()[600:] if e["event_type"] == "group.created"]
        assert [r["event_id"] for r in third.by_stream().get("group_created", [])] == missed
