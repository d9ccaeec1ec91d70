"""One pass of a run: a set of streams read from a start position to "caught up", as a stream of steps.

`Pass.steps` takes the feed's SSE messages, decodes each event into its record (with the output's
codec) and routes it to its stream, and yields `Emit` (records to write), `QUIET` (the connection
has no more for now: write out what is held) and `Checkpoint` (a position every emitted record
before it is covered by). The caller writes an `Emit` before it asks for the next step, so a
`Checkpoint` is only ever acted on after the records it covers: that ordering is what makes STATE
safe against `kill -9`.

The messages that are not events are read here too: an `offset-only` marker moves the position,
an `event: error` or a broken frame ends the connection (the feed reconnects from the position)
or, repeated at one position, the run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from typing import Any, Protocol

import orjson

from tap_auth0_events.connection import Signal, StartPosition, expired_message
from tap_auth0_events.errors import (
    OffsetExpiredError,
    StreamCorruptError,
    StreamStuckError,
    StreamUnreadableError,
    TapAuth0EventsError,
)
from tap_auth0_events.event_types import EVENT_TYPES, OTHER_EVENTS_KEY
from tap_auth0_events.records import MalformedEventError, load_json
from tap_auth0_events.sse import SSEMessage
from tap_auth0_events.vocabulary import Decode

# A read from the connection that brought fewer records than this means the tap has caught up with
# what the server had: what the output holds is written out at once (`QUIET`), not at the next
# checkpoint.
LIVE_EDGE_RECORDS = 64
# A broken frame, or the same `event: error`, this many times in a row at the same position is not
# a passing fault: the run stops there rather than skip an event.
MAX_REPEATS = 3
# Codes of `event: error` meaning the position itself is unusable (not a passing fault).
CURSOR_ERRORS = frozenset({"cursor_expired", "invalid_cursor"})
# SSE message names that are not events (a `message` is one only when it has data).
_NOT_EVENTS = frozenset({"offset-only", "error", "message"})
KNOWN_TYPES = frozenset(EVENT_TYPES)


class Feed(Protocol):
    """What a pass needs of its connection (`connection.EventFeed`; a fake one in the fast tests)."""

    offset: str | None
    connections: int
    faults: int
    last_fault: str

    def messages(self, start: StartPosition) -> Generator[list[SSEMessage] | Signal, None, None]: ...

    def advance(self, offset: str | None) -> None: ...

    def reconnect(self, fault: str = "") -> None: ...


@dataclass(slots=True)
class Emit:
    """Records to write, in order, as (stream key, record) pairs; never empty."""

    records: list[tuple[str, Any]]


class Quiet(Enum):
    """The connection has no more for now: an output that holds lines back writes them out."""

    QUIET = "quiet"


QUIET = Quiet.QUIET


@dataclass(slots=True, frozen=True)
class Checkpoint:
    """The position after everything emitted so far, for the streams `covers` of a pass from `start`;
    `newest_event_time` is the latest event time seen."""

    covers: Sequence[str]
    start: StartPosition
    offset: str | None
    newest_event_time: str | None


Step = Emit | Quiet | Checkpoint


@dataclass(slots=True)
class RunLimits:
    stop_at_time: datetime  # the first event stamped at or after this ends the pass (not emitted)
    max_run_seconds: float
    idle_timeout_seconds: float
    stop_label: str = "reached an event from after the run started"
    checkpoint_every_records: int = 10_000
    checkpoint_every_seconds: float = 5.0
    progress_every_seconds: float = 15.0
    # Set from a signal handler: the pass ends at the next message, with a final checkpoint.
    stop_requested: threading.Event = field(default_factory=threading.Event)


@dataclass(slots=True)
class RunStats:
    emitted: int = 0
    skipped: int = 0  # events of types no selected stream takes
    stop_reason: str = ""


class Pass:
    """One pass from a start position to "caught up": `steps()` yields records and checkpoints until
    caught up, idle, or out of time. It holds where the pass stands, and when it last saw and saved what.

    `unknown_types` counts events of types this version has no stream for, by type (they go to
    other_events when it is selected); the caller passes one dict for all its passes."""

    def __init__(
        self,
        feed: Feed,
        start: StartPosition,
        decode: Decode,
        covers: Sequence[str],
        selected_types: frozenset[str],
        limits: RunLimits,
        logger: logging.Logger,
        stats: RunStats,
        unknown_types: dict[str, int],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.feed, self.start, self.decode, self.covers = feed, start, decode, covers
        self.selected_types, self.limits, self.logger, self.stats = selected_types, limits, logger, stats
        self.unknown_types, self.clock = unknown_types, clock
        self.bound = TimeBound(limits.stop_at_time)
        self.offset = start.offset
        self.newest_time = start.newest_event_time
        self.since_checkpoint = 0
        self.idle = 0.0
        self.begun = self.last_message_at = self.last_checkpoint_at = self.last_progress_at = clock()
        self.deadline = self.begun + limits.max_run_seconds
        self.after_fault = False
        # Since the last progress (an event or an offset): faults, and whether a connection was healthy.
        self.faults_since_progress = 0
        self.healthy_since_progress = False
        self.unflushed = False  # records emitted since the connection last went quiet
        self.repeats = _Repeats()

    def steps(self) -> Iterator[Step]:
        messages = self.feed.messages(self.start)
        try:
            for item in messages:
                now = self.clock()
                if isinstance(item, list):
                    self._note_read(now)
                    yield from self._read(item, now)
                    if self.stats.stop_reason:
                        break
                else:
                    self._note_signal(item, now)
                    if item is Signal.HEARTBEAT and self.unflushed:
                        # A read without events after records: the tap has caught up for now.
                        self.unflushed = False
                        yield QUIET
                if self._checkpoint_due(now):
                    yield self._checkpoint(now)
                if now - self.last_progress_at >= self.limits.progress_every_seconds:
                    self._log_progress(now)
                if self._stopping(now):
                    break
        except TapAuth0EventsError:
            # Cover what was emitted before the failure, so the next run does not repeat it.
            yield Checkpoint(self.covers, self.start, self.offset, self.newest_time)
            raise
        finally:
            messages.close()
        yield Checkpoint(self.covers, self.start, self.offset, self.newest_time)
        self._log_progress(self.clock())
        if self.stats.stop_reason.startswith("max_run_seconds") and self._only_faults():
            raise StreamUnreadableError(
                "max_run_seconds reached without reading the stream: "
                f"{self.faults_since_progress} failed attempts since the last progress, "
                f"the last one {self.feed.last_fault}"
            )

    def _note_signal(self, signal: Signal, now: float) -> None:
        if signal is Signal.FAULT:
            self.faults_since_progress += 1
            self.after_fault = True
            self.last_message_at = now
            return
        self._note_read(now)
        if signal is Signal.HEARTBEAT:
            self.healthy_since_progress = True

    def _note_read(self, now: float) -> None:
        # Time spent on a broken or silent connection is not "idle": idle means caught up.
        if not self.after_fault:
            self.idle += now - self.last_message_at
        self.after_fault = False
        self.last_message_at = now

    def _only_faults(self) -> bool:
        """True when, since its last progress, the pass met faults and no healthy connection."""
        return self.faults_since_progress > 0 and not self.healthy_since_progress

    def _read(self, messages: list[SSEMessage], now: float) -> Iterator[Step]:
        """The messages of one read from the connection: each event decoded and routed to its stream,
        up to the time bound (the hot loop: the position lives in locals, written back before each
        yield and at the end)."""
        out: list[tuple[str, Any]] = []
        reached, floor, decode = self.bound.reached, self.bound.floor, self.decode
        selected_types = self.selected_types
        every_records = self.limits.checkpoint_every_records
        offset, newest_time, since = self.offset, self.newest_time or "", self.since_checkpoint
        emitted, events = self.stats.emitted, 0
        error: bytes | None = None  # an `event: error`'s data
        broken: Exception | None = None  # why a message was not a valid event
        for name, data, sse_id, _ in messages:
            if name in _NOT_EVENTS and (name != "message" or not data):
                if name == "offset-only":
                    offset = sse_id
                elif name == "error":
                    error = data
                    break
                continue
            try:
                event_offset, event_type, event_time, record = decode(data, sse_id)
            except (orjson.JSONDecodeError, MalformedEventError) as exc:
                broken = exc
                break
            events += 1
            if event_time >= floor and reached(event_time):
                self.stats.stop_reason = f"caught up: {self.limits.stop_label} ({event_time})"
                break
            if event_type in selected_types:
                out.append((event_type, record))
                since += 1
            elif event_type in KNOWN_TYPES or not self._unknown(event_type):
                self.stats.skipped += 1
            else:
                out.append((OTHER_EVENTS_KEY, record))
                since += 1
            offset = event_offset
            if event_time > newest_time:
                newest_time = event_time
            if since >= every_records:
                self._take(offset, newest_time, 0)
                yield self._emit(out)
                out, since = [], 0
                yield self._checkpoint(now)
        self._take(offset, newest_time, since)
        if events:
            self.idle = 0.0
        if out:
            yield self._emit(out)
        if self.unflushed and self.stats.emitted - emitted < LIVE_EDGE_RECORDS:
            self.unflushed = False
            yield QUIET  # the connection had no more to give: the target sees these records now
        elif not events and error is None and broken is None:
            self.healthy_since_progress = True  # a read of offset-only markers only: a heartbeat
        if broken is not None:
            self._on_broken_frame(broken)
        elif error is not None:
            self._on_error_event(error)

    def _take(self, offset: str | None, newest_time: str, since: int) -> None:
        """Write the hot loop's position back; a move is progress, which the feed hears of."""
        if offset != self.offset:
            self.faults_since_progress, self.healthy_since_progress = 0, False
            self.repeats.clear()
            self.feed.advance(offset)
        self.offset, self.newest_time, self.since_checkpoint = offset, newest_time or None, since

    def _unknown(self, event_type: str) -> bool:
        """Count an event of a type this version does not know; True when other_events takes it."""
        self.unknown_types[event_type] = self.unknown_types.get(event_type, 0) + 1
        return OTHER_EVENTS_KEY in self.selected_types

    def _emit(self, records: list[tuple[str, Any]]) -> Emit:
        self.stats.emitted += len(records)
        self.unflushed = True
        return Emit(records)

    def _on_broken_frame(self, exc: Exception) -> None:
        """Reconnect from the last good offset; give up (without skipping) if it keeps happening."""
        count = self.repeats.count(self.offset, "broken frame")
        where = f"after offset {self.offset}" if self.offset else "at the start position"
        if count >= MAX_REPEATS:
            raise StreamCorruptError(
                f"the message {where} was not a valid event {count} times in a row ({exc}); "
                "stopping without moving past it, so no event is skipped. Retry later or report it to Auth0"
            )
        self.logger.warning("a message %s was not a valid event (%s); reconnecting to fetch it again", where, exc)
        self.feed.reconnect(f"a message that was not a valid event ({exc})")

    def _on_error_event(self, data: bytes) -> None:
        try:
            error = load_json(data).get("error", {})
            code, message = str(error.get("code", "unknown")), str(error.get("message", ""))[:200]
        except (orjson.JSONDecodeError, AttributeError):
            code, message = "unparseable", ""
        if code in CURSOR_ERRORS:
            raise OffsetExpiredError(expired_message(f" ({code}: {message})"))
        if code == "connection_timeout":
            self.logger.info("server ended the connection (connection_timeout); resuming")
            self.feed.reconnect()
            return
        where = f"offset {self.offset}" if self.offset else "the start position"
        count = self.repeats.count(self.offset, code)
        if count >= MAX_REPEATS:
            raise StreamStuckError(
                f"the Events API sent `event: error` {code} at {where} {count} times in a row without progress "
                f"({message}); stopping without moving past it, so no event is skipped (STATE covers every event "
                "before it). Retry later, or report it to Auth0 with the offset"
            )
        self.logger.warning("error event from the Events API at %s (%s: %s); reconnecting", where, code, message)
        self.feed.reconnect(f"`event: error` {code} ({message})")

    def _checkpoint_due(self, now: float) -> bool:
        return self.since_checkpoint >= self.limits.checkpoint_every_records or (
            now - self.last_checkpoint_at >= self.limits.checkpoint_every_seconds and self.offset != self.start.offset
        )

    def _checkpoint(self, now: float) -> Checkpoint:
        self.since_checkpoint, self.last_checkpoint_at = 0, now
        return Checkpoint(self.covers, self.start, self.offset, self.newest_time)

    def _stopping(self, now: float) -> bool:
        """True (with the reason in `stats`) when the pass is over: idle, out of time, or told to stop."""
        if self.idle >= self.limits.idle_timeout_seconds:
            self.stats.stop_reason = f"caught up: no new event for {self.limits.idle_timeout_seconds:g}s"
        elif now >= self.deadline:
            self.stats.stop_reason = f"max_run_seconds ({self.limits.max_run_seconds:g}s) reached"
        elif self.limits.stop_requested.is_set():
            self.stats.stop_reason = "stopped by a termination signal"
        return bool(self.stats.stop_reason)

    def _log_progress(self, now: float) -> None:
        self.last_progress_at = now
        _log_progress(self.logger, self.stats, now - self.begun, self.newest_time)


class _Repeats:
    """How many times in a row the same trouble met the same position (progress clears it)."""

    def __init__(self) -> None:
        self._last: tuple[str | None, str] | None = None
        self._count = 0

    def count(self, position: str | None, trouble: str) -> int:
        self._count = self._count + 1 if self._last == (position, trouble) else 1
        self._last = (position, trouble)
        return self._count

    def clear(self) -> None:
        self._last, self._count = None, 0


class TimeBound:
    """Is an event time at or after the bound (the run's start)? Cheap for Auth0's UTC `...Z` times.

    `floor` is cheaper still, for the hot loop: a string below it (compared as strings) is never
    `reached`. It is the date of the day before the bound's (`YYYY-MM-DD`): a time that sorts below
    it names an earlier date, which no UTC offset (under 24 h) moves to the bound's day; a string
    that is not a calendar date in the extended format sorts above it, or does not parse.
    """

    def __init__(self, stop_at: datetime) -> None:
        self._bound = stop_at.astimezone(timezone.utc)
        self._second = self._bound.strftime("%Y-%m-%dT%H:%M:%S")
        self._micro = self._bound.microsecond
        day = self._bound.date()
        self.floor = (day - timedelta(days=1)).isoformat() if day > date.min else ""

    def reached(self, event_time: str) -> bool:
        if event_time.endswith("Z") and len(event_time) >= 20 and event_time[10] == "T":
            if event_time < self._second:  # a `YYYY-MM-DDTHH:MM:SS...Z` from an earlier second
                return False
            second = event_time[:19]
            if second != self._second:
                return second > self._second
            fraction = event_time[20:-1] if event_time[19] == "." else ""
            return int((fraction + "000000")[:6] or 0) >= self._micro
        try:
            parsed = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
        except ValueError:
            return False
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed >= self._bound


def _log_progress(logger: logging.Logger, stats: RunStats, elapsed: float, newest_time: str | None) -> None:
    rate = stats.emitted / elapsed if elapsed > 0 else 0.0
    lag = ""
    if newest_time:
        try:
            newest = datetime.fromisoformat(newest_time.replace("Z", "+00:00"))
            behind = (datetime.now(timezone.utc) - newest).total_seconds()
            lag = f", newest event {newest_time} ({behind:.0f}s behind now)"
        except ValueError:
            lag = f", newest event {newest_time}"
    logger.info("progress: %d events emitted in %.1fs (%.0f events/s)%s", stats.emitted, elapsed, rate, lag)
