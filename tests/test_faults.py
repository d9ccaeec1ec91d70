"""The fault matrix: whatever the network or the server does, every event arrives.

Each test runs the real tap CLI against the emulator with faults queued as `ConnectionPlan`s,
and checks three things: no event is lost, the run ends by itself, and the log says what happened.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import orjson
import pytest
from conftest import TapRun, fast_config, run_tap, tap_config

from tap_auth0_events.emulator.server import ConnectionPlan, Emulator, EmulatorConfig

pytestmark = pytest.mark.integration


def assert_complete(result: TapRun, emulator: Emulator) -> None:
    """Every event of the log was emitted at least once, and only events of the log."""
    assert result.returncode == 0, result.stderr[-3000:]
    log_ids = [event["event_id"] for event in emulator.summary()]
    got = result.event_ids()
    assert set(got) == set(log_ids), f"missing: {sorted(set(log_ids) - set(got))[:5]}"


def sent_events(emulator: Emulator) -> dict[str, dict]:
    """The CloudEvents exactly as the emulator put them on the wire, by event id."""
    events = {}
    for stored in emulator.log.events:
        data = stored.frame.split(b"\ndata: ", 1)[1].rstrip(b"\n")
        events[stored.event_id] = orjson.loads(data)["event"]
    return events


def test_cycling_at_random_points_many_times_per_run_and_retry_is_honoured(tmp_path: Path) -> None:
    rng = random.Random(11)
    with Emulator(fast_config(initial_events=1500, retry_ms=150)) as emulator:
        emulator.queue(*[ConnectionPlan(after_events=rng.randint(1, 50), action="close") for _ in range(25)])
        result = run_tap(tmp_path, tap_config(emulator))
        assert_complete(result, emulator)
        assert len(result.records) == 1500, "a clean close never causes a replay"
        starts = [request["at"] for request in emulator.requests]
        assert len(starts) >= 26
        gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
        assert min(gaps) >= 0.14, "the server's retry: 150 is the floor between connections"


@pytest.mark.parametrize("action", ["cut", "reset"])
def test_connection_cut_in_the_middle_of_a_frame(tmp_path: Path, emulator: Emulator, action: str) -> None:
    emulator.queue(*[ConnectionPlan(after_events=count, action=action) for count in (3, 50, 170, 1)])
    result = run_tap(tmp_path, tap_config(emulator))
    assert_complete(result, emulator)
    assert len(result.records) == len(emulator.summary()), "the half frame is read again, not twice"
    assert "middle of a message" in result.stderr or "reconnecting" in result.stderr


def test_silent_connection_is_dead_not_caught_up(tmp_path: Path, emulator: Emulator) -> None:
    # 40 s of silence mid-history; the read timeout (1 s) is well below the idle timeout (4 s).
    emulator.queue(ConnectionPlan(after_events=200, action="silent", silent_seconds=40))
    result = run_tap(tmp_path, tap_config(emulator, read_timeout_seconds=1, idle_timeout_seconds=4))
    assert_complete(result, emulator)
    assert "ReadTimeout" in result.stderr or "timed out" in result.stderr
    assert len(emulator.requests) >= 2


@pytest.mark.parametrize("code", ["processing_error", "timeout", "connection_timeout"])
def test_error_event_in_the_stream_reconnects(tmp_path: Path, emulator: Emulator, code: str) -> None:
    emulator.queue(ConnectionPlan(after_events=77, action=f"error:{code}"))
    result = run_tap(tmp_path, tap_config(emulator))
    assert_complete(result, emulator)
    assert code in result.stderr


def test_cursor_expired_in_the_stream_is_an_expired_offset(tmp_path: Path, emulator: Emulator) -> None:
    emulator.queue(ConnectionPlan(after_events=77, action="error:cursor_expired"))
    result = run_tap(tmp_path, tap_config(emulator))
    assert result.returncode == 6
    assert "expired" in result.stderr
    # What was emitted before the error is covered by the STATE written on the way out.
    assert result.final_state["bookmarks"]["user_created"]["offset"] == result.records[-1]["record"]["event_offset"]


def test_429_storm_with_retry_after_then_5xx_for_a_while(tmp_path: Path, emulator: Emulator) -> None:
    storm = [ConnectionPlan(status=429, retry_after="0.3") for _ in range(6)]
    outage = [ConnectionPlan(status=status) for status in (500, 502, 503, 503)]
    emulator.queue(ConnectionPlan(after_events=100, action="close"), *storm, *outage)
    result = run_tap(tmp_path, tap_config(emulator, idle_timeout_seconds=3))
    assert_complete(result, emulator)
    pairs = itertools.pairwise(emulator.requests)
    waits = [after["at"] - before["at"] for before, after in pairs if before.get("status") == 429]
    assert len(waits) == 6
    assert min(waits) >= 0.29, "Retry-After is honoured"
    assert "HTTP 429" in result.stderr and "HTTP 503" in result.stderr


def test_429_with_retry_after_0_is_a_clean_fault_and_the_run_goes_on(tmp_path: Path, emulator: Emulator) -> None:
    """Retry-After: 0 asks for no wait: the refusal is a fault like any other (its body is never
    read as a stream), the next connection goes on from the last offset, and nothing is lost."""
    refused = [ConnectionPlan(status=429, retry_after="0") for _ in range(2)]
    emulator.queue(ConnectionPlan(after_events=50, action="close"), *refused)
    result = run_tap(tmp_path, tap_config(emulator))
    assert_complete(result, emulator)
    assert [request.get("status") for request in emulator.requests].count(429) == 2
    assert result.stderr.count("HTTP 429 rate limited by the Events API; retrying in 0.0s") == 2


def test_duplicates_and_out_of_order_events(tmp_path: Path) -> None:
    config = fast_config(duplicate_every=7, out_of_order_every=5)
    with Emulator(config) as emulator:
        emulator.queue(ConnectionPlan(after_events=10, action="duplicate"))
        result = run_tap(tmp_path, tap_config(emulator))
        assert_complete(result, emulator)
        ids = result.event_ids()
        assert len(ids) > len(set(ids)), "duplicates are delivered as they come"
        times = [record["record"]["event_time"] for record in result.records]
        assert times != sorted(times), "events arrive out of time order and are all kept"


def test_broken_json_frame_is_fetched_again(tmp_path: Path, emulator: Emulator) -> None:
    emulator.queue(ConnectionPlan(after_events=40, action="broken_json"))
    result = run_tap(tmp_path, tap_config(emulator))
    assert_complete(result, emulator)
    assert len(result.records) == len(emulator.summary())
    assert "not a valid event" in result.stderr


def test_a_frame_broken_every_time_stops_the_run_without_skipping_it(tmp_path: Path) -> None:
    with Emulator(fast_config(broken_seqs=frozenset({300}))) as emulator:
        result = run_tap(tmp_path, tap_config(emulator))
        assert result.returncode == 7
        assert "3 times in a row" in result.stderr
        log = emulator.summary()
        assert result.event_ids() == [event["event_id"] for event in log[:300]]
        assert result.final_state["bookmarks"]["user_created"]["offset"] == log[299]["offset"]


def test_large_frames_and_non_ascii_text_arrive_intact(tmp_path: Path, emulator: Emulator) -> None:
    big = sent_events(emulator)[emulator.log.events[0].event_id]
    big = json.loads(json.dumps(big))
    big["id"] = "evt_" + "B" * 22
    big["data"]["object"]["metadata"] = {
        "blob": "x" * 1_500_000,
        "text": 'Zoë Ångström 山田太郎 🚀 "quoted" back\\slash\nnew line \u2028 \x7f',
    }
    emulator.append_event(big)
    result = run_tap(tmp_path, tap_config(emulator))
    assert_complete(result, emulator)
    sent = sent_events(emulator)
    for message in result.records:
        record = message["record"]
        event = sent[record["event_id"]]
        for key in ("object", "previous_object", "context"):
            assert record.get(key) == event["data"].get(key)
        for key in ("source", "specversion", "a0tenant", "a0stream", "time", "type"):
            column = {"time": "event_time", "type": "event_type"}.get(key, key)
            assert record.get(column) == event.get(key)
    assert any(len(line) > 1_500_000 for line in result.stdout.split("\n"))


@pytest.mark.parametrize("policy", ["fail", "restart_from_time"])
def test_expired_offset_fails_or_restarts_from_time_by_setting(tmp_path: Path, policy: str) -> None:
    with Emulator(fast_config()) as emulator:
        first = run_tap(tmp_path, tap_config(emulator))
        assert first.returncode == 0
        emulator.append(30)
        emulator.config.retained_from_seq = len(emulator.log)  # everything stored so far has expired
        second = run_tap(tmp_path, tap_config(emulator, on_expired_offset=policy), state=first.final_state)
    if policy == "fail":
        assert second.returncode == 6
        assert "expired" in second.stderr and "restart_from_time" in second.stderr
        assert second.records == []
    else:
        assert second.returncode == 0, second.stderr
        assert "THE STORED OFFSET HAS EXPIRED" in second.stderr
        newest = first.final_state["bookmarks"]["user_created"]["newest_event_time"]
        assert emulator.requests[-1]["from_timestamp"] < newest
        appended = [event["event_id"] for event in emulator.summary()[-30:]]
        assert set(appended) <= set(second.event_ids())


def test_client_credentials_token_expiring_mid_run_is_renewed(tmp_path: Path, emulator: Emulator) -> None:
    emulator.queue(ConnectionPlan(after_events=150, action="expire_tokens"))
    config = tap_config(emulator, api_token=None, client_id="emulator-client", client_secret="emulator-secret")
    result = run_tap(tmp_path, config)
    assert_complete(result, emulator)
    assert emulator.token_requests == 2
    assert "fetching a new token" in result.stderr


def test_static_token_expiring_mid_run_is_a_clear_401(tmp_path: Path, emulator: Emulator) -> None:
    emulator.queue(ConnectionPlan(after_events=150, action="expire_tokens"))
    result = run_tap(tmp_path, tap_config(emulator))
    assert result.returncode == 3
    assert "HTTP 401" in result.stderr and "api_token" in result.stderr
    assert len(result.records) == 150
    assert result.final_state["bookmarks"]["user_created"]["offset"] == emulator.summary()[149]["offset"]


def test_chunked_transfer_encoding_is_read_the_same(tmp_path: Path) -> None:
    with Emulator(EmulatorConfig(initial_events=400, retry_ms=10, heartbeat_seconds=0.2, chunked=True)) as emulator:
        emulator.queue(ConnectionPlan(after_events=99, action="cut"))
        result = run_tap(tmp_path, tap_config(emulator))
        assert_complete(result, emulator)
        assert len(result.records) == 400


def test_gzip_encoded_stream_from_a_compressing_proxy(tmp_path: Path) -> None:
    with Emulator(fast_config(initial_events=400, gzip=True, cycle_events=150)) as emulator:
        result = run_tap(tmp_path, tap_config(emulator))
        assert_complete(result, emulator)
        assert len(result.records) == 400
