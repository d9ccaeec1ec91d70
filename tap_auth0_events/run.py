"""The bounded read of one run: from a start position to "caught up", as a stream of steps.

`read_events` turns feed messages into `Emit` (a record for a stream) and `Checkpoint` (a
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
from datetime import datetime, timezone
from typing import Any

from tap_auth0_events.connection import EventFeed, Kind, StartPosition
from tap_auth0_events.errors import TapAuth0EventsError


@dataclass(slots=True)
class Emit:
    """Records to write, in order, as (event type, record) pairs."""

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


@dataclass(slots=True)
class RunStats:
    emitted: int = 0
    skipped: int = 0
    stop_reason: str = ""
    skipped_types: dict[str, int] = field(default_factory=dict)


def read_events(
    feed: EventFeed,
    start: StartPosition,
    selected_types: frozenset[str],
    limits: RunLimits,
    logger: logging.Logger,
    stats: RunStats,
) -> Iterator[Emit | Checkpoint]:
    """Yield records and checkpoints until caught up, idle, or out of time."""
    clock = time.monotonic
    begun = last_message_at = last_checkpoint_at = last_progress_at = clock()
    deadline = begun + limits.max_run_seconds
    idle = 0.0
    previous_kind = Kind.CONNECTED
    since_checkpoint = 0
    offset = start.offset
    bound = _TimeBound(limits.stop_at_time)
    newest_time = start.newest_event_time

    reached = bound.reached
    before = bound.earlier_than
    every_records = limits.checkpoint_every_records
    messages = feed.messages(start)
    try:
        for message in messages:
            now = clock()
            # Time spent on a broken or silent connection is not "idle": idle means caught up.
            if message.kind is not Kind.FAULT and previous_kind is not Kind.FAULT:
                idle += now - last_message_at
            last_message_at, previous_kind = now, message.kind

            if message.kind is Kind.EVENT:
                assert message.events is not None
                out: list[tuple[str, Any]] = []
                stop = False
                for event_offset, event_type, event_time, record in message.events:
                    assert event_offset is not None
                    # `reached` without the call for a usual `...Z` time that sorts before the bound.
                    if not (
                        event_time < before and len(event_time) > 19 and event_time[-1] == "Z" and event_time[10] == "T"
                    ) and reached(event_time):
                        stats.stop_reason = f"caught up: {limits.stop_label} ({event_time})"
                        stop = True
                        break
                    idle = 0.0
                    if event_type in selected_types:
                        out.append((event_type, record))
                        since_checkpoint += 1
                    else:
                        stats.skipped += 1
                        stats.skipped_types[event_type] = stats.skipped_types.get(event_type, 0) + 1
                    offset = event_offset
                    if newest_time is None or event_time > newest_time:
                        newest_time = event_time
                    if since_checkpoint >= every_records:
                        yield Emit(out)
                        stats.emitted += len(out)
                        out = []
                        yield Checkpoint(offset, newest_time)
                        since_checkpoint, last_checkpoint_at = 0, now
                if out:
                    yield Emit(out)
                    stats.emitted += len(out)
                if stop:
                    break
            elif message.kind is Kind.OFFSET:
                offset = message.offset

            if since_checkpoint >= limits.checkpoint_every_records or (
                now - last_checkpoint_at >= limits.checkpoint_every_seconds and offset != start.offset
            ):
                yield Checkpoint(offset, newest_time)
                since_checkpoint, last_checkpoint_at = 0, now
            if now - last_progress_at >= limits.progress_every_seconds:
                _log_progress(logger, stats, now - begun, newest_time)
                last_progress_at = now
            if idle >= limits.idle_timeout_seconds:
                stats.stop_reason = f"caught up: no new event for {limits.idle_timeout_seconds:g}s"
                break
            if now >= deadline:
                stats.stop_reason = f"max_run_seconds ({limits.max_run_seconds:g}s) reached"
                break
            if limits.stop_requested.is_set():
                stats.stop_reason = "stopped by a termination signal"
                break
    except TapAuth0EventsError:
        # Cover what was emitted before the failure, so the next run does not repeat it.
        yield Checkpoint(offset, newest_time)
        raise
    finally:
        messages.close()
    yield Checkpoint(offset, newest_time)
    _log_progress(logger, stats, clock() - begun, newest_time)


class _TimeBound:
    """Is an event time at or after the run's start? Cheap for Auth0's UTC `...Z` times."""

    def __init__(self, stop_at: datetime) -> None:
        self._started_at = stop_at.astimezone(timezone.utc)
        self._prefix = self._started_at.strftime("%Y-%m-%dT%H:%M:%S")
        self._micro = self._started_at.microsecond
        # A `YYYY-MM-DDTHH:MM:SS...Z` time (length 20 or more) that sorts before this is before the bound.
        self.earlier_than = self._prefix

    def reached(self, event_time: str) -> bool:
        if event_time.endswith("Z") and len(event_time) >= 20 and event_time[10] == "T":
            second = event_time[:19]
            if second != self._prefix:
                return second > self._prefix
            fraction = event_time[20:-1] if event_time[19] == "." else ""
            return int((fraction + "000000")[:6] or 0) >= self._micro
        try:
            parsed = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
        except ValueError:
            return False
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed >= self._started_at


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
