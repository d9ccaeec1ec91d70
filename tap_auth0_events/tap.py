"""tap-auth0-events: settings, the stream registry, and the one-connection sync of all streams."""

from __future__ import annotations

import io
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import IO, Any

import requests
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities, TapCapabilities

from tap_auth0_events.auth import TokenProvider, make_token_provider
from tap_auth0_events.connection import EventFeed, StartPosition
from tap_auth0_events.errors import ConfigError, OffsetExpiredError, TapAuth0EventsError
from tap_auth0_events.event_types import EVENT_TYPES
from tap_auth0_events.output import FastSink, SdkSink, Sink
from tap_auth0_events.records import DictCodec, EventCodec, RawCodec
from tap_auth0_events.run import Checkpoint, Emit, RunLimits, RunStats, read_events
from tap_auth0_events.settings import CONFIG_SCHEMA, base_url, catalog_problem, config_errors, state_problem
from tap_auth0_events.streams import EventStream

# How far before the newest kept event time a restart after an expired offset begins; events that
# arrive out of order within this window are re-read (and de-duplicated by event id downstream).
RESTART_MARGIN = timedelta(minutes=10)
# A back-fill of newly selected streams reads this far past the main position's newest event, so
# that events delivered out of order around it are not missed (duplicates share the event id).
BACKFILL_MARGIN = timedelta(minutes=10)
TERMINATED_EXIT_CODE = 143  # 128 + SIGTERM, as a shell reports it


@dataclass(slots=True, frozen=True)
class Commit:
    """A checkpoint of one pass, with the streams it covers and where that pass started."""

    names: Sequence[str]
    start: StartPosition
    checkpoint: Checkpoint


def _package_version() -> str:
    try:
        return version("tap-auth0-events")
    except PackageNotFoundError:
        return "0.0.0"


class TapAuth0Events(Tap):
    """Auth0 Events API (Server-Sent Events) -> Singer, one stream per event type."""

    name = "tap-auth0-events"
    config_jsonschema = CONFIG_SCHEMA
    _sink: Sink | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._stop_requested = threading.Event()
        super().__init__(*args, **kwargs)

    @classproperty
    def capabilities(self) -> list[CapabilitiesEnum]:
        # No BATCH messages and no ACTIVATE_VERSION: this is an append-only event log.
        return [
            TapCapabilities.CATALOG,
            TapCapabilities.STATE,
            TapCapabilities.DISCOVER,
            PluginCapabilities.ABOUT,
            PluginCapabilities.STREAM_MAPS,
            PluginCapabilities.FLATTENING,
        ]

    def discover_streams(self) -> list[EventStream]:
        return [EventStream(self, event_type) for event_type in EVENT_TYPES]

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # The SDK's own messages quote the offending value, which may be a secret.
        errors = config_errors(dict(self.config))
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors)
        return errors

    @classmethod
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        state: IO[str] | None = None,
        catalog: IO[str] | None = None,
    ) -> None:
        """Check the STATE and catalog files first, so a corrupt one is one clear line, not a traceback."""
        if not about:
            state = _checked_file(cls, "state", state, state_problem)
            catalog = _checked_file(cls, "catalog", catalog, catalog_problem)
        super().invoke(about=about, about_format=about_format, config=config, state=state, catalog=catalog)

    # -- syncing ---------------------------------------------------------------------------

    def sync_all(self) -> None:
        """Read all selected streams from one connection, routing each event to its stream."""
        unknown = self._unknown_catalog_streams()
        if unknown:
            self.logger.error(
                "catalog: %s not a stream of this tap (run --discover for the 22 streams)", ", ".join(unknown)
            )
            raise SystemExit(ConfigError.exit_code)
        streams = [stream for stream in self.streams.values() if isinstance(stream, EventStream) and stream.selected]
        if not streams:
            self.logger.warning("no stream is selected; nothing to do")
            return
        by_type = {stream.event_type: stream for stream in streams}
        for stream in streams:
            stream._write_schema_message()
        fast = self._fast_path_allowed(streams)
        sink: Sink = FastSink() if fast else SdkSink(self)
        self.logger.info(
            "syncing %d streams on one connection (%s path)", len(streams), "fast" if fast else "stream-maps"
        )
        self._sink = sink
        try:
            for step in self._read(streams, RawCodec() if fast else DictCodec()):
                if type(step) is Emit:
                    sink.write_records(by_type, step.records)
                else:
                    sink.flush()
                    self._commit(step)
                    sink.write_state(self.state)
        except TapAuth0EventsError as exc:
            sink.flush()
            self.logger.error("%s", exc)
            raise SystemExit(exc.exit_code) from None
        finally:
            self._sink = None
        if self._stop_requested.is_set():
            raise SystemExit(TERMINATED_EXIT_CODE)

    def sync_streams_standalone(self, stream: EventStream) -> Iterator[dict[str, Any]]:
        """One stream on a connection of its own (the SDK calls `stream.sync()` directly)."""
        for step in self._read([stream]):
            if type(step) is Emit:
                for _, record in step.records:
                    yield record
            else:
                # The SDK wrote every record yielded so far before asking for this step.
                self._commit(step)

    def _handle_termination(self, signum: int, frame: Any) -> None:
        """SIGTERM: finish the message at hand, write its STATE, exit. Never write from the handler:
        it may run in the middle of a record, and the SDK's default would then cut a line in half."""
        if self._sink is None:  # not syncing yet: nothing to lose
            super()._handle_termination(signum, frame)
        self.logger.warning("termination signal received; stopping after the current message")
        self._stop_requested.set()

    def _read(self, streams: Sequence[EventStream], codec: EventCodec | None = None) -> Iterator[Emit | Commit]:
        """Back-fill streams that are behind, then read every stream from the main position."""
        started_at = datetime.now(timezone.utc)
        deadline = time.monotonic() + float(self.config.get("max_run_seconds", 3600))
        main, behind = self._plan_positions(streams, started_at)
        session = requests.Session()
        session.headers["User-Agent"] = f"tap-auth0-events/{_package_version()}"
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
        streams: Sequence[EventStream],
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
                stop_requested=self._stop_requested,
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
        return not (stats.stop_reason.startswith("max_run_seconds") or self._stop_requested.is_set())

    # -- position and STATE ----------------------------------------------------------------

    def _plan_positions(
        self, streams: Sequence[EventStream], started_at: datetime
    ) -> tuple[StartPosition, list[tuple[list[EventStream], StartPosition]]]:
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
        groups: list[tuple[list[EventStream], StartPosition]] = []
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

    def _commit(self, commit: Commit) -> None:
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

    def _unknown_catalog_streams(self) -> list[str]:
        catalog = self.input_catalog
        if not catalog:
            return []
        return sorted(stream_id for stream_id in catalog if stream_id not in self.streams)

    def _fast_path_allowed(self, streams: Sequence[EventStream]) -> bool:
        """True when nothing could change a record on its way out (no maps, flattening, or deselected fields)."""
        if self.config.get("stream_maps") or self.config.get("flattening_enabled"):
            return False
        return all(all(stream.mask.values()) for stream in streams)


def _checked_file(
    cls: type[TapAuth0Events], what: str, handle: IO[str] | None, check: Callable[[str], str | None]
) -> IO[str] | None:
    if handle is None:
        return None
    text = handle.read()
    if not text.strip():
        cls.logger.warning("%s file is empty; treating it as none", what)
        return None
    problem = check(text)
    if problem:
        cls.logger.error("%s file: %s", what, problem)
        raise SystemExit(ConfigError.exit_code)
    return io.StringIO(text)


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


def main() -> None:  # pragma: no cover - console entry point
    TapAuth0Events.cli()
    sys.exit(0)
