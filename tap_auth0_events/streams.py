"""One Singer stream per Auth0 event type.

All selected streams are fed by one connection (`OneConnectionTap.sync_all`); a stream synced on
its own (the SDK's standard tests and `--test` do that) opens a connection filtered to its own type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_auth0_events.event_types import stream_name
from tap_auth0_events.schemas import load_schema
from tap_auth0_events.sdk_seam import OneConnectionTap, override
from tap_auth0_events.vocabulary import KEY_PROPERTIES, REPLICATION_KEY


class EventStream(Stream):
    """Events of one type; the key is the event id, so a re-delivered event upserts onto itself."""

    primary_keys = KEY_PROPERTIES
    replication_key = REPLICATION_KEY
    is_sorted = False  # Auth0 does not promise time order
    # Records are built from parsed JSON, so they already have JSON types; conformance would only
    # cost time and drop keys Auth0 adds before our schemas know them.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: OneConnectionTap, event_type: str) -> None:
        self.event_type = event_type
        self._owner = tap
        super().__init__(tap, schema=load_schema(event_type), name=stream_name(event_type))

    @override
    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        """Standalone sync: this stream's events only, on a connection of its own."""
        yield from self._owner.sync_standalone(self)
