"""The one-connection sync of the selected streams: positions, passes, checkpoints and STATE.

The top of the engine, free of the Singer SDK: the adapter (`tap.py`) hands it the parsed
`Settings`, the STATE, the streams and where to write (a `Sink` and the `EventCodec` that goes with
it), and decides what an error or a stop means for the exit code.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

import requests

from tap_auth0_events import __version__
from tap_auth0_events.auth import make_token_provider
from tap_auth0_events.connection import EventFeed, StartPosition
from tap_auth0_events.errors import OffsetExpiredError
from tap_auth0_events.event_types import EVENT_TYPES, OTHER_EVENTS_KEY, OTHER_EVENTS_STREAM
from tap_auth0_events.run import BoundedRead, Checkpoint, Emit, RunLimits, RunStats
from tap_auth0_events.settings import START_DATE_FORMAT, Settings
from tap_auth0_events.vocabulary import EventCodec, Sink, StreamRef, TokenProvider

# How far before the newest kept event time a restart after an expired offset begins; events that
# arrive out of order within this window are re-read (and de-duplicated by event id downstream).
RESTART_MARGIN = timedelta(minutes=10)
# A back-fill of newly selected streams reads this far past the main position's newest event, so
# that events delivered out of order around it are not missed (duplicates share the event id).
BACKFILL_MARGIN = timedelta(minutes=10)


class Outcome(Enum):
    """How a sync that raised nothing ended."""

    DONE = "done"  # read up to its bound (caught up, idle, or max_run_seconds)
    STOPPED = "stopped"  # a termination signal stopped it; STATE covers what was written


@dataclass(slots=True, frozen=True)
class Commit:
    """A checkpoint of one pass, with the streams it covers and where that pass started."""

    names: Sequence[str]
    start: StartPosition
    checkpoint: Checkpoint


class Syncer:
    """Reads the selected streams and keeps `state` (a Singer STATE value) in step with what was written."""

    def __init__(self, settings: Settings, state: dict[str, Any], logger: logging.Logger) -> None:
        self.settings = settings
        self.state = state
        self.logger = logger
        self.stop_requested = threading.Event()
        self.syncing = False

    def run(self, streams: Sequence[StreamRef], sink: Sink, codec: EventCodec) -> Outcome:
        """Write the records of `streams` and the STATE that covers them.

        A fatal problem raises its TapAuth0EventsError after the STATE for every record written."""
        by_type = {stream.event_type: stream for stream in streams}
        self.syncing = True
        try:
            for step in self.steps(streams, codec):
                if isinstance(step, Emit):
                    sink.write_records(by_type, step.records)
                else:
                    sink.flush()
                    self.commit(step)
                    sink.write_state(self.state)
        finally:
            self.syncing = False
            sink.flush()
        return Outcome.STOPPED if self.stop_requested.is_set() else Outcome.DONE

    def request_stop(self) -> None:
        """SIGTERM while syncing: finish the message at hand, write its STATE, stop (never write here:
        a signal handler may run in the middle of a record line)."""
        self.logger.warning("termination signal received; stopping after the current message")
        self.stop_requested.set()

    def steps(self, streams: Sequence[StreamRef], codec: EventCodec) -> Iterator[Emit | Commit]:
        """Back-fill streams that are behind, then read every stream from the main position.

        The caller writes each `Emit` before it asks for the next step, and `commit`s each `Commit`."""
        started_at = datetime.now(timezone.utc)
        deadline = time.monotonic() + self.settings.max_run_seconds
        main, behind = plan_positions(streams, self.state.get("bookmarks", {}), self.settings.start_date, started_at)
        session = requests.Session()
        session.headers["User-Agent"] = f"tap-auth0-events/{__version__}"
        tokens = make_token_provider(self.settings, session)
        reader = _PassReader(self, session, tokens, codec, deadline)
        try:
            for group, start in behind:
                caught_up_to = _parse_time(main.newest_event_time or main.from_timestamp)
                stop_at = min(started_at, caught_up_to + BACKFILL_MARGIN) if caught_up_to else started_at
                self.logger.info(
                    "back-filling %s (not part of the stored position) up to %s",
                    ", ".join(stream.name for stream in group),
                    stop_at.isoformat(timespec="seconds"),
                )
                finished = yield from reader.read(group, start, stop_at, "back-fill reached the stored position")
                if not finished:
                    return
            yield from reader.read(streams, main, started_at, "reached an event from after the run started")
        finally:
            session.close()
            taken = any(stream.event_type == OTHER_EVENTS_KEY for stream in streams)
            _log_unknown_types(self.logger, reader.unknown_types, taken=taken)

    def commit(self, commit: Commit) -> None:
        """Record the position in the bookmark of every stream of the pass (called after its records)."""
        bookmarks = self.state.setdefault("bookmarks", {})
        start, checkpoint = commit.start, commit.checkpoint
        for name in commit.names:
            bookmark = bookmarks.setdefault(name, {})
            if checkpoint.offset:
                bookmark.pop("from_timestamp", None)
                bookmark["offset"] = checkpoint.offset
            else:
                bookmark.pop("offset", None)
                bookmark["from_timestamp"] = start.from_timestamp
            if checkpoint.newest_event_time:
                bookmark["newest_event_time"] = checkpoint.newest_event_time


class _PassReader:
    """Reads passes (one connection each) for a `Syncer`, sharing its HTTP session and tokens."""

    def __init__(
        self, syncer: Syncer, session: requests.Session, tokens: TokenProvider, codec: EventCodec, deadline: float
    ) -> None:
        self.syncer, self.settings, self.logger = syncer, syncer.settings, syncer.logger
        self.session, self.tokens, self.codec, self.deadline = session, tokens, codec, deadline
        self.unknown_types: dict[str, int] = {}  # over all passes: logged once, at the end

    def read(
        self, streams: Sequence[StreamRef], start: StartPosition, stop_at: datetime, stop_label: str
    ) -> Generator[Emit | Commit, None, bool]:
        """One connection's read of `streams` from `start`; returns False when the run is out of time."""
        types = frozenset(stream.event_type for stream in streams)
        filters = event_type_filters(types)
        feed = EventFeed(
            base_url=self.settings.base_url,
            tokens=self.tokens,
            event_types=filters,
            session=self.session,
            logger=self.logger,
            read_timeout=self.settings.read_timeout_seconds,
            max_backoff=self.settings.max_backoff_seconds,
            codec=self.codec,
            deadline=self.deadline,
        )
        stats = RunStats()
        self.logger.info("reading %s from %s, %s", _describe_types(filters), self.settings.base_url, _describe(start))
        names = [stream.name for stream in streams]
        limits = RunLimits(
            stop_at_time=stop_at,
            max_run_seconds=0.0,  # set for each start below
            idle_timeout_seconds=self.settings.idle_timeout_seconds,
            stop_label=stop_label,
            stop_requested=self.syncer.stop_requested,
        )

        def steps_from(position: StartPosition) -> Iterator[Emit | Commit]:
            limits.max_run_seconds = max(0.0, self.deadline - time.monotonic())
            for step in BoundedRead(feed, position, types, limits, self.logger, stats).steps():
                yield step if isinstance(step, Emit) else Commit(names, position, step)

        try:
            yield from steps_from(start)
        except OffsetExpiredError:
            restart = restart_after_expiry(self.settings, start)
            if restart is None:
                raise
            _warn_restart(self.logger, restart)
            yield from steps_from(restart)
        self.logger.info(
            "pass finished (%s): %d events emitted, %d of unselected types skipped, %d connections, %d faults",
            stats.stop_reason or "stopped",
            stats.emitted,
            stats.skipped,
            feed.connections,
            feed.faults,
        )
        for event_type, count in stats.unknown_types.items():
            self.unknown_types[event_type] = self.unknown_types.get(event_type, 0) + count
        return not (stats.stop_reason.startswith("max_run_seconds") or self.syncer.stop_requested.is_set())


def event_type_filters(types: frozenset[str]) -> list[str]:
    """The `event_type` filters of a connection for these stream keys: none when every known type is
    asked for (or only the catch-all), so that types this version does not know arrive too."""
    known = sorted(types - {OTHER_EVENTS_KEY})
    if not known or set(EVENT_TYPES) <= types:
        return []
    return known


def _describe_types(filters: list[str]) -> str:
    return f"{len(filters)} event types" if filters else "every event type (no event_type filter)"


def _log_unknown_types(logger: logging.Logger, unknown: dict[str, int], *, taken: bool) -> None:
    if not unknown:
        return
    counts = ", ".join(f"{event_type} ({count})" for event_type, count in sorted(unknown.items()))
    where = f"kept in the {OTHER_EVENTS_STREAM} stream" if taken else f"skipped ({OTHER_EVENTS_STREAM} is not selected)"
    logger.warning(
        "%d events of types this version of tap-auth0-events does not know arrived: %s; %s. "
        "A newer version may have streams for them: upgrade tap-auth0-events",
        sum(unknown.values()),
        counts,
        where,
    )


# -- positions ---------------------------------------------------------------------------------


def plan_positions(
    streams: Sequence[StreamRef], bookmarks: dict[str, Any], start_date: str | None, started_at: datetime
) -> tuple[StartPosition, list[tuple[list[StreamRef], StartPosition]]]:
    """The main position (the most advanced one in the bookmarks) and the groups of streams behind it.

    A stream is behind when it is selected but its bookmark is missing (newly selected) or
    points elsewhere (re-selected after a pause). Streams without a bookmark are back-filled
    from start_date; without start_date they simply join the main position.
    """
    positions = {stream.name: _bookmark_position(bookmarks.get(stream.name)) for stream in streams}
    held = [position for position in positions.values() if position is not None]
    if not held:
        return StartPosition(from_timestamp=start_date or started_at.strftime(START_DATE_FORMAT)), []

    def rank(position: StartPosition) -> tuple[str, int]:
        sharing = sum(1 for other in held if other.same_place(position))
        return (position.newest_event_time or position.from_timestamp or "", sharing)

    main = max(held, key=rank)
    groups: list[tuple[list[StreamRef], StartPosition]] = []
    for stream in streams:
        position = positions[stream.name]
        if position is None:
            if not start_date:
                continue
            position = StartPosition(from_timestamp=start_date)
        if position.same_place(main):
            continue
        for group, group_start in groups:
            if group_start.same_place(position):
                group.append(stream)
                break
        else:
            groups.append(([stream], position))
    return main, groups


def restart_after_expiry(settings: Settings, start: StartPosition) -> StartPosition | None:
    """Where to restart after the offset of `start` expired, or None (fail) by the settings."""
    if settings.on_expired_offset != "restart_from_time":
        return None
    restart_at = _parse_time(start.newest_event_time)
    if restart_at is not None:
        restart_at -= RESTART_MARGIN
    elif settings.start_date:
        restart_at = _parse_time(settings.start_date)
    if restart_at is None:
        return None
    return StartPosition(
        from_timestamp=restart_at.strftime(START_DATE_FORMAT), newest_event_time=start.newest_event_time
    )


def _warn_restart(logger: logging.Logger, restart: StartPosition) -> None:
    logger.warning(
        "THE STORED OFFSET HAS EXPIRED. on_expired_offset=restart_from_time: restarting from %s "
        "(%s before the newest event kept in STATE). Events Auth0 no longer retains are not recoverable; "
        "events re-read in the overlap have the same event_id and are de-duplicated by the loader.",
        restart.from_timestamp,
        RESTART_MARGIN,
    )


def _bookmark_position(bookmark: Any) -> StartPosition | None:
    if not isinstance(bookmark, dict) or not (bookmark.get("offset") or bookmark.get("from_timestamp")):
        return None
    return StartPosition(
        offset=bookmark.get("offset") or None,
        from_timestamp=None if bookmark.get("offset") else bookmark.get("from_timestamp"),
        newest_event_time=bookmark.get("newest_event_time"),
    )


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _describe(start: StartPosition) -> str:
    if start.offset:
        return "resuming from the stored offset"
    return f"starting at {start.from_timestamp}"
