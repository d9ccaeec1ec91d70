"""One Singer stream per Auth0 event type, and the baseline's streams.

All selected streams are fed by one sync (`OneConnectionTap.sync_all`): the event streams by one
connection, the baseline streams by the Management API client. A stream synced on its own (the
SDK's standard tests do that) is read alone: an event stream on a connection filtered to its own
type, a baseline stream by a baseline of that stream only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_auth0_events.baseline_streams import BASELINES_KEY_PROPERTIES, BASELINES_STREAM, BaselineStream
from tap_auth0_events.event_types import stream_name
from tap_auth0_events.schemas import load_baseline_schema, load_schema
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


class BaselineRecordsStream(Stream):
    """One entity or relation as a baseline read it from the Management API (docs/baseline.md); the key
    is the record id, the same for an entity read twice in one baseline."""

    primary_keys = KEY_PROPERTIES
    replication_key = REPLICATION_KEY
    is_sorted = False
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: OneConnectionTap, baseline: BaselineStream) -> None:
        self.event_type = baseline.event_type
        self._owner = tap
        super().__init__(tap, schema=load_baseline_schema(baseline.name), name=baseline.name)

    @override
    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        """Standalone sync: a baseline of this stream only."""
        yield from self._owner.sync_standalone(self)


class BaselinesStream(Stream):
    """One record per baseline stream whose read completed (key baseline_id, stream)."""

    primary_keys = BASELINES_KEY_PROPERTIES
    replication_key = None
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    event_type = BASELINES_STREAM

    def __init__(self, tap: OneConnectionTap) -> None:
        self._owner = tap
        super().__init__(tap, schema=load_baseline_schema(BASELINES_STREAM), name=BASELINES_STREAM)

    @override
    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        """Standalone sync: nothing of its own (its records follow a baseline stream's read)."""
        yield from self._owner.sync_standalone(self)
