"""The fast sink: RECORD and STATE lines straight to stdout as bytes.

It keeps the rule every `Sink` keeps: STATE is written only after the records before it.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, BinaryIO

import orjson

from tap_auth0_events.records import encode_struct
from tap_auth0_events.vocabulary import StreamRef

FLUSH_PARTS = 3 * 200  # ~200 records, ~250 KB
# A read from the connection that brought fewer records than this (an empty one: the connection
# went quiet) means the tap has caught up with what the server had: what is held is written out at
# once rather than at the next checkpoint.
LIVE_EDGE_RECORDS = 64
# A pipe to the target holds this much (Linux; 64 KiB by default): the tap blocks, and switches
# to the reader and back, a quarter as often. 1 MiB is the default limit for unprivileged users.
PIPE_BYTES = 1024 * 1024


class FastSink:
    """RECORD lines written as bytes into one buffer: used when no stream map or field selection
    could change a record, so the SDK's per-record pipeline would be a no-op.

    A record is a dict (serialized with orjson), JSON bytes, or `RawCodec`'s struct (encoded by
    msgspec).
    `time_extracted` is taken once per `write_records` call (the records of one read from the
    connection).
    """

    def __init__(self, out: BinaryIO | None = None) -> None:
        self._out = out if out is not None else sys.stdout.buffer
        _widen_pipe(self._out)
        # Pieces of the lines to write, joined once per write: appending to one growing bytearray
        # instead copies every byte ~8 more times as it grows (CPython grows it by 1/8 each time).
        self._parts: list[bytes] = []
        self._prefixes: dict[str, bytes] = {}  # stream name -> the RECORD line up to the record
        self._streams: Mapping[str, StreamRef] | None = None
        self._by_key: dict[str, bytes] = {}  # key of `_streams` -> prefix

    def write_records(self, streams: Mapping[str, StreamRef], records: Sequence[tuple[str, Any]]) -> None:
        if streams is not self._streams:
            self._streams, self._by_key = streams, {}
        by_key = self._by_key
        parts = self._parts
        append = parts.append
        dumps = orjson.dumps
        stamp = _stamp()
        for key, record in records:
            prefix = by_key.get(key)
            if prefix is None:
                prefix = by_key[key] = self._prefix(streams[key].name)
            append(prefix)
            kind = type(record)
            if kind is dict:
                append(dumps(record))
            elif kind is bytes:
                append(record)
            else:
                append(encode_struct(record))  # RawCodec's struct
            append(stamp)
        if len(parts) >= FLUSH_PARTS:
            self._out.write(b"".join(parts))
            parts.clear()
        elif len(records) < LIVE_EDGE_RECORDS:
            self.flush()  # the connection had no more to give: the target sees these records now

    def _prefix(self, name: str) -> bytes:
        prefix = self._prefixes.get(name)
        if prefix is None:
            prefix = self._prefixes[name] = b'{"type":"RECORD","stream":' + orjson.dumps(name) + b',"record":'
        return prefix

    def write_state(self, state: dict[str, Any]) -> None:
        self._parts.append(b'{"type":"STATE","value":' + orjson.dumps(state) + b"}\n")
        self.flush()

    def flush(self) -> None:
        if self._parts:
            self._out.write(b"".join(self._parts))
            self._parts.clear()
        self._out.flush()


def _stamp() -> bytes:
    """The end of a RECORD line: `time_extracted` now, the closing brace and the newline."""
    return b',"time_extracted":"' + datetime.now(timezone.utc).isoformat().encode() + b'"}\n'


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
