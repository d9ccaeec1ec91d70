"""tap-auth0-events: settings, the stream registry, and the one-connection sync of all streams."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import requests
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities, TapCapabilities

from tap_auth0_events.auth import make_token_provider
from tap_auth0_events.connection import EventFeed, StartPosition
from tap_auth0_events.errors import OffsetExpiredError, TapAuth0EventsError
from tap_auth0_events.event_types import EVENT_TYPES
from tap_auth0_events.output import FastSink, SdkSink, Sink
from tap_auth0_events.run import Checkpoint, Emit, RunLimits, RunStats, read_events
from tap_auth0_events.settings import CONFIG_SCHEMA, base_url, config_errors
from tap_auth0_events.streams import EventStream

# How far before the last kept event time a restart after an expired offset begins; events that
# arrive out of order within this window are re-read (and de-duplicated by event id downstream).
RESTART_MARGIN = timedelta(minutes=10)


def _package_version() -> str:
    try:
        return version("tap-auth0-events")
    except PackageNotFoundError:
        return "0.0.0"


class TapAuth0Events(Tap):
    """Auth0 Events API (Server-Sent Events) -> Singer, one stream per event type."""

    name = "tap-auth0-events"
    config_jsonschema = CONFIG_SCHEMA

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

    # -- syncing ---------------------------------------------------------------------------

    def sync_all(self) -> None:
        """Read all selected streams from one connection, routing each event to its stream."""
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
            for step in self._read(streams):
                if type(step) is Emit:
                    sink.write_record(by_type[step.event_type], step.record)
                else:
                    sink.flush()
                    self._commit([stream.name for stream in streams], step)
                    sink.write_state(self.state)
        except TapAuth0EventsError as exc:
            sink.flush()
            self.logger.error("%s", exc)
            raise SystemExit(exc.exit_code) from None
        finally:
            self._sink = None

    def sync_streams_standalone(self, stream: EventStream) -> Iterator[dict[str, Any]]:
        """One stream on a connection of its own (the SDK calls `stream.sync()` directly)."""
        for step in self._read([stream]):
            if type(step) is Emit:
                yield step.record
            else:
                # The SDK wrote every record yielded so far before asking for this step.
                self._commit([stream.name], step)

    def _handle_termination(self, signum: int, frame: Any) -> None:  # pragma: no cover - signal path
        # The SDK writes STATE on SIGTERM; buffered records must reach stdout before it.
        sink = getattr(self, "_sink", None)
        if sink is not None:
            sink.flush()
        super()._handle_termination(signum, frame)

    def _read(self, streams: Sequence[EventStream]) -> Iterator[Emit | Checkpoint]:
        started_at = datetime.now(timezone.utc)
        names = [stream.name for stream in streams]
        start = self._start_position(names, started_at)
        self._start = start
        session = requests.Session()
        session.headers["User-Agent"] = f"tap-auth0-events/{_package_version()}"
        api = base_url(self.config)
        feed = EventFeed(
            base_url=api,
            tokens=make_token_provider(dict(self.config), session, api),
            event_types=sorted(stream.event_type for stream in streams),
            session=session,
            logger=self.logger,
            read_timeout=float(self.config.get("read_timeout_seconds", 20)),
        )
        limits = RunLimits(
            started_at=started_at,
            max_run_seconds=float(self.config.get("max_run_seconds", 3600)),
            idle_timeout_seconds=float(self.config.get("idle_timeout_seconds", 60)),
        )
        stats = RunStats()
        types = frozenset(stream.event_type for stream in streams)
        self.logger.info("reading %d event types from %s, %s", len(types), api, _describe_start(start))
        try:
            try:
                yield from read_events(feed, start, types, limits, self.logger, stats)
            except OffsetExpiredError:
                restart = self._restart_after_expiry(names)
                if restart is None:
                    raise
                self._start = start = restart
                yield from read_events(feed, restart, types, limits, self.logger, stats)
        finally:
            session.close()
        self.logger.info(
            "run finished (%s): %d events emitted, %d of unselected types skipped, %d connections, %d faults",
            stats.stop_reason or "stopped",
            stats.emitted,
            stats.skipped,
            feed.connections,
            feed.faults,
        )

    # -- position and STATE ----------------------------------------------------------------

    def _start_position(self, names: Sequence[str], started_at: datetime) -> StartPosition:
        """Resume from the stored offset; else start_date; else the moment this run started."""
        bookmarks = self.state.get("bookmarks", {})
        stored = Counter(
            (bookmark.get("offset"), bookmark.get("from_timestamp"))
            for name in names
            if (bookmark := bookmarks.get(name)) and (bookmark.get("offset") or bookmark.get("from_timestamp"))
        )
        if stored:
            (offset, from_timestamp), _ = stored.most_common(1)[0]
            return StartPosition(offset=offset, from_timestamp=None if offset else from_timestamp)
        if self.config.get("start_date"):
            return StartPosition(from_timestamp=self.config["start_date"])
        return StartPosition(from_timestamp=started_at.strftime("%Y-%m-%dT%H:%M:%SZ"))

    def _commit(self, names: Sequence[str], checkpoint: Checkpoint) -> None:
        """Record the position in every synced stream's bookmark (called after its records)."""
        bookmarks = self.state.setdefault("bookmarks", {})
        for name in names:
            bookmark = bookmarks.setdefault(name, {})
            if checkpoint.offset:
                bookmark.pop("from_timestamp", None)
                bookmark["offset"] = checkpoint.offset
            else:
                bookmark.pop("offset", None)
                bookmark["from_timestamp"] = self._start.from_timestamp
            if checkpoint.last_event_time:
                bookmark["last_event_time"] = checkpoint.last_event_time

    def _restart_after_expiry(self, names: Sequence[str]) -> StartPosition | None:
        if self.config.get("on_expired_offset", "fail") != "restart_from_time":
            return None
        bookmarks = self.state.get("bookmarks", {})
        times = [bookmarks[name]["last_event_time"] for name in names if bookmarks.get(name, {}).get("last_event_time")]
        if times:
            last = datetime.fromisoformat(max(times).replace("Z", "+00:00"))
            restart_at = (last - RESTART_MARGIN).astimezone(timezone.utc)
        elif self.config.get("start_date"):
            restart_at = datetime.strptime(self.config["start_date"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        else:
            return None
        from_timestamp = restart_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.logger.warning(
            "THE STORED OFFSET HAS EXPIRED. on_expired_offset=restart_from_time: restarting from %s "
            "(%s before the last event kept in STATE). Events Auth0 no longer retains are not recoverable; "
            "events re-read in the overlap have the same event_id and are de-duplicated by the loader.",
            from_timestamp,
            RESTART_MARGIN,
        )
        return StartPosition(from_timestamp=from_timestamp)

    def _fast_path_allowed(self, streams: Sequence[EventStream]) -> bool:
        """True when nothing could change a record on its way out (no maps, flattening, or deselected fields)."""
        if self.config.get("stream_maps") or self.config.get("flattening_enabled"):
            return False
        return all(all(stream.mask.values()) for stream in streams)


def _describe_start(start: StartPosition) -> str:
    if start.offset:
        return "resuming from the stored offset"
    return f"starting at {start.from_timestamp}"


def main() -> None:  # pragma: no cover - console entry point
    TapAuth0Events.cli()
    sys.exit(0)
