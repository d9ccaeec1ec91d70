"""Where records and STATE go: straight to stdout as bytes, or through the SDK's stream maps.

Both sinks keep one rule: STATE is written only after the records before it are written.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Any, BinaryIO, Protocol

import orjson
from singer_sdk import Stream

FLUSH_BYTES = 256 * 1024
# time_extracted is refreshed every this many records (it need not be exact to the microsecond).
CLOCK_EVERY = 1024


class Sink(Protocol):
    def write_record(self, stream: Stream, record: dict[str, Any]) -> None: ...

    def write_state(self, state: dict[str, Any]) -> None: ...

    def flush(self) -> None: ...


class FastSink:
    """RECORD lines serialized with orjson into one buffer: used when no stream map or field
    selection could change a record, so the SDK's per-record pipeline would be a no-op."""

    def __init__(self, out: BinaryIO | None = None) -> None:
        self._out = out if out is not None else sys.stdout.buffer
        self._buffer = bytearray()
        self._prefixes: dict[str, bytes] = {}
        self._stamp = b""
        self._until_clock = 0

    def write_record(self, stream: Stream, record: dict[str, Any]) -> None:
        prefix = self._prefixes.get(stream.name)
        if prefix is None:
            prefix = b'{"type":"RECORD","stream":' + orjson.dumps(stream.name) + b',"record":'
            self._prefixes[stream.name] = prefix
        if self._until_clock <= 0:
            self._stamp = b',"time_extracted":"' + datetime.now(timezone.utc).isoformat().encode() + b'"}\n'
            self._until_clock = CLOCK_EVERY
        self._until_clock -= 1
        buffer = self._buffer
        buffer += prefix
        buffer += orjson.dumps(record)
        buffer += self._stamp
        if len(buffer) >= FLUSH_BYTES:
            self.flush()

    def write_state(self, state: dict[str, Any]) -> None:
        self._buffer += b'{"type":"STATE","value":' + orjson.dumps(state) + b"}\n"
        self.flush()

    def flush(self) -> None:
        if self._buffer:
            self._out.write(self._buffer)
            self._buffer.clear()
        self._out.flush()


class SdkSink:
    """Records through the SDK (`Stream._write_record_message`): stream maps, flattening and field
    selection apply; STATE through the tap's state writer, which flushes per message."""

    def __init__(self, tap: Any) -> None:
        self._tap = tap

    def write_record(self, stream: Stream, record: dict[str, Any]) -> None:
        stream._write_record_message(record)

    def write_state(self, state: dict[str, Any]) -> None:
        self._tap.state_writer.write_state(state)

    def flush(self) -> None:
        sys.stdout.flush()
