"""The Singer SDK tap: settings, the 22-stream registry, discovery and stream maps; the sync is `sync.py`."""

from __future__ import annotations

import copy
import io
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any

from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities, TapCapabilities

from tap_auth0_events.errors import ConfigError
from tap_auth0_events.event_types import EVENT_TYPES
from tap_auth0_events.output import FastSink, SdkSink
from tap_auth0_events.records import DictCodec, RawCodec
from tap_auth0_events.run import Emit
from tap_auth0_events.settings import CONFIG_SCHEMA, config_errors, read_catalog, read_state
from tap_auth0_events.streams import EventStream
from tap_auth0_events.sync import Syncer


class TapAuth0Events(Tap):
    """Auth0 Events API (Server-Sent Events) -> Singer, one stream per event type."""

    name = "tap-auth0-events"
    # A copy: the SDK adds its own settings (stream maps, flattening) to this dict in place, and
    # the plain sync (cli.py) must see CONFIG_SCHEMA as declared.
    config_jsonschema = copy.deepcopy(CONFIG_SCHEMA)
    _syncer: Syncer | None = None

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
        errors = config_errors(dict(self.config), self.config_jsonschema)
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
            state = _checked_file(cls, "state", state, read_state)
            catalog = _checked_file(cls, "catalog", catalog, read_catalog)
        super().invoke(about=about, about_format=about_format, config=config, state=state, catalog=catalog)

    # -- syncing ---------------------------------------------------------------------------

    @property
    def syncer(self) -> Syncer:
        if self._syncer is None:
            self._syncer = Syncer(self.config, self.state, self.logger)
        return self._syncer

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
        for stream in streams:
            stream._write_schema_message()
        fast = self._fast_path_allowed(streams)
        self.logger.info(
            "syncing %d streams on one connection (%s path)", len(streams), "fast" if fast else "stream-maps"
        )
        if fast:
            self.syncer.run(streams, FastSink(), RawCodec())
        else:
            self.syncer.run(streams, SdkSink(self), DictCodec())

    def sync_streams_standalone(self, stream: EventStream) -> Iterator[dict[str, Any]]:
        """One stream on a connection of its own (the SDK calls `stream.sync()` directly)."""
        for step in self.syncer.read([stream]):
            if type(step) is Emit:
                for _, record in step.records:
                    yield record
            else:
                # The SDK wrote every record yielded so far before asking for this step.
                self.syncer.commit(step)

    def _handle_termination(self, signum: int, frame: Any) -> None:
        """SIGTERM: finish the message at hand, write its STATE, exit. The SDK's default would write
        STATE from the handler, possibly in the middle of a record line."""
        if self._syncer is None or not self._syncer.syncing:  # not syncing yet: nothing to lose
            super()._handle_termination(signum, frame)
        self.syncer.request_stop()

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
    cls: type[TapAuth0Events], what: str, handle: IO[str] | None, read: Callable[[str], tuple[Any, str | None]]
) -> IO[str] | None:
    if handle is None:
        return None
    text = handle.read()
    if not text.strip():
        cls.logger.warning("%s file is empty; treating it as none", what)
        return None
    _, problem = read(text)
    if problem:
        cls.logger.error("%s file: %s", what, problem)
        raise SystemExit(ConfigError.exit_code)
    return io.StringIO(text)


def main() -> None:  # pragma: no cover - console entry point
    TapAuth0Events.cli()
    sys.exit(0)
