"""The fast output: records decoded by `RawCodec`, RECORD and STATE lines straight to stdout as bytes.

It keeps the rule every `Output` keeps: STATE is written only after the records before it.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, BinaryIO

import msgspec
import orjson

from tap_auth0_events.records import RawCodec
from tap_auth0_events.vocabulary import StreamRef

FLUSH_BYTES = 256 * 1024  # ~200 records
# A pipe to the target holds this much (Linux; 64 KiB by default): the tap blocks, and switches
# to the reader and back, a quarter as often. 1 MiB is the default limit for unprivileged users.
PIPE_BYTES = 1024 * 1024


class _RecordLine(msgspec.Struct, tag_field="type", tag="RECORD", gc=False):
    """A Singer RECORD message: `{"type":"RECORD","stream":...,"record":...,"time_extracted":...}`."""

    stream: str
    record: Any
    time_extracted: str


# One call encodes the lines of a whole read: about half what one `encode` call per record costs.
_encode_lines = msgspec.json.Encoder().encode_lines


class FastOutput:
    """RawCodec's records as RECORD lines, written as bytes into one buffer: used when no stream map
    or field selection could change a record, so the SDK's per-record pipeline would be a no-op.

    A record is `RawCodec`'s: a msgspec struct or `msgspec.Raw` JSON (a dict works too). The lines
    of one `write_records` call (the records of one read from the connection) are encoded in one
    call and share one `time_extracted`. Lines wait in the buffer until it holds FLUSH_BYTES, or
    `flush` (the connection went quiet, or a STATE follows).
    """

    decode = staticmethod(RawCodec.decode)
    json_value = staticmethod(RawCodec.json_value)

    def __init__(self, streams: Mapping[str, StreamRef], out: BinaryIO | None = None) -> None:
        self._out = out if out is not None else sys.stdout.buffer
        _widen_pipe(self._out)
        # Encoded lines to write, joined once per write: appending to one growing bytearray
        # instead copies every byte ~8 more times as it grows (CPython grows it by 1/8 each time).
        self._parts: list[bytes] = []
        self._buffered = 0  # bytes in `_parts`
        self._names = {key: stream.name for key, stream in streams.items()}  # stream key -> stream name

    def write_records(self, records: Sequence[tuple[str, Any]]) -> None:
        names = self._names
        stamp = _now()
        lines = _encode_lines([_RecordLine(names[key], record, stamp) for key, record in records])
        self._parts.append(lines)
        self._buffered += len(lines)
        if self._buffered >= FLUSH_BYTES:
            self._write_buffer()

    def write_state(self, state: dict[str, Any]) -> None:
        self._parts.append(b'{"type":"STATE","value":' + orjson.dumps(state) + b"}\n")
        self.flush()

    def flush(self) -> None:
        self._write_buffer()
        self._out.flush()

    def _write_buffer(self) -> None:
        if self._parts:
            self._out.write(b"".join(self._parts))
            self._parts.clear()
            self._buffered = 0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _widen_pipe(out: BinaryIO) -> None:
    """Make `out`'s buffer PIPE_BYTES when it is a pipe (Linux); anything else is left as it is."""
    try:
        import fcntl

        get_size, set_size = fcntl.F_GETPIPE_SZ, fcntl.F_SETPIPE_SZ
    except (ImportError, AttributeError):
        return  # not Linux
    try:
        fd = out.fileno()
        if stat.S_ISFIFO(os.fstat(fd).st_mode) and fcntl.fcntl(fd, get_size) < PIPE_BYTES:
            fcntl.fcntl(fd, set_size, PIPE_BYTES)
    except (OSError, ValueError):
        pass  # not a file descriptor, or over the system's limit: the default buffer works
