"""The tap end to end: the real CLI against the emulator over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from conftest import BASELINE_NAMES, TAP, TOKEN, discover, fast_config, run_tap, select_streams, tap_config

from tap_auth0_events.emulator.server import Emulator
from tap_auth0_events.event_types import EVENT_TYPES, STREAM_KEYS, stream_name

pytestmark = pytest.mark.integration


def expected_by_stream(emulator: Emulator, types: set[str] | None = None) -> dict[str, list[str]]:
    expected: dict[str, list[str]] = {}
    for event in emulator.summary():
        if types is None or event["event_type"] in types:
            expected.setdefault(stream_name(event["event_type"]), []).append(event["event_id"])
    return expected


def test_every_event_lands_once_in_its_own_stream_through_server_cycling(tmp_path: Path) -> None:
    # The server closes every connection after 97 events: the run must stitch them together.
    with Emulator(fast_config(cycle_events=97)) as emulator:
        result = run_tap(tmp_path, tap_config(emulator))
        assert result.returncode == 0, result.stderr
        got = {stream: [record["event_id"] for record in records] for stream, records in result.by_stream().items()}
        assert got == expected_by_stream(emulator)
        assert len(got) == len(EVENT_TYPES), "the seeded history holds every event type"
        assert len(emulator.requests) > 600 // 97, "the run reconnected through cycling"
        assert all(request["last_event_id"] for request in emulator.requests[1:])
        # Each record carries the offset it came with, and the run ends on the last offset.
        last = emulator.summary()[-1]
        assert result.records[-1]["record"]["event_offset"] == last["offset"]
        bookmarks = result.final_state["bookmarks"]
        assert {bookmark["offset"] for bookmark in bookmarks.values()} == {last["offset"]}
        assert "caught up" in result.stderr


def test_records_are_typed_and_carry_event_fields(tmp_path: Path, emulator: Emulator) -> None:
    result = run_tap(tmp_path, tap_config(emulator))
    schemas = {message["stream"]: message for message in result.messages if message["type"] == "SCHEMA"}
    assert set(schemas) == {stream_name(key) for key in STREAM_KEYS}, "no baseline this run: no baseline SCHEMA"
    assert schemas["user_created"]["key_properties"] == ["event_id"]
    record = result.by_stream()["user_updated"][0]
    assert record["event_id"].startswith("evt_")
    assert record["event_type"] == "user.updated"
    assert record["event_time"].endswith("Z")
    assert record["object"]["user_id"]
    for message in result.records:
        assert message["record"]["event_type"].replace(".", "_") == message["stream"]


def test_resume_from_state_yields_nothing_new_then_exactly_the_appended_events(
    tmp_path: Path, emulator: Emulator
) -> None:
    first = run_tap(tmp_path, tap_config(emulator))
    assert first.returncode == 0, first.stderr
    again = run_tap(tmp_path, tap_config(emulator), state=first.final_state)
    assert again.returncode == 0, again.stderr
    assert again.records == []
    assert emulator.requests[-1]["last_event_id"], "the resumed run sent Last-Event-ID"

    appended = emulator.append(25)
    third = run_tap(tmp_path, tap_config(emulator), state=again.final_state)
    assert third.returncode == 0, third.stderr
    assert third.event_ids() == [event.event_id for event in appended]


def test_selected_streams_become_event_type_filters_on_one_connection(
    tmp_path: Path, emulator: Emulator, discovered: dict
) -> None:
    chosen = {"user_created", "organization_member_added", "group_member_deleted"}
    catalog = select_streams(discovered, chosen)
    result = run_tap(tmp_path, tap_config(emulator), catalog=catalog)
    assert result.returncode == 0, result.stderr
    types = {"user.created", "organization.member.added", "group.member.deleted"}
    assert sorted(emulator.requests[0]["event_types"]) == sorted(types)
    got = {stream: [record["event_id"] for record in records] for stream, records in result.by_stream().items()}
    assert got == expected_by_stream(emulator, types)
    assert set(result.final_state["bookmarks"]) == chosen


def test_first_run_without_start_date_starts_now_and_the_next_run_continues(tmp_path: Path, emulator: Emulator) -> None:
    first = run_tap(tmp_path, tap_config(emulator, start_date=None))
    assert first.returncode == 0, first.stderr
    assert first.records == [], "history before the first run is not read without start_date"
    stored = first.final_state["bookmarks"]["user_created"]
    assert "from_timestamp" in stored or "offset" in stored
    appended = emulator.append(5)
    second = run_tap(tmp_path, tap_config(emulator, start_date=None), state=first.final_state)
    assert second.returncode == 0, second.stderr
    assert second.event_ids() == [event.event_id for event in appended]


def test_run_stops_at_first_event_newer_than_its_start_and_leaves_it_for_next_run(tmp_path: Path) -> None:
    # Live events keep arriving: the run must still end, and nothing it leaves behind is lost.
    with Emulator(fast_config(live_events_per_second=20)) as emulator:
        first = run_tap(tmp_path, tap_config(emulator, idle_timeout_seconds=30))
        assert first.returncode == 0, first.stderr
        assert "reached an event from after the run started" in first.stderr
        second = run_tap(tmp_path, tap_config(emulator, idle_timeout_seconds=30), state=first.final_state)
        assert second.returncode == 0, second.stderr
        seen = first.event_ids() + second.event_ids()
        log_ids = [event["event_id"] for event in emulator.summary()]
        assert seen == log_ids[: len(seen)], "two runs together read the log in order, without gaps"
        assert len(set(seen)) == len(seen)


def test_client_credentials_get_a_token_from_oauth_token(tmp_path: Path, emulator: Emulator) -> None:
    config = tap_config(emulator, api_token=None, client_id="emulator-client", client_secret="emulator-secret")
    result = run_tap(tmp_path, config)
    assert result.returncode == 0, result.stderr
    assert len(result.records) == len(emulator.summary())
    assert emulator.token_requests == 1


def test_discover_lists_a_stream_per_type_and_the_catch_all(tmp_path: Path, emulator: Emulator) -> None:
    catalog = discover(tmp_path, tap_config(emulator))
    expected = {*map(stream_name, STREAM_KEYS), *BASELINE_NAMES}
    assert sorted(entry["tap_stream_id"] for entry in catalog["streams"]) == sorted(expected)
    assert TOKEN not in str(catalog)


def test_dash_dash_test_emits_at_most_one_record_per_stream_and_no_error(tmp_path: Path, emulator: Emulator) -> None:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(tap_config(emulator, idle_timeout_seconds=60)))
    done = subprocess.run([TAP, "--config", str(config_path), "--test"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ERROR" not in done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines() if '"type":"RECORD"' in line.replace(" ", "")]
    per_stream = Counter(record["stream"] for record in records)
    types_in_log = {event["event_type"] for event in emulator.summary()}
    assert set(per_stream) == {stream_name(event_type) for event_type in types_in_log}
    assert set(per_stream.values()) == {1}


def test_dash_dash_test_with_a_bad_token_fails_with_its_line(tmp_path: Path, emulator: Emulator) -> None:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(tap_config(emulator, api_token="SECRET-wrong-token")))
    done = subprocess.run([TAP, "--config", str(config_path), "--test"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert "HTTP 401 from the Events API" in done.stderr
    assert "Traceback" not in done.stderr and "SECRET-wrong-token" not in done.stderr
