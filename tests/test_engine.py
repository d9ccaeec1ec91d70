"""The engine's rules, in process: a scripted feed and a recording output drive `sync.Syncer` and
`run.Pass` directly (no subprocess, no HTTP, a fake clock), so each rule is checked in milliseconds.

What only a real connection, process or database can show stays in the other test modules (the
fault matrix against the emulator, kill -9, Meltano, the warehouses).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest
from engine_fakes import FakeClock, FakeFeed, FakeFeeds, FakeOutput, error_message, event_message, sse_message

from tap_auth0_events.connection import Signal, StartPosition
from tap_auth0_events.errors import OffsetExpiredError, StreamCorruptError, StreamStuckError, StreamUnreadableError
from tap_auth0_events.records import DictCodec
from tap_auth0_events.run import LIVE_EDGE_RECORDS, QUIET, Checkpoint, Emit, Pass, RunLimits, RunStats
from tap_auth0_events.settings import parse_settings
from tap_auth0_events.sync import Syncer

CONNECTED, HEARTBEAT, FAULT = Signal.CONNECTED, Signal.HEARTBEAT, Signal.FAULT
LOG = logging.getLogger("test_engine")


@dataclass(frozen=True)
class Stream:
    name: str
    event_type: str


USERS = Stream("user_created", "user.created")
UPDATES = Stream("user_updated", "user.updated")


def settings(**overrides: Any) -> Any:
    config = {"api_url": "http://127.0.0.1:9", "api_token": "token", "idle_timeout_seconds": 5, **overrides}
    return parse_settings(config)


def sync(
    feeds: list[FakeFeed], state: dict[str, Any] | None = None, streams: Sequence[Stream] = (USERS,), **config: Any
) -> tuple[FakeOutput, dict[str, Any], FakeFeeds]:
    """Run a whole sync the way the adapter does (write each batch, then ask for the next)."""
    fakes = FakeFeeds(feeds)
    clock = feeds[0].clock
    for feed in feeds:
        feed.clock = clock
    state = {} if state is None else state
    syncer = Syncer(settings(**config), state, LOG, feeds=lambda *_: fakes, clock=clock)
    output = FakeOutput()
    for records in syncer.sync(streams, output):
        output.write_records(records)
    return output, state, fakes


def events(first: int, last: int, event_type: str = "user.created") -> list[Any]:
    return [event_message(index, event_type) for index in range(first, last + 1)]


def assert_state_never_before_its_records(output: FakeOutput) -> None:
    """Each STATE comes after a flush, and its offset is covered: every event up to it was written."""
    written: set[str] = set()
    for before, entry in zip([("start",), *output.log], output.log, strict=False):
        if entry[0] == "records":
            written.update(entry[1])
        elif entry[0] == "state":
            assert before == ("flush",), "the output is flushed before a STATE"
            for bookmark in entry[1]["bookmarks"].values():
                if bookmark.get("offset"):
                    upto = int(bookmark["offset"][1:])
                    missing = [index for index in range(upto + 1) if f"evt_{index}" not in written]
                    assert not missing, f"STATE at {bookmark['offset']} before the records of {missing[:5]}"


# --- commit order under every kind of fault ---------------------------------------------------------


FAULTS = {
    "cut": [[CONNECTED, events(0, 9), FAULT], [CONNECTED, events(10, 19)]],
    "server cycling": [[CONNECTED, events(0, 9)], [CONNECTED, events(10, 19)]],
    "broken frame": [
        [CONNECTED, [*events(0, 9), sse_message("user.created", b'{"half', "o000010")]],
        [CONNECTED, events(10, 19)],
    ],
    "error event": [[CONNECTED, [*events(0, 9), error_message("internal")]], [CONNECTED, events(10, 19)]],
    "5xx and 429": [[CONNECTED, events(0, 9)], [FAULT], [FAULT], [CONNECTED, events(10, 19)]],
    "token renewal": [[CONNECTED, events(0, 9)], [], [CONNECTED, events(10, 19)]],
    "offset-only and heartbeats": [
        [CONNECTED, events(0, 4), HEARTBEAT, [sse_message("offset-only", b"", "o000004")], events(5, 9)],
        [CONNECTED, events(10, 19)],
    ],
}


@pytest.mark.parametrize("fault", FAULTS)
def test_state_never_moves_before_its_records(fault: str) -> None:
    feed = FakeFeed(FAULTS[fault])
    output, state, _ = sync([feed], start_date="2025-01-01T00:00:00Z")
    assert sorted(set(output.written_ids()), key=lambda e: int(e[4:])) == [f"evt_{i}" for i in range(20)]
    assert_state_never_before_its_records(output)
    assert state["bookmarks"]["user_created"]["offset"] == "o000019"
    assert output.states()[-1] == state, "the last STATE is the final position"
    # After the first connection the feed resumed after the last event taken, never further.
    assert feed.opened_from[0] is None and all(offset in (None, "o000009") for offset in feed.opened_from[1:])


def test_the_connection_resumes_after_the_last_event_taken_not_after_a_broken_one() -> None:
    broken = sse_message("user.created", b"not json", "o000003")
    feed = FakeFeed([[CONNECTED, [*events(0, 2), broken, *events(4, 5)]], [CONNECTED, events(3, 5)]])
    output, _, _ = sync([feed])
    assert feed.opened_from == [None, "o000002"]
    assert output.written_ids() == [f"evt_{i}" for i in range(6)], "events after a broken frame wait for it"
    assert feed.faults == 1 and "not a valid event" in feed.last_fault


def test_a_fatal_error_writes_the_state_of_what_was_emitted_then_raises() -> None:
    stuck = [[CONNECTED, [*events(0, 4), error_message("internal")]]] + [[CONNECTED, [error_message("internal")]]] * 2
    output = FakeOutput()
    syncer = Syncer(settings(), {}, LOG, feeds=lambda *_: FakeFeeds([FakeFeed(stuck)]), clock=FakeClock())
    with pytest.raises(StreamStuckError, match="3 times in a row") as raised:
        for records in syncer.sync([USERS], output):
            output.write_records(records)
    assert "offset o000004" in str(raised.value)
    assert output.written_ids() == [f"evt_{i}" for i in range(5)]
    assert output.states()[-1]["bookmarks"]["user_created"]["offset"] == "o000004"
    assert_state_never_before_its_records(output)


def test_a_frame_broken_three_times_at_one_position_stops_the_run() -> None:
    broken = [CONNECTED, [sse_message("user.created", b"{", "o000005")]]
    feed = FakeFeed([[CONNECTED, [*events(0, 4), *broken[1]]], broken, broken])
    with pytest.raises(StreamCorruptError, match="after offset o000004 was not a valid event 3 times"):
        sync([feed])


def test_broken_frames_at_moving_positions_are_passing_faults() -> None:
    def broken(index: int) -> Any:
        return sse_message("user.created", b"{", f"o{index:06d}")

    feed = FakeFeed([[CONNECTED, [*events(0, 1), broken(2)]], [CONNECTED, [*events(2, 3), broken(4)]]] * 1)
    feed.script += [[CONNECTED, [*events(4, 5), broken(6)]], [CONNECTED, events(6, 7)]]
    output, state, _ = sync([feed])
    assert output.written_ids() == [f"evt_{i}" for i in range(8)]
    assert state["bookmarks"]["user_created"]["offset"] == "o000007"


# --- the time bound, idle, max_run_seconds and only-faults ------------------------------------------


def test_the_first_event_from_after_the_run_started_ends_the_pass_unwritten() -> None:
    late = event_message(5, time="2999-01-01T00:00:00.000Z")
    feed = FakeFeed([[CONNECTED, [*events(0, 4), late, event_message(6)]]])
    output, state, _ = sync([feed])
    assert output.written_ids() == [f"evt_{i}" for i in range(5)]
    assert state["bookmarks"]["user_created"]["offset"] == "o000004"


def test_a_run_that_met_only_faults_until_max_run_seconds_exits_unreadable() -> None:
    feed = FakeFeed([[FAULT]] * 20, seconds_per_item=10.0)
    with pytest.raises(StreamUnreadableError, match="max_run_seconds reached without reading the stream"):
        sync([feed], max_run_seconds=60)


def test_faults_after_a_healthy_connection_end_at_max_run_seconds_without_error() -> None:
    feed = FakeFeed([[CONNECTED, events(0, 2), HEARTBEAT], *[[FAULT]] * 20], seconds_per_item=10.0)
    output, state, _ = sync([feed], max_run_seconds=60, idle_timeout_seconds=30)
    assert output.written_ids() == ["evt_0", "evt_1", "evt_2"]
    assert state["bookmarks"]["user_created"]["offset"] == "o000002"


def test_time_on_a_broken_connection_is_not_idle() -> None:
    # 5 s of idle ends the run; faults for 30 s in between do not count towards it.
    script = [[CONNECTED, events(0, 1), HEARTBEAT, HEARTBEAT], *[[FAULT]] * 3, [CONNECTED, events(2, 3)]]
    feed = FakeFeed(script, seconds_per_item=2.0)
    output, _, _ = sync([feed], idle_timeout_seconds=5)
    assert output.written_ids() == [f"evt_{i}" for i in range(4)]


# --- back-fill planning, expired offsets ------------------------------------------------------------


def test_a_newly_selected_stream_is_back_filled_up_to_the_stored_position_then_all_read_together() -> None:
    stored = {"bookmarks": {"user_created": {"offset": "o000100", "newest_event_time": "2026-01-01T00:01:40.000Z"}}}
    backfill = FakeFeed(
        [[CONNECTED, [*events(10, 11, "user.updated"), event_message(12, "user.updated", "2026-01-01T00:30:00.000Z")]]]
    )
    main = FakeFeed([[CONNECTED, [event_message(101), event_message(102, "user.updated")]]])
    output, state, fakes = sync(
        [backfill, main], stored, streams=(USERS, UPDATES), start_date="2025-06-01T00:00:00Z", max_run_seconds=600
    )
    assert [feed.event_types for feed in fakes.opened] == [["user.updated"], ["user.created", "user.updated"]]
    assert backfill.opened_from == [None] and main.opened_from == ["o000100"]
    # The back-fill stops at the stored position's newest event + 10 minutes: evt_12 (at 00:30) is after it.
    assert output.written_ids() == ["evt_10", "evt_11", "evt_101", "evt_102"]
    assert state["bookmarks"]["user_created"]["offset"] == state["bookmarks"]["user_updated"]["offset"] == "o000102"
    backfill_state = output.states()[0]["bookmarks"]
    assert (
        backfill_state["user_updated"]["offset"] == "o000011" and backfill_state["user_created"]["offset"] == "o000100"
    )
    assert fakes.closed


def test_a_new_stream_without_start_date_joins_the_main_position() -> None:
    stored = {"bookmarks": {"user_created": {"offset": "o000100"}}}
    main = FakeFeed([[CONNECTED, [event_message(101), event_message(102, "user.updated")]]])
    output, state, fakes = sync([main], stored, streams=(USERS, UPDATES))
    assert len(fakes.opened) == 1 and main.opened_from == ["o000100"]
    assert state["bookmarks"]["user_updated"]["offset"] == "o000102"
    assert output.written_ids() == ["evt_101", "evt_102"]


def test_an_expired_offset_fails_by_default_with_state_for_what_was_written() -> None:
    stored = {"bookmarks": {"user_created": {"offset": "o000100", "newest_event_time": "2026-01-01T01:00:00.000Z"}}}
    feed = FakeFeed([[CONNECTED, [event_message(101), error_message("cursor_expired")]]])
    output = FakeOutput()
    syncer = Syncer(settings(), stored, LOG, feeds=lambda *_: FakeFeeds([feed]), clock=FakeClock())
    with pytest.raises(OffsetExpiredError, match="the stored offset has expired"):
        for records in syncer.sync([USERS], output):
            output.write_records(records)
    assert output.written_ids() == ["evt_101"]
    assert output.states()[-1]["bookmarks"]["user_created"]["offset"] == "o000101"


def test_an_expired_offset_restarts_ten_minutes_before_the_newest_event_when_set() -> None:
    stored = {"bookmarks": {"user_created": {"offset": "o000100", "newest_event_time": "2026-01-01T01:00:00.000Z"}}}
    starts: list[StartPosition] = []
    feed = FakeFeed([[CONNECTED, [error_message("cursor_expired")]], [CONNECTED, events(0, 2)]])
    original = feed.messages

    def messages(start: StartPosition) -> Any:
        starts.append(start)
        return original(start)

    feed.messages = messages  # type: ignore[method-assign]
    output, state, _ = sync([feed], stored, on_expired_offset="restart_from_time")
    assert [(s.offset, s.from_timestamp) for s in starts] == [("o000100", None), (None, "2026-01-01T00:50:00Z")]
    assert output.written_ids() == ["evt_0", "evt_1", "evt_2"]
    assert state["bookmarks"]["user_created"]["offset"] == "o000002"


# --- the pass itself: routing, quiet, checkpoints ----------------------------------------------------


def make_pass(feed: FakeFeed, selected: frozenset[str] = frozenset({"user.created"}), **limits: Any) -> Pass:
    run_limits = RunLimits(
        stop_at_time=datetime.now(timezone.utc), max_run_seconds=limits.pop("max_run_seconds", 600), **limits
    )
    start = StartPosition(from_timestamp="2025-01-01T00:00:00Z")
    return Pass(feed, start, DictCodec.decode, ["s"], selected, run_limits, LOG, RunStats(), {}, feed.clock)


def kinds(steps: list[Any]) -> list[str]:
    return [
        f"records:{len(s.records)}" if isinstance(s, Emit) else "quiet" if s is QUIET else "checkpoint" for s in steps
    ]


def test_quiet_is_said_once_after_records_not_at_every_heartbeat() -> None:
    full = events(0, LIVE_EDGE_RECORDS - 1)
    feed = FakeFeed([[CONNECTED, full, HEARTBEAT, HEARTBEAT, events(100, 101), HEARTBEAT, HEARTBEAT]])
    steps = list(make_pass(feed, idle_timeout_seconds=3).steps())
    assert kinds(steps) == [f"records:{LIVE_EDGE_RECORDS}", "quiet", "records:2", "quiet", "checkpoint"]


def test_a_checkpoint_follows_every_n_records_and_covers_exactly_them() -> None:
    feed = FakeFeed([[CONNECTED, events(0, 24)]])
    steps = list(make_pass(feed, idle_timeout_seconds=2, checkpoint_every_records=10).steps())
    assert kinds(steps) == ["records:10", "checkpoint", "records:10", "checkpoint", "records:5", "quiet", "checkpoint"]
    offsets = [s.offset for s in steps if isinstance(s, Checkpoint)]
    assert offsets == ["o000009", "o000019", "o000024"]


def test_unknown_types_go_to_other_events_when_selected_and_are_counted_either_way() -> None:
    script = [[CONNECTED, [event_message(0), event_message(1, "user.renamed"), event_message(2, "user.updated")]]]
    taken = make_pass(FakeFeed(list(script)), frozenset({"user.created", "*"}), idle_timeout_seconds=2)
    steps = list(taken.steps())
    assert [key for s in steps if isinstance(s, Emit) for key, _ in s.records] == ["user.created", "*"]
    assert taken.unknown_types == {"user.renamed": 1} and taken.stats.skipped == 1
    left = make_pass(FakeFeed(list(script)), idle_timeout_seconds=2)
    steps = list(left.steps())
    assert [key for s in steps if isinstance(s, Emit) for key, _ in s.records] == ["user.created"]
    assert left.unknown_types == {"user.renamed": 1} and left.stats.skipped == 2


def test_a_termination_request_ends_the_pass_at_the_next_message_with_a_checkpoint() -> None:
    feed = FakeFeed([[CONNECTED, events(0, 2), events(3, 5)]])
    one = make_pass(feed, idle_timeout_seconds=60)
    steps = one.steps()
    assert isinstance(next(steps), Emit)
    one.limits.stop_requested.set()
    rest = list(steps)
    assert kinds(rest) == ["quiet", "checkpoint"] and one.stats.stop_reason == "stopped by a termination signal"
    assert isinstance(rest[-1], Checkpoint) and rest[-1].offset == "o000002"
