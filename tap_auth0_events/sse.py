"""Pure Server-Sent Events decoder: bytes in, events out, no I/O.

Implements the WHATWG HTML "event stream interpretation" rules
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).
"""

from __future__ import annotations

import re

__all__ = ["SSEDecoder", "SSEMessage"]

_BOM = b"\xef\xbb\xbf"
_CR = 13
_LF = 10
_COLON = 58
# One whole message in the usual layout of Auth0's (and the emulator's): `event`, `id`, and one
# `data` line, LF line ends. Matched up to the data's start; the data ends at the next LF, and the
# LF after it (the blank line) ends the message.
_USUAL_HEAD = re.compile(rb"event: ?([^\n]*)\nid: ?([^\n]*)\ndata: ?")
# Distinct event names decoded once and remembered (Auth0 has a few dozen); more are decoded each time.
_NAME_CACHE_SIZE = 256

SSEMessage = tuple[str, bytes, "str | None", "int | None"]
"""One dispatched message: (event, data, id, retry). ``event`` is "message" when no (or an empty)
event field was given; ``data`` joins the data lines with "\\n", as the undecoded UTF-8 bytes (JSON
parsers take bytes directly; decoding them with ``errors="replace"`` gives the spec's text); ``id`` is
the stream's last event id at dispatch (carried forward, None if never set); ``retry`` is the
reconnection time in ms set by this message, if any."""


class SSEDecoder:
    """Incremental SSE decoder: feed byte chunks, get back the events they complete.

    Line boundaries are CRLF, LF or CR only, found on bytes, so multi-byte characters split across
    chunks stay whole. Comments and unknown fields are ignored. One decoder reads one connection.
    """

    __slots__ = (
        "_at_start",
        "_bom_buf",
        "_data",
        "_event_type",
        "_id_buffer",
        "_in_message",
        "_last_event_id",
        "_msg_retry",
        "_names",
        "_pieces",
        "_skip_lf",
        "retry",
    )

    def __init__(self, last_event_id: str | None = None) -> None:
        self._last_event_id: str | None = last_event_id
        # Per spec the id field fills a buffer that becomes the stream's last event id only when
        # the message is dispatched (blank line): an id in a frame cut in half must not count.
        self._id_buffer: str | None = last_event_id
        self.retry: int | None = None
        self._names: dict[bytes, str] = {}
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._at_start = True
        self._bom_buf = b""
        self._pieces: list[bytes] = []
        self._skip_lf = False
        self._reset_message()

    def _reset_message(self) -> None:
        self._data: list[bytes] = []
        self._event_type: str | None = None
        self._msg_retry: int | None = None
        self._in_message = False
        self._id_buffer = self._last_event_id

    @property
    def last_event_id(self) -> str | None:
        """Id of the last dispatched message (what to send as ``Last-Event-ID``), None if never set."""
        return self._last_event_id

    @property
    def pending(self) -> bool:
        """True when part of an unfinished message is buffered (the stream stopped mid-frame)."""
        return bool(self._pieces or self._bom_buf or self._in_message)

    def feed(self, chunk: bytes) -> list[SSEMessage]:
        """Consume a chunk of the stream; return the messages completed by it, in order.

        This is the decoder's hot path: a tuple costs a fraction of a frozen dataclass, and a JSON
        parser reads the bytes without a ``str`` in between. Messages in the usual layout (`event`, `id`, one
        `data` line, LF line ends) are taken whole, a regular expression and a search each, from the
        chunk's first message boundary until something else; the rest (a message begun in an earlier
        chunk, the one the chunk's end cuts, anything unusual and what follows it in the chunk) goes
        line by line (`_feed_lines`). Both give the same events and leave the same state.
        """
        if not chunk:
            return []
        if self._at_start or self._skip_lf or b"\r" in chunk:
            return self._feed_lines(chunk)
        events: list[SSEMessage] = []
        pos = 0
        if self._pieces or self._in_message:
            # Finish the message begun in an earlier chunk line by line: up to its blank line.
            if not self._pieces and chunk[0] == _LF:
                end = 1  # the previous chunk ended a line; this LF is the blank line
            else:
                found = chunk.find(b"\n\n")
                if found < 0:
                    return self._feed_lines(chunk)  # the message goes on past this chunk
                end = found + 2
            events = self._feed_lines(chunk[:end])
            pos = end
        pos = self._usual_messages(chunk, pos, events)
        if pos < len(chunk):
            # The message cut by the chunk's end, or something else (a comment, `retry`, several data
            # lines, another order of fields): the rest of the chunk line by line.
            events += self._feed_lines(chunk[pos:])
        return events

    def _usual_messages(self, chunk: bytes, pos: int, events: list[SSEMessage]) -> int:
        """Append the messages of the usual layout from `pos` on (at a message boundary); return where
        they stop."""
        match = _USUAL_HEAD.match
        find = chunk.find
        names = self._names
        append = events.append
        last_event_id = self._last_event_id
        last = len(chunk) - 1
        while (head := match(chunk, pos)) is not None:
            start = head.end()
            end = find(b"\n", start)
            if end < 0 or end == last or chunk[end + 1] != _LF:
                break  # cut by the chunk's end, or more lines in this message
            name_bytes, id_bytes = head.groups()
            name = names.get(name_bytes)
            if name is None:
                name = self._name(name_bytes)
            if 0 not in id_bytes:  # an int needle: `b"\x00" in` costs ~10x as much (3.11)
                last_event_id = id_bytes.decode("utf-8", "replace")
            append((name, chunk[start:end], last_event_id, None))
            pos = end + 2
        self._last_event_id = self._id_buffer = last_event_id
        return pos

    def _name(self, value: bytes) -> str:
        """The name a message with this `event` field is dispatched under (remembered)."""
        name = value.decode("utf-8", "replace") or "message"
        if len(self._names) < _NAME_CACHE_SIZE:
            self._names[value] = name
        return name

    def _feed_lines(self, chunk: bytes) -> list[SSEMessage]:
        """The general decoder: split into lines, interpret each (`_process`)."""
        if not chunk:
            return []
        if self._at_start:
            chunk = self._strip_bom(chunk)
            if not chunk:
                return []

        start = 0
        if self._skip_lf:
            # The previous chunk ended with CR: an LF here is the second half of that CRLF.
            self._skip_lf = False
            if chunk[0] == _LF:
                start = 1
                if len(chunk) == 1:
                    return []

        if b"\r" in chunk:
            lines = chunk.splitlines()
            last = chunk[-1]
            if last == _CR:
                self._skip_lf = True
                tail = b""
            elif last == _LF:
                tail = b""
            else:
                tail = lines.pop()
        else:
            lines = chunk.split(b"\n")
            tail = lines.pop()

        pieces = self._pieces
        if not lines:
            pieces.append(tail)
            return []
        if start:
            # With start == 1 the previous chunk ended in CR, so no partial line is buffered.
            del lines[0]
        elif pieces:
            pieces.append(lines[0])
            lines[0] = b"".join(pieces)
            pieces.clear()
        if tail:
            pieces.append(tail)
        return self._process(lines)

    def _strip_bom(self, chunk: bytes) -> bytes:
        """Drop one UTF-8 BOM at the very start of the stream, even if split across chunks."""
        buf = self._bom_buf + chunk if self._bom_buf else chunk
        if len(buf) < 3 and _BOM.startswith(buf):
            self._bom_buf = buf
            return b""
        self._at_start = False
        self._bom_buf = b""
        return buf[3:] if buf.startswith(_BOM) else buf

    def _process(self, lines: list[bytes]) -> list[SSEMessage]:
        """Interpret complete lines (terminators removed); return dispatched events."""
        events: list[SSEMessage] = []
        # Hot loop: message state lives in locals and is written back once at the end.
        data = self._data
        event_type = self._event_type
        id_buffer = self._id_buffer
        msg_retry = self._msg_retry
        in_message = self._in_message
        last_event_id = self._last_event_id
        names = self._names
        append = events.append

        for line in lines:
            if not line:
                last_event_id = id_buffer
                if data:
                    # bytes.join returns a single item itself: no copy for one-line data.
                    append((event_type or "message", b"\n".join(data), id_buffer, msg_retry))
                    data = []
                event_type = None
                msg_retry = None
                in_message = False
                continue
            # The three fields of every Auth0 message first, each found with one C call; then the rest.
            if line.startswith(b"data:"):
                in_message = True
                data.append(line[6:] if line.startswith(b"data: ") else line[5:])
            elif line.startswith(b"id:"):
                in_message = True
                value = line[4:] if line.startswith(b"id: ") else line[3:]
                if 0 not in value:
                    id_buffer = value.decode("utf-8", "replace")
            elif line.startswith(b"event:"):
                in_message = True
                value = line[7:] if line.startswith(b"event: ") else line[6:]
                event_type = names.get(value) or self._name(value)
            elif line[0] == _COLON:
                continue  # a comment (Auth0's `:connected`, heartbeats)
            else:  # a field name without a colon, `retry`, or a field the spec ignores
                in_message = True
                name_bytes, _, value = line.partition(b":")
                if value[:1] == b" ":
                    value = value[1:]
                if name_bytes == b"data":
                    data.append(value)
                elif name_bytes == b"event":
                    event_type = value.decode("utf-8", "replace")
                elif name_bytes == b"id":
                    if 0 not in value:
                        id_buffer = value.decode("utf-8", "replace")
                elif name_bytes == b"retry":
                    msg_retry = self._retry(value, msg_retry)

        self._data, self._event_type, self._id_buffer = data, event_type, id_buffer
        self._msg_retry, self._in_message, self._last_event_id = msg_retry, in_message, last_event_id
        return events

    def _retry(self, value: bytes, current: int | None) -> int | None:
        """A `retry` field: the reconnection time in ms if `value` is all ASCII digits, else ignored."""
        if not value.isdigit():  # bytes.isdigit() accepts ASCII digits only
            return current
        try:
            self.retry = int(value)
        except ValueError:  # more digits than int() accepts (sys.int_info.str_digits_check_threshold)
            return current
        return self.retry
