"""The words the engine and its Singer SDK adapter share.

A leaf module: it imports nothing of the package, so every layer may import it and none of them
is pulled in with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

# Every stream's key (a re-delivered event upserts onto itself) and replication key.
KEY_PROPERTIES: tuple[str, ...] = ("event_id",)
REPLICATION_KEY = "event_time"

# (offset, event type, event time, record): what a codec makes of one event message. The offset
# is the message's own `offset`, else its SSE `id`.
DecodedEvent = tuple["str | None", str, str, Any]


class StreamRef(Protocol):
    """What the engine needs of a stream: its Singer name and its Auth0 event type."""

    @property
    def name(self) -> str: ...

    @property
    def event_type(self) -> str: ...


class EventCodec(Protocol):
    """How a message's `data:` bytes become its record."""

    def decode(self, data: bytes, sse_id: str | None) -> DecodedEvent:
        """Raises orjson.JSONDecodeError (not JSON) or records.MalformedEventError (not an Auth0 event)."""
        ...


class Sink(Protocol):
    """Where records and STATE go. A STATE is written only after the records before it."""

    def write_records(self, streams: Mapping[str, StreamRef], records: Sequence[tuple[str, Any]]) -> None:
        """Write (key, record) pairs in order, each as a RECORD of the stream `streams[key]`."""
        ...

    def write_state(self, state: dict[str, Any]) -> None: ...

    def flush(self) -> None: ...


class TokenProvider(Protocol):
    """Gives the current bearer token; `invalidate` is called after a 401."""

    @property
    def can_refresh(self) -> bool: ...

    def token(self) -> str: ...

    def invalidate(self) -> None: ...
