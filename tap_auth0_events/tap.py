"""The Singer SDK tap: the command users run. Settings, the stream registry and discovery.

This is the adapter's face: `tap-auth0-events` is the SDK's CLI of `TapAuth0Events`. The sync
itself is the SDK-free engine (`sync.py` and below), started from `sdk_seam.OneConnectionTap`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO, Any

from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities, TapCapabilities

from tap_auth0_events.baseline_streams import BASELINE_STREAMS
from tap_auth0_events.errors import InputError
from tap_auth0_events.event_types import STREAM_KEYS
from tap_auth0_events.exits import exit_code, marked
from tap_auth0_events.sdk_seam import EventStreamLike, OneConnectionTap, override
from tap_auth0_events.settings import config_jsonschema, parse_catalog, parse_state
from tap_auth0_events.streams import BaselineRecordsStream, BaselinesStream, EventStream


class TapAuth0Events(OneConnectionTap):
    """Auth0 Events API (Server-Sent Events) -> Singer, one stream per event type."""

    name = "tap-auth0-events"
    config_jsonschema = config_jsonschema()
    # No BATCH messages and no ACTIVATE_VERSION: this is an append-only event log.
    capabilities: list[CapabilitiesEnum] = [  # type: ignore[misc]  # a classproperty in the SDK
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
    ]

    @override
    def discover_streams(self) -> list[EventStream | BaselineRecordsStream | BaselinesStream]:
        return [
            *(EventStream(self, key) for key in STREAM_KEYS),
            *(BaselineRecordsStream(self, baseline) for baseline in BASELINE_STREAMS),
            BaselinesStream(self),
        ]

    @override
    def engine_streams(self) -> list[EventStreamLike]:
        kinds = (EventStream, BaselineRecordsStream, BaselinesStream)
        return [stream for stream in self.streams.values() if isinstance(stream, kinds)]

    @classmethod
    @override
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
            state = _checked_file(cls, "state", state, parse_state)
            catalog = _checked_file(cls, "catalog", catalog, parse_catalog)
        super().invoke(about=about, about_format=about_format, config=config, state=state, catalog=catalog)


def _checked_file(
    cls: type[TapAuth0Events], what: str, handle: IO[str] | None, parse: Callable[[str], tuple[Any, str | None]]
) -> IO[str] | None:
    if handle is None:
        return None
    text = handle.read()
    if not text.strip():
        cls.logger.warning("%s file is empty; treating it as none", what)
        return None
    _, problem = parse(text)
    if problem:
        code = exit_code(InputError(problem))
        cls.logger.error("%s", marked(f"{what} file: {problem}", code))
        raise SystemExit(code)
    return io.StringIO(text)
