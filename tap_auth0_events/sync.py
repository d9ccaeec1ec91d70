"""The one-connection sync of the selected streams: positions, passes, and STATE after its records.

The top of the engine, free of the Singer SDK: the adapter (`sdk_seam.OneConnectionTap`) hands it
the parsed `Settings`, the STATE, the streams and an `Output` (how records are decoded and where
records and STATE go), and decides what an error or a stop means for the exit code.
`Syncer.sync` is the one driver of "records, then their STATE", for every path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

import requests

from tap_auth0_events import __version__
from tap_auth0_events.auth import make_token_provider
from tap_auth0_events.baseline import Baseline, BaselineCheckpoint, check_scopes, due, new_progress
from tap_auth0_events.baseline_streams import BASELINE_BY_NAME, BASELINES_STREAM
from tap_auth0_events.connection import HttpFeeds, StartPosition
from tap_auth0_events.errors import OffsetExpiredError, TapAuth0EventsError
from tap_auth0_events.event_types import EVENT_TYPES, OTHER_EVENTS_KEY, OTHER_EVENTS_STREAM
from tap_auth0_events.management import ManagementApi
from tap_auth0_events.run import QUIET, Checkpoint, Emit, Feed, Pass, RunLimits, RunStats, Step
from tap_auth0_events.settings import START_DATE_FORMAT, Settings
from tap_auth0_events.vocabulary import Decode, Output, StreamRef

# How far before the newest kept event time a restart after an expired offset begins; events that
# arrive out of order within this window are re-read (and de-duplicated by event id downstream).
RESTART_MARGIN = timedelta(minutes=10)
# A back-fill of newly selected streams reads this far past the main position's newest event, so
# that events delivered out of order around it are not missed (duplicates share the event id).
BACKFILL_MARGIN = timedelta(minutes=10)

Records = list[tuple[str, Any]]


class Feeds(Protocol):
    """Opens the feed of each pass of one sync (`connection.HttpFeeds`; a fake one in the fast tests)."""

    def open(self, event_types: Sequence[str], deadline: float) -> Feed: ...

    def close(self) -> None: ...


USER_AGENT = f"tap-auth0-events/{__version__}"


def _http_feeds(settings: Settings, logger: logging.Logger) -> Feeds:
    return HttpFeeds(settings, logger, user_agent=USER_AGENT)


def _management_api(settings: Settings, logger: logging.Logger, deadline: float) -> ManagementApi:
    """The baseline's client: its own session and token (it owns its retries, as the feeds own theirs)."""
    session = requests.Session()
    tokens = make_token_provider(settings, session)
    return ManagementApi(settings, tokens, logger, user_agent=USER_AGENT, deadline=deadline, session=session)


class Syncer:
    """Reads the selected streams and keeps `state` (a Singer STATE value) in step with what was written."""

    def __init__(
        self,
        settings: Settings,
        state: dict[str, Any],
        logger: logging.Logger,
        *,
        feeds: Callable[[Settings, logging.Logger], Feeds] = _http_feeds,
        management: Callable[[Settings, logging.Logger, float], ManagementApi] = _management_api,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.state = state
        self.logger = logger
        self.stop_requested = threading.Event()
        self.syncing = False
        self._feeds, self._management, self._clock = feeds, management, clock

    @property
    def stopped(self) -> bool:
        """A termination signal ended the sync; STATE covers what was written."""
        return self.stop_requested.is_set()

    def sync(self, streams: Sequence[StreamRef], output: Output) -> Generator[Records, None, None]:
        """The records of `streams`, as (stream key, record) pairs, each list for the caller to write
        before it asks for the next; the STATE that covers them then goes out through `output`.

        A fatal problem raises its TapAuth0EventsError after the STATE for every record written."""
        self.syncing = True
        try:
            for step in self._steps(streams, output):
                if type(step) is Emit:
                    yield step.records
                elif step is QUIET:
                    output.flush()
                elif type(step) is BaselineCheckpoint:
                    output.flush()
                    self.state.setdefault("bookmarks", {})[BASELINES_STREAM] = step.progress
                    output.write_state(self.state)
                else:
                    assert isinstance(step, Checkpoint)
                    output.flush()
                    self._save(step)
                    output.write_state(self.state)
        finally:
            self.syncing = False
            output.flush()

    def request_stop(self) -> None:
        """SIGTERM while syncing: finish the message at hand, write its STATE, stop (never write here:
        a signal handler may run in the middle of a record line)."""
        self.logger.warning("termination signal received; stopping after the current message")
        self.stop_requested.set()

    def _steps(self, streams: Sequence[StreamRef], output: Output) -> Iterator[Step | BaselineCheckpoint]:
        """The baseline's share of the run when one is due, then: back-fill event streams that are
        behind, and read every event stream from the main position. A baseline that failed on the
        Management API's side fails the run after the events are read (their position never ages)."""
        events = [
            stream for stream in streams if stream.name not in BASELINE_BY_NAME and stream.name != BASELINES_STREAM
        ]
        feeds = self._feeds(self.settings, self.logger)
        passes = _Passes(self.settings, self.logger, feeds, output.decode, self._clock, self.stop_requested)
        try:
            failure = yield from self._baseline(streams, events, passes.deadline, output.json_value)
            if events and not self.stop_requested.is_set():
                yield from self._events(events, passes)
        finally:
            feeds.close()
            taken = any(stream.event_type == OTHER_EVENTS_KEY for stream in streams)
            _log_unknown_types(self.logger, passes.unknown_types, taken=taken)
        if failure is not None:
            raise failure

    def _events(self, streams: Sequence[StreamRef], passes: _Passes) -> Iterator[Step]:
        started_at = datetime.now(timezone.utc)
        main, behind = plan_positions(streams, self.state.get("bookmarks", {}), self.settings.start_date, started_at)
        for group, start in behind:
            caught_up_to = _parse_time(main.newest_event_time or main.from_timestamp)
            stop_at = min(started_at, caught_up_to + BACKFILL_MARGIN) if caught_up_to else started_at
            self.logger.info(
                "back-filling %s (not part of the stored position) up to %s",
                ", ".join(stream.name for stream in group),
                stop_at.isoformat(timespec="seconds"),
            )
            finished = yield from passes.read(group, start, stop_at, "back-fill reached the stored position")
            if not finished:
                return
        yield from passes.read(streams, main, started_at, "reached an event from after the run started")

    def _baseline(
        self,
        streams: Sequence[StreamRef],
        events: Sequence[StreamRef],
        run_deadline: float,
        json_value: Callable[[bytes], Any],
    ) -> Generator[Step | BaselineCheckpoint, None, TapAuth0EventsError | None]:
        """The baseline's steps, when one is due (the `baseline` setting, its stored progress, and
        whether STATE has an event position yet): the scopes checked before anything is emitted; on
        a first run the event position noted first, in STATE, before the baseline reads. Returns the
        error that stopped it, for the run to raise after its events (a missing scope raises now)."""
        names = {stream.name for stream in streams}
        chosen = [BASELINE_BY_NAME[name] for name in BASELINE_BY_NAME if name in names]
        bookmarks = self.state.get("bookmarks", {})
        stored = bookmarks.get(BASELINES_STREAM)
        first_run = _first_run(bookmarks, events)
        action = baseline_action(self.settings, self.state, streams)
        if not action:
            if chosen and self.settings.baseline == "never" and due("first_run", stored, first_run) == "continue":
                self.logger.info("baseline=never: the unfinished baseline %s is not continued", stored["baseline_id"])
            return None
        deadline = min(run_deadline, self._clock() + self.settings.baseline_seconds)
        api = self._management(self.settings, self.logger, deadline)
        try:
            if action == "start":
                check_scopes(api, chosen)
                started_at = api.last_date or datetime.now(timezone.utc).strftime(START_DATE_FORMAT)
                progress = new_progress(started_at, chosen)
                if first_run and events:
                    yield self._note_position(events, started_at)
                yield BaselineCheckpoint(progress)
                self.logger.info(
                    "baseline %s started at %s (Auth0's clock): %s",
                    progress["baseline_id"],
                    started_at,
                    ", ".join(stream.name for stream in chosen),
                )
            else:
                progress = stored
                check_scopes(api, [stream for stream in chosen if stream.name in progress.get("streams", ())])
                self.logger.info("baseline %s continues", progress["baseline_id"])
            baseline = Baseline(
                api,
                progress,
                self.logger,
                selected=names,
                json_value=json_value,
                stop_requested=self.stop_requested,
                deadline=deadline,
                clock=self._clock,
            )
            try:
                yield from baseline.steps()
            except TapAuth0EventsError as error:
                baseline.run.stopped = f"failed: {error}"
                return error
            finally:
                self.logger.info("%s", baseline.summary())
            return None
        finally:
            api.close()

    def _note_position(self, events: Sequence[StreamRef], baseline_started: str) -> Checkpoint:
        """A first run's event position, kept in STATE before the baseline reads: events are read from
        there, so a change made while the baseline runs arrives as an event after it."""
        now = datetime.now(timezone.utc).strftime(START_DATE_FORMAT)
        noted = self.settings.start_date or min(now, baseline_started)
        self.logger.info("events will be read from %s, after the baseline", noted)
        return Checkpoint([stream.name for stream in events], StartPosition(from_timestamp=noted), None, None)

    def _save(self, checkpoint: Checkpoint) -> None:
        """Record a checkpoint in the bookmark of every stream it covers (called after its records)."""
        bookmarks = self.state.setdefault("bookmarks", {})
        for name in checkpoint.covers:
            bookmark = bookmarks.setdefault(name, {})
            if checkpoint.offset:
                bookmark.pop("from_timestamp", None)
                bookmark["offset"] = checkpoint.offset
            else:
                bookmark.pop("offset", None)
                bookmark["from_timestamp"] = checkpoint.start.from_timestamp
            if checkpoint.newest_event_time:
                bookmark["newest_event_time"] = checkpoint.newest_event_time


class _Passes:
    """The passes of one sync (a connection each, opened by `feeds`), up to one deadline; counts the
    events of unknown types over all of them (logged once, at the end)."""

    def __init__(
        self,
        settings: Settings,
        logger: logging.Logger,
        feeds: Feeds,
        decode: Decode,
        clock: Callable[[], float],
        stop_requested: threading.Event,
    ) -> None:
        self.settings, self.logger, self.feeds, self.decode = settings, logger, feeds, decode
        self.clock, self.stop_requested = clock, stop_requested
        self.deadline = clock() + settings.max_run_seconds
        self.unknown_types: dict[str, int] = {}

    def read(
        self, streams: Sequence[StreamRef], start: StartPosition, stop_at: datetime, stop_label: str
    ) -> Generator[Step, None, bool]:
        """`streams` read on one connection from `start` (and, after an expired offset, from where the
        settings say to restart); returns False when the run is out of time or told to stop."""
        types = frozenset(stream.event_type for stream in streams)
        filters = event_type_filters(types)
        feed = self.feeds.open(filters, self.deadline)
        stats = RunStats()
        base_url = self.settings.base_url
        self.logger.info("reading %s from %s, %s", _types_in_words(filters), base_url, _start_in_words(start))
        names = [stream.name for stream in streams]
        limits = RunLimits(
            stop_at_time=stop_at,
            max_run_seconds=0.0,  # set for each start below
            idle_timeout_seconds=self.settings.idle_timeout_seconds,
            stop_label=stop_label,
            stop_requested=self.stop_requested,
        )

        def steps_from(position: StartPosition) -> Iterator[Step]:
            limits.max_run_seconds = max(0.0, self.deadline - self.clock())
            logger, unknown_types = self.logger, self.unknown_types
            return Pass(
                feed, position, self.decode, names, types, limits, logger, stats, unknown_types, self.clock
            ).steps()

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
        return not (stats.stop_reason.startswith("max_run_seconds") or self.stop_requested.is_set())


def baseline_action(settings: Settings, state: dict[str, Any], streams: Sequence[StreamRef]) -> str:
    """What a sync of `streams` does about the baseline: "start", "continue" or "" (none: its
    streams are then left out of the sync, SCHEMA included), by `baseline` and the STATE."""
    if not any(stream.name in BASELINE_BY_NAME for stream in streams):
        return ""
    bookmarks = state.get("bookmarks", {})
    events = [stream for stream in streams if not is_baseline(stream)]
    return due(settings.baseline, bookmarks.get(BASELINES_STREAM), _first_run(bookmarks, events))


def _first_run(bookmarks: dict[str, Any], events: Sequence[StreamRef]) -> bool:
    """No event stream has a position in STATE yet."""
    return not any(_bookmark_position(bookmarks.get(stream.name)) for stream in events)


def is_baseline(stream: StreamRef) -> bool:
    """A stream the Management API fills (a baseline stream, or `baselines`), not the Events API."""
    return stream.name in BASELINE_BY_NAME or stream.name == BASELINES_STREAM


def event_type_filters(types: frozenset[str]) -> list[str]:
    """The `event_type` filters of a connection for these stream keys: none when every known type is
    asked for (or only the catch-all), so that types this version does not know arrive too."""
    known = sorted(types - {OTHER_EVENTS_KEY})
    if not known or set(EVENT_TYPES) <= types:
        return []
    return known


def _types_in_words(filters: list[str]) -> str:
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
    stored = [position for position in positions.values() if position is not None]
    if not stored:
        return StartPosition(from_timestamp=start_date or started_at.strftime(START_DATE_FORMAT)), []

    def rank(position: StartPosition) -> tuple[str, int]:
        sharing = sum(1 for other in stored if other.same_place(position))
        return (position.newest_event_time or position.from_timestamp or "", sharing)

    main = max(stored, key=rank)
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


def _start_in_words(start: StartPosition) -> str:
    if start.offset:
        return "resuming from the stored offset"
    return f"starting at {start.from_timestamp}"
