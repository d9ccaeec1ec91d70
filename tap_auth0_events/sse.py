"""Pure Server-Sent Events decoder: bytes in, events out, no I/O.

Implements the WHATWG HTML "event stream interpretation" rules
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"
_CR = 13
_LF = 10
_COLON = 58


@dataclass(slots=True, frozen=True)
class ServerSentEvent:
    """One dispatched SSE message.

    ``event`` is "message" when no (or an empty) event field was given; ``data`` joins the data lines
    with "\\n"; ``id`` is the stream's last event id at dispatch (carried forward, None if never set);
    ``retry`` is the reconnection time in ms set by this message, if any.
    """

    event: str
    data: str
    id: str | None
    retry: int | None


class SSEDecoder:
    """Incremental SSE decoder: feed byte chunks, get back the events they complete.

    Line boundaries are CRLF, LF or CR only, found on bytes; UTF-8 is decoded afterwards with
    ``errors="replace"``, so multi-byte characters split across chunks decode correctly.
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
        "_pieces",
        "_skip_lf",
        "comments",
        "retry",
    )

    def __init__(self, last_event_id: str | None = None) -> None:
        self._last_event_id: str | None = last_event_id
        # Per spec the id field fills a buffer that becomes the stream's last event id only when
        # the message is dispatched (blank line): an id in a frame cut in half must not count.
        self._id_buffer: str | None = last_event_id
        self.retry: int | None = None
        self.comments: int = 0
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

    @last_event_id.setter
    def last_event_id(self, value: str | None) -> None:
        self._last_event_id = value
        self._id_buffer = value

    @property
    def pending(self) -> bool:
        """True when part of an unfinished message is buffered (the stream stopped mid-frame)."""
        return bool(self._pieces or self._bom_buf or self._in_message)

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Consume a chunk of the stream; return the events completed by it, in order."""
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

    def close(self) -> list[ServerSentEvent]:
        """Signal end of stream.

        Per WHATWG an incomplete message at EOF is discarded, so this always returns []. Check
        ``pending`` before calling it to tell whether a frame was cut. Afterwards the decoder is
        ready for a new stream (a reconnection); ``last_event_id``, ``retry`` and ``comments`` persist.
        """
        self._reset_stream()
        return []

    def _strip_bom(self, chunk: bytes) -> bytes:
        """Drop one UTF-8 BOM at the very start of the stream, even if split across chunks."""
        buf = self._bom_buf + chunk if self._bom_buf else chunk
        if len(buf) < 3 and _BOM.startswith(buf):
            self._bom_buf = buf
            return b""
        self._at_start = False
        self._bom_buf = b""
        return buf[3:] if buf.startswith(_BOM) else buf

    def _process(self, lines: list[bytes]) -> list[ServerSentEvent]:
        """Interpret complete lines (terminators removed); return dispatched events."""
        events: list[ServerSentEvent] = []
        # Hot loop: message state lives in locals and is written back once at the end.
        data = self._data
        event_type = self._event_type
        id_buffer = self._id_buffer
        msg_retry = self._msg_retry
        in_message = self._in_message
        comments = self.comments
        last_event_id = self._last_event_id
        append = events.append
        make = ServerSentEvent

        for line in lines:
            if not line:
                last_event_id = id_buffer
                if data:
                    append(
                        make(
                            event_type or "message",
                            b"\n".join(data).decode("utf-8", "replace"),
                            id_buffer,
                            msg_retry,
                        )
                    )
                    data = []
                event_type = None
                msg_retry = None
                in_message = False
                continue
            if line[0] == _COLON:
                comments += 1
                continue
            in_message = True
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                data.append(value)
            elif name == b"event":
                event_type = value.decode("utf-8", "replace")
            elif name == b"id":
                if b"\x00" not in value:
                    id_buffer = value.decode("utf-8", "replace")
            elif name == b"retry" and value.isdigit():  # bytes.isdigit() accepts ASCII digits only
                try:
                    msg_retry = int(value)
                except ValueError:  # more digits than int() accepts (sys.int_info.str_digits_check_threshold)
                    continue
                self.retry = msg_retry

        self._data = data
        self._event_type = event_type
        self._id_buffer = id_buffer
        self._msg_retry = msg_retry
        self._in_message = in_message
        self.comments = comments
        self._last_event_id = last_event_id
        return events
