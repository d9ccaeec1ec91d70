"""Where the tap leans on the Singer SDK beyond its public API, all in one place.

The SDK syncs streams one after the other (`Tap.sync_all` -> `Stream.sync()`); Auth0's feed is one
ordered connection that carries every type. The SDK has no public seam for one connection feeding
many streams, nor for validation messages that never quote a value, so `OneConnectionTap` relies on
these internals of singer-sdk (verified on the range of the `singer-sdk` dependency in
pyproject.toml, the one place it is written; tests/test_sdk_seam.py fails when the installed SDK
leaves that range or an internal changes shape, so an upgrade is a conscious step):

1. `Tap.sync_all`, marked `@final`, is overridden: every selected stream is read from one
   connection and each event routed to its stream (`Syncer`).
2. `Stream._write_schema_message()` writes each selected stream's SCHEMA (stream maps applied)
   before the sync, as `Stream.sync()` would.
3. `Stream._write_record_message(record)` sends a record through stream maps, flattening and
   field selection (`SdkOutput`, used when any of those is configured).
4. `PluginBase._validate_config()` is overridden: the settings are parsed into `Settings`, and a
   problem is reported by setting name; the SDK's own messages quote the offending value, which may
   be a secret. The SDK's check still runs for its own settings (stream maps, flattening).
5. `Tap._handle_termination()` is overridden: SIGTERM during a sync stops after the current
   message and writes its STATE from the main loop; the SDK's handler writes STATE from inside the
   handler, which may land in the middle of a record line.
6. `Stream.ABORT_AT_RECORD_COUNT` (set by the SDK's dry run) is read so that a stream synced
   alone stops at that many records itself: the SDK's own abort fails an unsorted stream with an
   ERROR.
7. `Tap.run_sync_dry_run(dry_run_record_limit, streams)`, marked `@final` and called by `--test`
   (`cb_test` -> `run_connection_test`), is overridden: the streams are read on one connection
   as a sync reads them, not one connection each (`stream.sync()` per stream).

Each override carries `@override`, so a method the SDK renames fails the type check.
Everything else used is public: `Tap.streams`, `Tap.state`, `Tap.input_catalog`, `Tap.state_writer`,
`Stream.selected`, `Stream.mask`, `Tap.cli`, `Tap.invoke`, `Tap.cb_config`, `Tap.cb_test`,
`ConfigValidationError`.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

import click
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError

from tap_auth0_events.errors import InputError, TapAuth0EventsError
from tap_auth0_events.exits import SETTINGS_EXIT_CODE, TERMINATED_EXIT_CODE, exit_with, marked
from tap_auth0_events.output import FastOutput
from tap_auth0_events.records import DictCodec
from tap_auth0_events.settings import Settings, SettingsError, config_file_problem, parse_settings
from tap_auth0_events.sync import Syncer, baseline_action, is_baseline
from tap_auth0_events.vocabulary import StreamRef

# `@override` on every SDK method the tap replaces (tap.py and streams.py take it from here).
if sys.version_info >= (3, 12):
    from typing import override as override
else:
    from typing_extensions import override as override

if TYPE_CHECKING:
    from singer_sdk import Stream
    from singer_sdk.helpers.types import TapState

# Under --test a stream without events ends after this long without one, not after idle_timeout_seconds.
DRY_RUN_IDLE_SECONDS = 3


class EventStreamLike(StreamRef, Protocol):
    """A Singer SDK stream that is also a `StreamRef`."""

    ABORT_AT_RECORD_COUNT: int | None

    @property
    def selected(self) -> bool: ...

    @property
    def mask(self) -> Mapping[Any, bool]: ...

    def _write_schema_message(self) -> None: ...

    def _write_record_message(self, record: dict[str, Any]) -> None: ...


class OneConnectionTap(Tap):
    """A tap whose selected streams are all read from one connection by the engine's `Syncer`."""

    settings: Settings
    _syncer: Syncer | None = None  # the sync of all streams (`sync_all`)
    _standalone: Syncer | None = None  # streams synced alone (`sync_standalone`)

    def engine_streams(self) -> list[EventStreamLike]:
        """The tap's streams that the engine reads (subclasses say which)."""
        raise NotImplementedError

    @override  # type: ignore[misc]  # internal 1: final in the SDK
    def sync_all(self) -> None:
        """Read all selected streams from one connection, routing each event to its stream.

        What the SDK's `Tap.sync_all` does and this leaves out, and why:

        - `_reset_state_progress_markers()` and each stream's `finalize_state_progress_markers()`:
          the engine writes no progress markers (a bookmark is final when written: an offset covers
          every event before it), so there is nothing to reset or finalise.
        - `_set_compatible_replication_methods()`: it concerns child streams of a parent, and this
          tap has none.
        - writing the input STATE once before the sync: the engine writes STATE after records only.
        - the "Skipping deselected stream" log line and parent/child dispatch: deselected streams
          are simply not read; there are no child streams.
        - `stream.sync()` for each stream: one connection feeds them all (`Syncer.sync`).
        - each stream's `log_sync_costs()`: the streams make no HTTP requests of their own, so there
          is no cost to log; the engine logs each pass (events, connections, faults).
        """
        unknown = sorted(set(self.input_catalog or ()) - set(self.streams))
        if unknown:
            exit_with(
                InputError(f"catalog: {', '.join(unknown)} not a stream of this tap (run --discover)"), self.logger
            )
        streams = [stream for stream in self.engine_streams() if stream.selected]
        if not baseline_action(self.settings, _state_of(self), streams):
            streams = [stream for stream in streams if not is_baseline(stream)]  # no baseline this run
        if not streams:
            self.logger.warning("no stream is selected; nothing to do")
            return
        output = self._start_output(streams)
        self._syncer = Syncer(self.settings, _state_of(self), self.logger)
        try:
            for records in self._syncer.sync(streams, output):
                output.write_records(records)
        except TapAuth0EventsError as error:
            exit_with(error, self.logger)
        if self._syncer.stopped:
            raise SystemExit(TERMINATED_EXIT_CODE)

    @override  # type: ignore[misc]  # internal 7: final in the SDK
    def run_sync_dry_run(self, dry_run_record_limit: int | None = 1, streams: Iterable[Stream] | None = None) -> bool:
        """`--test`: the streams (all when None) read on one connection as a sync reads them (the same
        `event_type` filters: none when every stream is asked for), up to `dry_run_record_limit`
        records each; it ends once every stream has them, or the feed is quiet: the engine's idle
        bound, at most `DRY_RUN_IDLE_SECONDS` without an event (its `QUIET` step is not the end: it
        also follows a short read in the middle of the backlog).

        The SDK's `Tap.run_sync_dry_run` selects the streams, sets their `ABORT_AT_RECORD_COUNT`
        and calls `stream.sync()` on each: a connection per stream, each with its own filter, which
        a tenant lacking a type answers with HTTP 400, and a 3 s wait per quiet stream. Its STATE
        is kept as the SDK writes it, after the records, but unmoved: the tap's input STATE (a
        sample skips events, so a position after it would pass events not emitted; the SDK's
        standard tests read this last STATE)."""
        chosen = list(self.streams.values() if streams is None else streams)
        for stream in chosen:
            stream.ABORT_AT_RECORD_COUNT = dry_run_record_limit  # as the SDK does
            stream.selected = True
        ids = {id(stream) for stream in chosen}
        # A baseline is not sampled: it would start an export job and read the tenant for a sample.
        selected = [stream for stream in self.engine_streams() if id(stream) in ids and not is_baseline(stream)]
        self.logger.info("--test: reading up to %s records of each stream", dry_run_record_limit or "all")
        output = _Sample(self._start_output(selected), dry_run_record_limit, len(selected))
        settings = dataclasses.replace(
            self.settings, idle_timeout_seconds=min(self.settings.idle_timeout_seconds, DRY_RUN_IDLE_SECONDS)
        )
        self._syncer = Syncer(settings, copy.deepcopy(_state_of(self)), self.logger)
        sync = self._syncer.sync(selected, output)
        try:
            for records in sync:
                output.write_records(records)
                if output.full:
                    break
        except TapAuth0EventsError as error:
            exit_with(error, self.logger)
        finally:
            sync.close()
        self.state_writer.write_state(self.state)  # the input STATE: a sample moves no position
        if self._syncer.stopped:
            raise SystemExit(TERMINATED_EXIT_CODE)
        return True

    def _start_output(self, streams: Sequence[EventStreamLike]) -> FastOutput | SdkOutput:
        """Each stream's SCHEMA (stream maps applied), then the output its records go through."""
        for stream in streams:
            stream._write_schema_message()  # internal 2
        fast = self._nothing_changes_records(streams)
        path = "fast" if fast else "stream-maps"
        self.logger.info("syncing %d streams on one connection (%s path)", len(streams), path)
        by_key = {stream.event_type: stream for stream in streams}
        return FastOutput(by_key) if fast else SdkOutput(self, by_key)

    def sync_standalone(self, stream: EventStreamLike) -> Iterator[dict[str, Any]]:
        """One stream on a connection of its own, for the SDK's `stream.sync()` (its standard tests):
        its records, at most `ABORT_AT_RECORD_COUNT`, for the SDK to write (STATE too, after them)."""
        limit = stream.ABORT_AT_RECORD_COUNT  # internal 6
        if self._standalone is None:
            settings = self.settings
            if limit is not None:
                settings = dataclasses.replace(
                    settings, idle_timeout_seconds=min(settings.idle_timeout_seconds, DRY_RUN_IDLE_SECONDS)
                )
            self._standalone = Syncer(settings, _state_of(self), self.logger)
        count = 0
        try:
            for records in self._standalone.sync([stream], _HandedToSdk()):
                for _, record in records:
                    yield record
                    count += 1
                    if limit is not None and count >= limit:
                        return
        except TapAuth0EventsError as error:
            exit_with(error, self.logger)

    @classmethod
    @override
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """`--config` files the SDK cannot read are one line and exit 1 (its own error is a traceback)."""
        try:
            return super().cb_config(ctx, param, value)
        except (OSError, ValueError, TypeError) as error:
            cls.logger.error("%s", marked(f"config file: {config_file_problem(error)}", SETTINGS_EXIT_CODE))
            ctx.exit(SETTINGS_EXIT_CODE)

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """`--test`, where a setting that fails the check is its lines and exit 1, as for a sync (the
        SDK's `--test` lets the validation error escape as a traceback)."""
        try:
            super().cb_test(ctx, param, value)
        except ConfigValidationError as error:
            for problem in error.errors:
                cls.logger.error("%s", problem)
            cls.logger.error("Config validation failed")
            ctx.exit(SETTINGS_EXIT_CODE)

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:  # internal 4
        try:
            self.settings = parse_settings(self.config)
        except SettingsError as error:
            if raise_errors:
                *problems, last = error.problems  # the last problem carries the exit marker
                problems.append(marked(last, SETTINGS_EXIT_CODE))
                raise ConfigValidationError("Config validation failed", errors=problems) from None
            return error.problems
        return super()._validate_config(raise_errors=raise_errors)

    @override
    def _handle_termination(self, signum: int, frame: Any) -> None:  # internal 5
        if self._syncer is None or not self._syncer.syncing:  # not syncing yet: nothing to lose
            super()._handle_termination(signum, frame)
        else:
            self._syncer.request_stop()

    def _nothing_changes_records(self, streams: Sequence[EventStreamLike]) -> bool:
        """True when no stream map, flattening or deselected field could change a record on its way out."""
        if self.config.get("stream_maps") or self.config.get("flattening_enabled"):
            return False
        return all(all(stream.mask.values()) for stream in streams)


def _state_of(tap: Tap) -> dict[str, Any]:
    """The tap's STATE, which the engine keeps in step with what was written (the SDK types it as a TypedDict)."""
    return cast(dict[str, Any], tap.state)


class SdkOutput:
    """DictCodec's records through the SDK (stream maps, flattening and field selection apply); STATE
    through the tap's state writer, which flushes per message."""

    decode = staticmethod(DictCodec.decode)
    json_value = staticmethod(DictCodec.json_value)

    def __init__(self, tap: Tap, streams: Mapping[str, EventStreamLike]) -> None:
        self._tap, self._streams = tap, streams

    def write_records(self, records: Sequence[tuple[str, Any]]) -> None:
        streams = self._streams
        for key, record in records:
            streams[key]._write_record_message(record)  # internal 3

    def write_state(self, state: dict[str, Any]) -> None:
        self._tap.state_writer.write_state(cast("TapState", state))

    def flush(self) -> None:
        sys.stdout.flush()


class _Sample:
    """`--test`'s output: the first `limit` records of each stream (None: all) through `output`; the
    engine's STATE is not written (see `OneConnectionTap.run_sync_dry_run`)."""

    def __init__(self, output: FastOutput | SdkOutput, limit: int | None, streams: int) -> None:
        self._output, self._limit, self._streams = output, limit, streams
        self.decode, self.json_value = output.decode, output.json_value
        self._counts: dict[str, int] = {}

    @property
    def full(self) -> bool:
        """Every stream has its `limit` records."""
        limit, counts = self._limit, self._counts
        return limit is not None and len(counts) == self._streams and all(n >= limit for n in counts.values())

    def write_records(self, records: Sequence[tuple[str, Any]]) -> None:
        """Writes the records still wanted."""
        limit, counts = self._limit, self._counts
        if limit is None:
            self._output.write_records(records)
            return
        wanted = []
        for key, record in records:
            count = counts.get(key, 0)
            if count < limit:
                counts[key] = count + 1
                wanted.append((key, record))
        if wanted:
            self._output.write_records(wanted)

    def write_state(self, state: dict[str, Any]) -> None:
        """A sample moves no position: the engine's STATE is not written."""

    def flush(self) -> None:
        self._output.flush()


class _HandedToSdk:
    """A stream synced alone: DictCodec's records are yielded to the SDK's `Stream.sync()`, which
    writes them and then the tap's STATE itself; nothing is written here."""

    decode = staticmethod(DictCodec.decode)
    json_value = staticmethod(DictCodec.json_value)

    def write_records(self, records: Sequence[tuple[str, Any]]) -> None:
        raise TypeError("the records of a stream synced alone are yielded to the SDK, not written here")

    def write_state(self, state: dict[str, Any]) -> None:
        """The SDK writes the tap's STATE (which `Syncer` keeps) after the stream's records."""

    def flush(self) -> None:
        """Nothing is held here."""
