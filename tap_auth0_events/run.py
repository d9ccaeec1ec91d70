"""The bounded read of one run: from a start position to "caught up", as a stream of steps.

`BoundedRead.steps` turns feed messages into `Emit` (a record for a stream) and `Checkpoint` (a
position every emitted record before it is covered by). The caller writes an `Emit` before it
asks for the next step, so a `Checkpoint` is only ever acted on after the records it covers:
that ordering is what makes STATE safe against `kill -9`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from tap_auth0_events.connection import EventFeed, Kind, StartPosition
from tap_auth0_events.errors import StreamUnreadableError, TapAuth0EventsError
from tap_auth0_events.event_types import EVENT_TYPES, OTHER_EVENTS_KEY
from tap_auth0_events.vocabulary import DecodedEvent


@dataclass(slots=True)
class Emit:
    """Records to write, in order, as (event type, record) pairs. An empty Emit says the connection
    has gone quiet after records: a sink that holds lines back writes them out now."""

    records: list[tuple[str, Any]]


@dataclass(slots=True, frozen=True)
class Checkpoint:
    """The position after everything emitted so far; `newest_event_time` is the latest event time seen."""

    offset: str | None
    newest_event_time: str | None


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


KNOWN_TYPES = frozenset(EVENT_TYPES)


@dataclass(slots=True)
class RunStats:
    emitted: int = 0
    skipped: int = 0  # events of types no selected stream takes
    stop_reason: str = ""
    # Events of types this version has no stream for, by type (to other_events when it is selected).
    unknown_types: dict[str, int] = field(default_factory=dict)


class BoundedRead:
    """One read from a start position to "caught up": `steps()` yields records and checkpoints until
    caught up, idle, or out of time. It holds where the read stands, and when it last saw and saved what."""

    def __init__(
        self,
        feed: EventFeed,
        start: StartPosition,
        selected_types: frozenset[str],
        limits: RunLimits,
        logger: logging.Logger,
        stats: RunStats,
    ) -> None:
        self.feed, self.start, self.selected_types = feed, start, selected_types
        self.limits, self.logger, self.stats = limits, logger, stats
        self.bound = TimeBound(limits.stop_at_time)
        self.offset = start.offset
        self.newest_time = start.newest_event_time
        self.since_checkpoint = 0
        self.idle = 0.0
        self.begun = self.last_message_at = self.last_checkpoint_at = self.last_progress_at = time.monotonic()
        self.deadline = self.begun + limits.max_run_seconds
        self.previous_kind = Kind.CONNECTED
        # Since the last progress (an event or an offset): faults, and whether a connection was healthy.
        self.faults_since_progress = 0
        self.healthy_since_progress = False
        self.held = False  # records emitted since the connection last went quiet

    def steps(self) -> Iterator[Emit | Checkpoint]:
        messages = self.feed.messages(self.start)
        try:
            for message in messages:
                now = time.monotonic()
                self._note_message(message.kind, now)
                if message.kind is Kind.EVENT:
                    assert message.events is not None
                    yield from self._events(message.events, now)
                    if self.stats.stop_reason:
                        break
                elif message.kind is Kind.OFFSET:
                    self.offset = message.offset
                elif message.kind is Kind.TICK and self.held:
                    # A read without events after records: the tap has caught up for now. (Not every
                    # offset-only marker: one may come between any two events of a read.)
                    self.held = False
                    yield Emit([])
                if self._checkpoint_due(now):
                    yield self._checkpoint(now)
                if now - self.last_progress_at >= self.limits.progress_every_seconds:
                    self._log_progress(now)
                if self._stopping(now):
                    break
        except TapAuth0EventsError:
            # Cover what was emitted before the failure, so the next run does not repeat it.
            yield Checkpoint(self.offset, self.newest_time)
            raise
        finally:
            messages.close()
        yield Checkpoint(self.offset, self.newest_time)
        self._log_progress(time.monotonic())
        if self.stats.stop_reason.startswith("max_run_seconds") and self._only_faults():
            raise StreamUnreadableError(
                "max_run_seconds reached without reading the stream: "
                f"{self.faults_since_progress} failed attempts since the last progress, "
                f"the last one {self.feed.last_fault}"
            )

    def _note_message(self, kind: Kind, now: float) -> None:
        # Time spent on a broken or silent connection is not "idle": idle means caught up.
        if kind is Kind.FAULT:
            self.faults_since_progress += 1
        else:
            if self.previous_kind is not Kind.FAULT:
                self.idle += now - self.last_message_at
            if kind is Kind.TICK:
                self.healthy_since_progress = True
            elif kind is not Kind.CONNECTED:  # an event or an offset: progress
                self.faults_since_progress, self.healthy_since_progress = 0, False
        self.last_message_at, self.previous_kind = now, kind

    def _only_faults(self) -> bool:
        """True when, since its last progress, the read met faults and no healthy connection."""
        return self.faults_since_progress > 0 and not self.healthy_since_progress

    def _events(self, events: list[DecodedEvent], now: float) -> Iterator[Emit | Checkpoint]:
        """The records of one read from the connection, up to the time bound (the hot loop: the
        position lives in locals, written back before each yield and at the end)."""
        out: list[tuple[str, Any]] = []
        reached, floor = self.bound.reached, self.bound.floor
        selected_types = self.selected_types
        every_records = self.limits.checkpoint_every_records
        offset, newest_time, since = self.offset, self.newest_time or "", self.since_checkpoint
        self.idle = 0.0
        for event_offset, event_type, event_time, record in events:
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
                self.offset, self.newest_time = offset, newest_time or None
                yield self._emit(out)
                out, since = [], 0
                yield self._checkpoint(now)
        self.offset, self.newest_time, self.since_checkpoint = offset, newest_time or None, since
        if out:
            yield self._emit(out)

    def _unknown(self, event_type: str) -> bool:
        """Count an event of a type this version does not know; True when other_events takes it."""
        self.stats.unknown_types[event_type] = self.stats.unknown_types.get(event_type, 0) + 1
        return OTHER_EVENTS_KEY in self.selected_types

    def _emit(self, records: list[tuple[str, Any]]) -> Emit:
        self.stats.emitted += len(records)
        self.held = True
        return Emit(records)

    def _checkpoint_due(self, now: float) -> bool:
        return self.since_checkpoint >= self.limits.checkpoint_every_records or (
            now - self.last_checkpoint_at >= self.limits.checkpoint_every_seconds and self.offset != self.start.offset
        )

    def _checkpoint(self, now: float) -> Checkpoint:
        self.since_checkpoint, self.last_checkpoint_at = 0, now
        return Checkpoint(self.offset, self.newest_time)

    def _stopping(self, now: float) -> bool:
        """True (with the reason in `stats`) when the read is over: idle, out of time, or told to stop."""
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
