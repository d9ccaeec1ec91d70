"""The words the engine and its Singer SDK adapter share.

A leaf module: it imports nothing of the package, so every layer may import it and none of them
is pulled in with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

# Every stream's key (a re-delivered event upserts onto itself) and replication key.
KEY_PROPERTIES: tuple[str, ...] = ("event_id",)
REPLICATION_KEY = "event_time"

# (offset, event type, event time, record): what a codec makes of one event message. The offset
# is the message's own `offset`, else its SSE `id`.
DecodedEvent = tuple["str | None", str, str, Any]
# A codec: a message's `data:` bytes and SSE id -> its DecodedEvent (`Output.decode`).
Decode = Callable[[bytes, "str | None"], DecodedEvent]


class StreamRef(Protocol):
    """What the engine needs of a stream: its Singer name and its Auth0 event type."""

    @property
    def name(self) -> str: ...

    @property
    def event_type(self) -> str: ...


class Output(Protocol):
    """How records are made and where they go: the codec that turns a message's `data:` bytes into its
    record, and the sink for those records and STATE. A STATE is written only after the records
    before it."""

    def decode(self, data: bytes, sse_id: str | None) -> DecodedEvent:
        """Raises orjson.JSONDecodeError (not JSON) or records.MalformedEventError (not an Auth0 event)."""
        ...

    def json_value(self, text: bytes) -> Any:
        """A JSON text (a line of the baseline's users export, already checked) as a record's value."""
        ...

    def write_records(self, records: Sequence[tuple[str, Any]]) -> None:
        """Write (stream key, record) pairs in order, each as a RECORD of the stream of that key."""
        ...

    def write_state(self, state: dict[str, Any]) -> None: ...

    def flush(self) -> None:
        """Write out what is held back (the connection went quiet, or a STATE follows)."""
        ...


class TokenProvider(Protocol):
    """Gives the current bearer token; `invalidate` is called after a 401."""

    @property
    def can_refresh(self) -> bool: ...

    def token(self) -> str: ...

    def invalidate(self) -> None: ...
