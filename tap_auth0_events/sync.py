"""The one-connection sync of the selected streams: positions, passes, checkpoints and STATE.

Free of the Singer SDK on purpose: the SDK tap (`tap.py`) and the plain-sync entry point
(`cli.py`, which starts without importing the SDK) run exactly this code.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

import requests

from tap_auth0_events import __version__
from tap_auth0_events.auth import TokenProvider, make_token_provider
from tap_auth0_events.connection import EventFeed, StartPosition
from tap_auth0_events.errors import OffsetExpiredError, TapAuth0EventsError
from tap_auth0_events.output import Sink
from tap_auth0_events.records import EventCodec
from tap_auth0_events.run import Checkpoint, Emit, RunLimits, RunStats, read_events
from tap_auth0_events.settings import base_url

# How far before the newest kept event time a restart after an expired offset begins; events that
# arrive out of order within this window are re-read (and de-duplicated by event id downstream).
RESTART_MARGIN = timedelta(minutes=10)
# A back-fill of newly selected streams reads this far past the main position's newest event, so
# that events delivered out of order around it are not missed (duplicates share the event id).
BACKFILL_MARGIN = timedelta(minutes=10)
TERMINATED_EXIT_CODE = 143  # 128 + SIGTERM, as a shell reports it


class StreamRef(Protocol):
    """What the sync needs of a stream: its Singer name and its Auth0 event type."""

    @property
    def name(self) -> str: ...

    @property
    def event_type(self) -> str: ...


@dataclass(slots=True, frozen=True)
class Commit:
    """A checkpoint of one pass, with the streams it covers and where that pass started."""

    names: Sequence[str]
    start: StartPosition
    checkpoint: Checkpoint


class Syncer:
    """Reads the selected streams and keeps `state` (a Singer STATE value) in step with what was written."""

    def __init__(self, config: Mapping[str, Any], state: dict[str, Any], logger: logging.Logger) -> None:
        self.config = config
        self.state = state
        self.logger = logger
        self.stop_requested = threading.Event()
        self.syncing = False

    def run(self, streams: Sequence[StreamRef], sink: Sink, codec: EventCodec) -> None:
        """Write the records of `streams` and the STATE that covers them; fatal errors exit with their code."""
        by_type = {stream.event_type: stream for stream in streams}
        self.syncing = True
        try:
            for step in self.read(streams, codec):
                if type(step) is Emit:
                    sink.write_records(by_type, step.records)
                else:
                    sink.flush()
                    self.commit(step)
                    sink.write_state(self.state)
        except TapAuth0EventsError as exc:
            sink.flush()
            self.logger.error("%s", exc)
            raise SystemExit(exc.exit_code) from None
        finally:
            self.syncing = False
        if self.stop_requested.is_set():
            raise SystemExit(TERMINATED_EXIT_CODE)

    def request_stop(self) -> None:
        """SIGTERM while syncing: finish the message at hand, write its STATE, exit (never write here:
        a signal handler may run in the middle of a record line)."""
        self.logger.warning("termination signal received; stopping after the current message")
        self.stop_requested.set()

    def read(self, streams: Sequence[StreamRef], codec: EventCodec | None = None) -> Iterator[Emit | Commit]:
        """Back-fill streams that are behind, then read every stream from the main position."""
        started_at = datetime.now(timezone.utc)
        deadline = time.monotonic() + float(self.config.get("max_run_seconds", 3600))
        main, behind = self._plan_positions(streams, started_at)
        session = requests.Session()
        session.headers["User-Agent"] = f"tap-auth0-events/{__version__}"
        tokens = make_token_provider(dict(self.config), session, base_url(self.config))
        try:
            for group, start in behind:
                caught_up_to = _parse_time(main.newest_event_time or main.from_timestamp)
                stop_at = min(started_at, caught_up_to + BACKFILL_MARGIN) if caught_up_to else started_at
                self.logger.info(
                    "back-filling %s (not part of the stored position) up to %s",
                    ", ".join(stream.name for stream in group),
                    stop_at.isoformat(timespec="seconds"),
                )
                finished = yield from self._pass(
                    group, start, session, tokens, deadline, stop_at, "back-fill reached the stored position", codec
                )
                if not finished:
                    return
            yield from self._pass(
                streams,
                main,
                session,
                tokens,
                deadline,
                started_at,
                "reached an event from after the run started",
                codec,
            )
        finally:
            session.close()

    def _pass(
        self,
        streams: Sequence[StreamRef],
        start: StartPosition,
        session: requests.Session,
        tokens: TokenProvider,
        deadline: float,
        stop_at: datetime,
        stop_label: str,
        codec: EventCodec | None = None,
    ) -> Generator[Emit | Commit, None, bool]:
        """One connection's read of `streams` from `start`; returns False when the run is out of time."""
        names = [stream.name for stream in streams]
        types = frozenset(stream.event_type for stream in streams)
        api = base_url(self.config)
        feed = EventFeed(
            base_url=api,
            tokens=tokens,
            event_types=sorted(types),
            session=session,
            logger=self.logger,
            read_timeout=float(self.config.get("read_timeout_seconds", 20)),
            max_backoff=float(self.config.get("max_backoff_seconds", 30)),
            codec=codec,
        )
        stats = RunStats()
        self.logger.info("reading %d event types from %s, %s", len(types), api, _describe_start(start))

        def read(position: StartPosition) -> Iterator[Emit | Commit]:
            limits = RunLimits(
                stop_at_time=stop_at,
                max_run_seconds=max(0.0, deadline - time.monotonic()),
                idle_timeout_seconds=float(self.config.get("idle_timeout_seconds", 60)),
                stop_label=stop_label,
                stop_requested=self.stop_requested,
            )
            for step in read_events(feed, position, types, limits, self.logger, stats):
                yield step if type(step) is Emit else Commit(names, position, step)

        try:
            yield from read(start)
        except OffsetExpiredError:
            restart = self._restart_after_expiry(start)
            if restart is None:
                raise
            yield from read(restart)
        self.logger.info(
            "pass finished (%s): %d events emitted, %d of unselected types skipped, %d connections, %d faults",
            stats.stop_reason or "stopped",
            stats.emitted,
            stats.skipped,
            feed.connections,
            feed.faults,
        )
        return not (stats.stop_reason.startswith("max_run_seconds") or self.stop_requested.is_set())

    # -- position and STATE ----------------------------------------------------------------

    def _plan_positions(
        self, streams: Sequence[StreamRef], started_at: datetime
    ) -> tuple[StartPosition, list[tuple[list[StreamRef], StartPosition]]]:
        """The main position (the most advanced one in STATE) and the groups of streams behind it.

        A stream is behind when it is selected but its bookmark is missing (newly selected) or
        points elsewhere (re-selected after a pause). Streams without a bookmark are back-filled
        from start_date; without start_date they simply join the main position.
        """
        bookmarks = self.state.get("bookmarks", {})
        positions = {stream.name: _bookmark_position(bookmarks.get(stream.name)) for stream in streams}
        held = [position for position in positions.values() if position is not None]
        if not held:
            if self.config.get("start_date"):
                return StartPosition(from_timestamp=self.config["start_date"]), []
            return StartPosition(from_timestamp=started_at.strftime("%Y-%m-%dT%H:%M:%SZ")), []

        def rank(position: StartPosition) -> tuple[str, int]:
            sharing = sum(1 for other in held if other.same_place(position))
            return (position.newest_event_time or position.from_timestamp or "", sharing)

        main = max(held, key=rank)
        groups: list[tuple[list[StreamRef], StartPosition]] = []
        for stream in streams:
            position = positions[stream.name]
            if position is None:
                if not self.config.get("start_date"):
                    continue
                position = StartPosition(from_timestamp=self.config["start_date"])
            if position.same_place(main):
                continue
            for group, group_start in groups:
                if group_start.same_place(position):
                    group.append(stream)
                    break
            else:
                groups.append(([stream], position))
        return main, groups

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

    def _restart_after_expiry(self, start: StartPosition) -> StartPosition | None:
        if self.config.get("on_expired_offset", "fail") != "restart_from_time":
            return None
        newest = _parse_time(start.newest_event_time)
        if newest is not None:
            restart_at = newest - RESTART_MARGIN
        elif self.config.get("start_date"):
            restart_at = _parse_time(self.config["start_date"])
        else:
            return None
        from_timestamp = restart_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.logger.warning(
            "THE STORED OFFSET HAS EXPIRED. on_expired_offset=restart_from_time: restarting from %s "
            "(%s before the newest event kept in STATE). Events Auth0 no longer retains are not recoverable; "
            "events re-read in the overlap have the same event_id and are de-duplicated by the loader.",
            from_timestamp,
            RESTART_MARGIN,
        )
        return StartPosition(from_timestamp=from_timestamp, newest_event_time=start.newest_event_time)


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


def _describe_start(start: StartPosition) -> str:
    if start.offset:
        return "resuming from the stored offset"
    return f"starting at {start.from_timestamp}"
