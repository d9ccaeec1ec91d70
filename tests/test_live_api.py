"""The live Events API as it is now: types this version does not know, a tenant without a type,
errors that repeat at one position, and runs that meet only faults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import BASELINE_NAMES, assert_clean_failure, discover, fast_config, run_tap, select_streams, tap_config

from tap_auth0_events.emulator.server import ConnectionPlan, Emulator
from tap_auth0_events.event_types import EVENT_TYPES, OTHER_EVENTS_STREAM, stream_name

pytestmark = pytest.mark.integration

UNKNOWN_TYPES = ("role.created", "tenant.settings.updated")


def _unknown_event(index: int, event_type: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "type": event_type,
        "source": "urn:auth0:acme-demo.us.auth0.com",
        "id": f"evt_unknown_{index:04d}",
        "time": f"2026-01-01T00:00:{index % 60:02d}Z",
        "a0tenant": "acme-demo",
        "data": {"object": {"id": f"thing_{index}", "nested": {"n": [1, 2.5, None]}}, "context": {"x": 1}},
    }


# -- types this version does not know ----------------------------------------------------------


def test_every_stream_selected_reads_without_filters_and_keeps_unknown_types(tmp_path: Path) -> None:
    with Emulator(fast_config(initial_events=300)) as emulator:
        for index in range(12):
            emulator.append_event(_unknown_event(index, UNKNOWN_TYPES[index % 2]))
        result = run_tap(tmp_path, tap_config(emulator))
        log = emulator.summary()
        assert all(request["event_types"] == [] for request in emulator.requests), "no event_type filter"
    assert result.returncode == 0, result.stderr[-2000:]
    by_stream = result.by_stream()
    other = by_stream.pop(OTHER_EVENTS_STREAM)
    assert sorted(record["event_id"] for record in other) == [f"evt_unknown_{i:04d}" for i in range(12)]
    assert {record["event_type"] for record in other} == set(UNKNOWN_TYPES)
    assert other[0]["object"] == {"id": "thing_0", "nested": {"n": [1, 2.5, None]}}, "the payload is kept whole"
    known = [event for event in log if event["event_type"] in EVENT_TYPES]
    assert sorted(r["event_id"] for records in by_stream.values() for r in records) == sorted(
        event["event_id"] for event in known
    )
    assert "12 events of types this version of tap-auth0-events does not know" in result.stderr
    assert "role.created (6), tenant.settings.updated (6)" in result.stderr
    assert result.stderr.count("does not know arrived") == 1, "said once per run"
    state = result.final_state["bookmarks"][OTHER_EVENTS_STREAM]
    assert state["offset"] == log[-1]["offset"], "other_events keeps the same position as every stream"


def test_a_partial_selection_keeps_its_filters(tmp_path: Path, discovered: dict) -> None:
    with Emulator(fast_config(initial_events=300)) as emulator:
        emulator.append_event(_unknown_event(1, UNKNOWN_TYPES[0]))
        wanted = {"user_created", "user_deleted", OTHER_EVENTS_STREAM}
        catalog = select_streams(discovered, wanted)
        result = run_tap(tmp_path, tap_config(emulator), catalog=catalog)
        requests = emulator.requests
    assert result.returncode == 0, result.stderr[-2000:]
    assert all(sorted(request["event_types"]) == ["user.created", "user.deleted"] for request in requests)
    assert set(result.by_stream()) <= {"user_created", "user_deleted"}


def test_unknown_types_are_skipped_and_said_when_other_events_is_deselected(tmp_path: Path, discovered: dict) -> None:
    with Emulator(fast_config(initial_events=100)) as emulator:
        emulator.append_event(_unknown_event(1, UNKNOWN_TYPES[0]))
        typed = {stream_name(event_type) for event_type in EVENT_TYPES}
        catalog = select_streams(discovered, typed)
        result = run_tap(tmp_path, tap_config(emulator), catalog=catalog)
        assert all(request["event_types"] == [] for request in emulator.requests)
    assert result.returncode == 0, result.stderr[-2000:]
    assert OTHER_EVENTS_STREAM not in result.by_stream()
    assert f"skipped ({OTHER_EVENTS_STREAM} is not selected)" in result.stderr


# -- a tenant without a type --------------------------------------------------------------------


def test_a_type_the_tenant_does_not_have_stops_with_how_to_deselect_it(tmp_path: Path, discovered: dict) -> None:
    with Emulator(fast_config(unsupported_types=frozenset({"group.role.assigned"}))) as emulator:
        wanted = {"user_created", "group_role_assigned", "organization_group_role_assigned"}
        catalog = select_streams(discovered, wanted)
        result = run_tap(tmp_path, tap_config(emulator), catalog=catalog)
    assert_clean_failure(
        result, 5, "does not support the event type group.role.assigned", "--exclude group_role_assigned"
    )
    assert "organization.group.role.assigned" not in result.stderr.split("does not support")[1].split(".")[0]


def test_with_every_stream_selected_such_a_tenant_simply_works(tmp_path: Path) -> None:
    with Emulator(fast_config(unsupported_types=frozenset({"group.role.assigned"}))) as emulator:
        result = run_tap(tmp_path, tap_config(emulator))
        log = emulator.summary()
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(result.records) == len(log)


# -- stop instead of spinning -------------------------------------------------------------------


def test_the_same_error_at_the_same_position_three_times_stops_the_run(tmp_path: Path) -> None:
    with Emulator(fast_config(initial_events=200)) as emulator:
        log = emulator.summary()
        emulator.queue(
            ConnectionPlan(after_events=50, action="error:payload_too_large"),
            ConnectionPlan(after_events=0, action="error:payload_too_large"),
            ConnectionPlan(after_events=0, action="error:payload_too_large"),
        )
        result = run_tap(tmp_path, tap_config(emulator))
        assert_clean_failure(result, 8, "payload_too_large", f"offset {log[49]['offset']}", "3 times in a row")
        assert result.event_ids() == [event["event_id"] for event in log[:50]]
        assert result.final_state["bookmarks"]["user_created"]["offset"] == log[49]["offset"], "STATE before it"
        resumed = run_tap(tmp_path, tap_config(emulator), state=result.final_state)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.event_ids() == [event["event_id"] for event in log[50:]], "nothing skipped, nothing repeated"


def test_an_error_that_passes_is_retried(tmp_path: Path) -> None:
    with Emulator(fast_config(initial_events=200)) as emulator:
        emulator.queue(*[ConnectionPlan(after_events=0, action="error:processing_error") for _ in range(2)])
        result = run_tap(tmp_path, tap_config(emulator))
        assert result.returncode == 0, result.stderr[-2000:]
        assert len(result.records) == len(emulator.summary())


def test_a_run_that_meets_only_429s_fails_naming_the_retry_after(tmp_path: Path) -> None:
    with Emulator(fast_config()) as emulator:
        emulator.queue(*[ConnectionPlan(status=429, retry_after="1") for _ in range(100)])
        result = run_tap(tmp_path, tap_config(emulator, max_run_seconds=3))
    assert_clean_failure(result, 9, "max_run_seconds reached without reading the stream", "Retry-After: 1")
    assert result.records == []


def test_a_run_that_meets_only_5xx_fails_naming_the_status(tmp_path: Path) -> None:
    with Emulator(fast_config()) as emulator:
        emulator.queue(*[ConnectionPlan(status=503) for _ in range(200)])
        result = run_tap(tmp_path, tap_config(emulator, max_run_seconds=3))
    assert_clean_failure(result, 9, "without reading the stream", "HTTP 503")


def test_a_run_that_cannot_connect_fails_naming_the_connection_error(tmp_path: Path, emulator: Emulator) -> None:
    result = run_tap(tmp_path, tap_config(emulator, api_url="http://127.0.0.1:9", max_run_seconds=3))
    assert_clean_failure(result, 9, "without reading the stream", "connection error")


def test_a_long_retry_after_does_not_outlast_max_run_seconds(tmp_path: Path) -> None:
    with Emulator(fast_config()) as emulator:
        emulator.queue(*[ConnectionPlan(status=429, retry_after="300") for _ in range(5)])
        result = run_tap(tmp_path, tap_config(emulator, max_run_seconds=2), timeout=60)
    assert_clean_failure(result, 9, "Retry-After: 300")


def test_a_quiet_tenant_on_a_healthy_connection_still_ends_with_exit_0(tmp_path: Path) -> None:
    with Emulator(fast_config(initial_events=20)) as emulator:
        first = run_tap(tmp_path, tap_config(emulator))
        assert first.returncode == 0
        # Nothing new on a healthy connection (heartbeats): max_run_seconds ends the run before the idle
        # timeout, and a run that met no fault is a success.
        config = tap_config(emulator, idle_timeout_seconds=5, max_run_seconds=2)
        quiet = run_tap(tmp_path, config, state=first.final_state)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert quiet.records == []


def test_discovery_lists_every_type_and_the_catch_all(tmp_path: Path, emulator: Emulator) -> None:
    catalog = discover(tmp_path, tap_config(emulator))
    names = {entry["tap_stream_id"] for entry in catalog["streams"]}
    assert names == {stream_name(event_type) for event_type in EVENT_TYPES} | {OTHER_EVENTS_STREAM} | BASELINE_NAMES
    other = next(entry for entry in catalog["streams"] if entry["tap_stream_id"] == OTHER_EVENTS_STREAM)
    assert json.dumps(other["schema"]["properties"]["object"]).count("properties") == 0, "the payload stays open"
