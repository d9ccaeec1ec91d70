"""One long-lived connection to `GET /api/v2/events`, reopened through cycling and faults.

`EventFeed.messages()` yields what the run loop needs: real events (raw JSON text), offset-only
progress, liveness ticks and connection changes. It knows the status-code policy and the
reconnect rules; it knows nothing of Singer.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timezone
from enum import Enum

import orjson
import requests
import urllib3

from tap_auth0_events.errors import (
    AuthenticationError,
    BadRequestError,
    OffsetExpiredError,
    PermissionDeniedError,
    StreamCorruptError,
    StreamStuckError,
)
from tap_auth0_events.event_types import stream_name
from tap_auth0_events.records import MalformedEventError, load_json
from tap_auth0_events.sse import SSEDecoder
from tap_auth0_events.vocabulary import DecodedEvent, EventCodec, TokenProvider

READ_CHUNK = 256 * 1024
# A broken frame, or the same `event: error`, this many times in a row at the same position is not
# a passing fault: the run stops there rather than skip an event.
MAX_REPEATS = 3
# The longest a Retry-After header makes the tap wait; a longer one is a server's mistake.
MAX_RETRY_AFTER = 600.0
# What the tap says when the tenant's connection limit answers HTTP 403 (Auth0's plans, per its docs).
CONNECTION_LIMIT_ADVICE = (
    "another connection to this tenant's Events API is open, and Auth0's plans allow 1 at a time "
    "(Free), 4 (Self-service) or 8 (Enterprise). Close it (an `auth0 events subscribe`, another run "
    "of this tap or another consumer of the Events API) or wait for the last run's connection to be released"
)
# Codes of `event: error` meaning the position itself is unusable (not a passing fault).
CURSOR_ERRORS = frozenset({"cursor_expired", "invalid_cursor"})
# SSE message names that are not events (a `message` is one only when it has data).
_NOT_EVENTS = frozenset({"offset-only", "error", "message"})


class Kind(Enum):
    EVENT = "event"  # real events, in order: `events` holds (offset, type, time, record) of each
    OFFSET = "offset"  # an offset-only marker: the position moves, no record
    TICK = "tick"  # a read brought no event (heartbeat, comment, offset-only marker): the connection is alive
    CONNECTED = "connected"  # a new connection answered 200
    FAULT = "fault"  # the connection broke; a reconnect follows


@dataclass(slots=True)
class FeedMessage:
    kind: Kind
    offset: str | None = None
    # Kind.EVENT: the events of one read from the connection, each `EventCodec.decode`'s result.
    events: list[DecodedEvent] | None = None


@dataclass(slots=True)
class StartPosition:
    """Where a pass starts: after an offset, or at a time; `newest_event_time` is carried from STATE."""

    offset: str | None = None
    from_timestamp: str | None = None
    newest_event_time: str | None = None

    def same_place(self, other: StartPosition) -> bool:
        return (self.offset, self.from_timestamp) == (other.offset, other.from_timestamp)


class EventFeed:
    """Reads the Events API for a set of event types, reconnecting from the last offset it yielded."""

    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenProvider,
        event_types: Sequence[str],
        session: requests.Session,
        logger: logging.Logger,
        read_timeout: float = 20.0,
        connect_timeout: float = 10.0,
        max_backoff: float = 30.0,
        codec: EventCodec,
        deadline: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._codec = codec
        self._url = f"{base_url}/api/v2/events"
        self._tokens = tokens
        self._event_types = list(event_types)
        self._session = session
        self._log = logger
        self._timeouts = (connect_timeout, read_timeout)
        self._max_backoff = max_backoff
        self._deadline = deadline  # time.monotonic() after which a pause is pointless
        self._sleep = sleep
        self.offset: str | None = None
        self.connections = 0
        self.faults = 0
        self.last_fault = "none"  # what the last fault was, in words (never a header or a token)
        self._repeats = _Repeats()

    def messages(self, start: StartPosition) -> Generator[FeedMessage, None, None]:
        """Yield messages forever; the caller stops iterating when its run is over."""
        self.offset = start.offset
        pacing = _Pacing(self._max_backoff)
        may_renew_token = True
        while True:
            attempt = _Attempt()
            yield from self._connect_and_read(start, attempt, may_renew_token=may_renew_token)
            if attempt.renewed_token:
                may_renew_token = False  # once per 401; a second one in a row is final
                continue
            may_renew_token = may_renew_token or attempt.connected
            pause = pacing.pause_after(attempt)
            if self._deadline is not None:  # past the run's end the reader stops at the next message
                pause = min(pause, max(0.0, self._deadline - time.monotonic()))
            if pause:
                self._log.debug("reconnecting in %.2fs", pause)
                self._sleep(pause)

    def _connect_and_read(
        self, start: StartPosition, attempt: _Attempt, *, may_renew_token: bool
    ) -> Iterator[FeedMessage]:
        """One connection: open it, read it to its end; what happened is noted in `attempt`."""
        decoder: SSEDecoder | None = None
        try:
            response = self._open(start)
            if response.status_code == 401 and self._tokens.can_refresh and may_renew_token:
                response.close()
                self._log.info("HTTP 401 from the Events API: fetching a new token")
                self._tokens.invalidate()
                attempt.renewed_token = True
                return
            attempt.wait = self._check_status(response)
            attempt.rate_limited = response.status_code == 429
            if attempt.wait > 0.0:
                yield self._fault(_status_fault(response))
                return
            attempt.connected = True
            self.connections += 1
            yield FeedMessage(Kind.CONNECTED)
            decoder = SSEDecoder(last_event_id=self.offset)
            for message in self._read(response, decoder):
                if message.kind is not Kind.TICK:
                    attempt.progressed = True
                yield message
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            # Reading `response.raw` directly raises urllib3's errors, not requests' wrappers.
            self._log.warning("connection to the Events API failed (%s); reconnecting", _describe(exc))
            yield self._fault(f"a connection error ({_describe(exc)})")
        except _ServerCycled as cycled:
            if cycled.fault:
                yield self._fault(cycled.fault)
        finally:
            if decoder is not None:
                attempt.retry_ms = decoder.retry

    def _fault(self, cause: str) -> FeedMessage:
        self.faults += 1
        self.last_fault = cause
        return FeedMessage(Kind.FAULT)

    def _open(self, start: StartPosition) -> requests.Response:
        params: list[tuple[str, str]] = [("event_type", event_type) for event_type in self._event_types]
        headers = {
            "Accept": "text/event-stream",
            "Authorization": f"Bearer {self._tokens.token()}",
            "Cache-Control": "no-cache",
        }
        if self.offset is not None:
            # The header wins over `from` on Auth0's side, and needs no URL-encoding of base64.
            headers["Last-Event-ID"] = self.offset
        elif start.from_timestamp:
            params.append(("from_timestamp", start.from_timestamp))
        return self._session.get(self._url, params=params, headers=headers, stream=True, timeout=self._timeouts)

    def _check_status(self, response: requests.Response) -> float:
        """0.0 for a stream to read; seconds to wait for 429, 5xx and the connection-limit 403; an error
        for the rest."""
        status = response.status_code
        if status == 200:
            return 0.0
        detail = _error_detail(response)
        response.close()
        if status == 429:
            wait = _rate_limit_wait(response.headers)
            self._log.warning("HTTP 429 rate limited by the Events API; retrying in %.1fs", wait)
            return wait
        if status >= 500:
            self._log.warning("HTTP %d from the Events API%s; retrying", status, detail)
            return 0.001
        if status == 401:
            raise AuthenticationError(
                f"HTTP 401 from the Events API{detail}: the token is missing, invalid or expired "
                "(check api_token, or client_id/client_secret)"
            )
        if status == 403 and _is_connection_limit(response.text):
            # The plan's limit on open connections: it passes when another connection closes.
            self._log.warning("HTTP 403 from the Events API%s: the tenant's connection limit; retrying", detail)
            return 0.001
        if status == 403:
            raise PermissionDeniedError(
                f"HTTP 403 from the Events API{detail}: the token lacks the read:events scope "
                "(grant it to the application under APIs > Auth0 Management API > Machine to Machine)"
            )
        if status == 410:
            raise OffsetExpiredError(_expired_message(self.offset, detail))
        if status == 400:
            raise BadRequestError(_bad_request_message(detail, self._event_types))
        raise BadRequestError(f"HTTP {status} from {self._url}{detail}: check domain / api_url")

    def _read(self, response: requests.Response, decoder: SSEDecoder) -> Iterator[FeedMessage]:
        raw = response.raw
        decode = self._codec.decode
        try:
            while True:
                # decode_content: a proxy may gzip the stream; requests leaves raw bytes encoded.
                chunk = raw.read1(READ_CHUNK, decode_content=True)
                if not chunk:
                    break
                events = decoder.feed(chunk)
                if not events:
                    yield FeedMessage(Kind.TICK)
                    continue
                # The events of this read go out together, up to the first message that is not one.
                batch: list[DecodedEvent] = []
                delivered = False
                for name, data, sse_id, _ in events:
                    if name in _NOT_EVENTS and (name != "message" or not data):
                        if batch:
                            yield from self._deliver(batch)
                            batch, delivered = [], True
                        if name == "offset-only":
                            self.offset = sse_id
                            self._repeats.clear()
                            yield FeedMessage(Kind.OFFSET, offset=sse_id)
                        elif name == "error":
                            self._on_error_event(data)
                        continue
                    try:
                        batch.append(decode(data, sse_id))
                    except (orjson.JSONDecodeError, MalformedEventError) as exc:
                        if batch:
                            yield from self._deliver(batch)
                            batch, delivered = [], True
                        self._on_broken_frame(exc)
                if batch:
                    yield from self._deliver(batch)
                elif not delivered:
                    yield FeedMessage(Kind.TICK)  # a read without events: a heartbeat (an offset-only marker)
        finally:
            response.close()
        if decoder.pending:
            self._log.warning("connection closed in the middle of a message; resuming from the last offset")
            raise _ServerCycled(fault="a connection closed in the middle of a message")
        self._log.info("the Events API closed the connection (normal cycling); resuming")
        raise _ServerCycled()

    def _deliver(self, batch: list[DecodedEvent]) -> Iterator[FeedMessage]:
        yield FeedMessage(Kind.EVENT, events=batch)
        # The offset moves only when the consumer asks for the next message, i.e. after it has
        # handled these events.
        self.offset = batch[-1][0]
        self._repeats.clear()

    def _on_broken_frame(self, exc: Exception) -> None:
        """Reconnect from the last good offset; give up (without skipping) if it keeps happening."""
        count = self._repeats.count(self.offset, "broken frame")
        where = f"after offset {self.offset}" if self.offset else "at the start position"
        if count >= MAX_REPEATS:
            raise StreamCorruptError(
                f"the message {where} was not a valid event {count} times in a row ({exc}); "
                "stopping without moving past it, so no event is skipped. Retry later or report it to Auth0"
            )
        self._log.warning("a message %s was not a valid event (%s); reconnecting to fetch it again", where, exc)
        raise _ServerCycled(fault=f"a message that was not a valid event ({exc})")

    def _on_error_event(self, data: bytes) -> None:
        try:
            error = load_json(data).get("error", {})
            code, message = str(error.get("code", "unknown")), str(error.get("message", ""))[:200]
        except (orjson.JSONDecodeError, AttributeError):
            code, message = "unparseable", ""
        if code in CURSOR_ERRORS:
            raise OffsetExpiredError(_expired_message(self.offset, f" ({code}: {message})"))
        if code == "connection_timeout":
            self._log.info("server ended the connection (connection_timeout); resuming")
            raise _ServerCycled()
        where = f"offset {self.offset}" if self.offset else "the start position"
        count = self._repeats.count(self.offset, code)
        if count >= MAX_REPEATS:
            raise StreamStuckError(
                f"the Events API sent `event: error` {code} at {where} {count} times in a row without progress "
                f"({message}); stopping without moving past it, so no event is skipped (STATE covers every event "
                "before it). Retry later, or report it to Auth0 with the offset"
            )
        self._log.warning("error event from the Events API at %s (%s: %s); reconnecting", where, code, message)
        raise _ServerCycled(fault=f"`event: error` {code} ({message})")


class _ServerCycled(Exception):
    """The server closed the stream; `fault` says why when it was not a clean close."""

    def __init__(self, *, fault: str = "") -> None:
        super().__init__()
        self.fault = fault


class _Repeats:
    """How many times in a row the same trouble met the same position (progress clears it)."""

    def __init__(self) -> None:
        self._last: tuple[str | None, str] | None = None
        self._count = 0

    def count(self, position: str | None, trouble: str) -> int:
        self._count = self._count + 1 if self._last == (position, trouble) else 1
        self._last = (position, trouble)
        return self._count

    def clear(self) -> None:
        self._last, self._count = None, 0


@dataclass(slots=True)
class _Attempt:
    """What one connection attempt came to."""

    connected: bool = False  # answered 200
    progressed: bool = False  # delivered an event or an offset
    rate_limited: bool = False  # answered 429
    wait: float = 0.0  # what the server asked us to wait (429), or a token pause after 5xx or the connection limit
    retry_ms: int | None = None  # the stream's last `retry:`
    renewed_token: bool = False  # answered 401 and a new token was fetched: try again at once


class _Pacing:
    """The pause before the next connection: the server's `retry:` as a floor, Retry-After after a
    429, and capped exponential backoff with jitter over attempts that made no progress."""

    def __init__(self, cap: float) -> None:
        self._cap = cap
        self._floor = 0.0
        self._delays: Iterator[float] | None = None

    def pause_after(self, attempt: _Attempt) -> float:
        if attempt.retry_ms is not None:
            self._floor = attempt.retry_ms / 1000.0
        if attempt.progressed or attempt.rate_limited:
            # After progress, or when the server said how long to wait, no extra backoff.
            if attempt.progressed:
                self._delays = None
            return max(attempt.wait, self._floor)
        if self._delays is None:
            self._delays = _backoff_delays(self._cap)
        return max(attempt.wait, self._floor, next(self._delays))


def _backoff_delays(cap: float) -> Iterator[float]:
    """Capped exponential backoff with full jitter: 0.5 s base, doubling, at most `cap`."""
    import backoff  # on the first fault only: it imports asyncio, ~15 ms of every run's start-up

    for value in backoff.expo(base=2, factor=0.5, max_value=cap):
        if value is None:  # the generator's priming value in older backoff releases
            continue
        yield backoff.full_jitter(value)


def _retry_after(header: str | None, now: float | None = None) -> float:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date (RFC 9110), at most
    MAX_RETRY_AFTER; 1 s when absent or unreadable."""
    if not header:
        return 1.0
    header = header.strip()
    if header.isascii() and header.isdigit():
        return min(float(header), MAX_RETRY_AFTER)  # float(): no digit limit, a huge value is inf
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError, OverflowError):
        return 1.0
    if when.tzinfo is None:  # "-0000": UTC, says RFC 5322
        when = when.replace(tzinfo=timezone.utc)
    seconds = when.timestamp() - (time.time() if now is None else now)
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def _bad_request_message(detail: str, asked_for: Sequence[str]) -> str:
    """HTTP 400: an event type the tenant does not support, named with how to deselect it, or a bad offset."""
    named = [name for name in asked_for if re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", detail)]
    if not named:
        return (
            f"HTTP 400 from the Events API{detail}: the stored offset is malformed or an event type is "
            f"not supported by this tenant (event types asked for: {len(asked_for)})"
        )
    streams = " ".join(stream_name(event_type) for event_type in named)
    return (
        f"HTTP 400 from the Events API{detail}: this tenant does not support the event type {', '.join(named)}. "
        f"Deselect its stream (meltano select tap-auth0-events --exclude {streams} '*', or "
        "selected: false in the catalog), or select every stream: without event_type filters the tenant "
        "sends only the types it has"
    )


def _rate_limit_wait(headers: Mapping[str, str], now: float | None = None) -> float:
    """Seconds to wait after a 429: its Retry-After, else until its X-RateLimit-Reset (epoch seconds,
    as Auth0's SDKs read it), at most MAX_RETRY_AFTER; 1 s when neither is there or readable."""
    retry_after = headers.get("Retry-After")
    reset = headers.get("X-RateLimit-Reset", "").strip()
    if retry_after or not (reset.isascii() and reset.isdigit()):
        return _retry_after(retry_after, now)
    seconds = float(reset) - (time.time() if now is None else now)
    # A reset already past still waits a moment: a wait of 0 would read the 429's body as a stream.
    return min(max(0.001, seconds), MAX_RETRY_AFTER)


def _is_connection_limit(body: str) -> bool:
    """True for the body of Auth0's 403 "Maximum concurrent event stream connections reached. Please close
    existing connections.", told apart from the missing-scope 403 by its words, whatever the body's shape
    (JSON with a `message`, a nested `error`, or plain text)."""
    text = body[:2000].lower()
    return "concurrent" in text and "connection" in text


def _status_fault(response: requests.Response) -> str:
    """A 429, 5xx or connection-limit 403 answer in words, with the wait headers the server gave."""
    headers = response.headers
    if response.status_code == 429:
        reset = f", X-RateLimit-Reset: {headers['X-RateLimit-Reset'][:40]}" if "X-RateLimit-Reset" in headers else ""
        return f"HTTP 429 rate limited (Retry-After: {headers.get('Retry-After') or 'none'}{reset})"
    if response.status_code == 403:
        return f"HTTP 403 Maximum concurrent event stream connections reached: {CONNECTION_LIMIT_ADVICE}"
    return f"HTTP {response.status_code}"


def _error_detail(response: requests.Response) -> str:
    """A short, safe summary of an error body: its error code and message, never headers."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    nested = body.get("error")
    if isinstance(nested, dict):
        body = nested
    parts = [str(body[key])[:160] for key in ("errorCode", "code", "message") if isinstance(body.get(key), str)]
    return f" ({': '.join(parts)})" if parts else ""


def _expired_message(offset: str | None, detail: str) -> str:
    return (
        f"the stored offset has expired{detail}: Auth0 no longer holds events that old. "
        "Events between the last run and now may be gone from the API; to restart, set start_date "
        "and clear this tap's state (meltano state clear), or set on_expired_offset=restart_from_time"
    )


def _describe(exc: Exception) -> str:
    """Exception class and reason without URLs' query strings or headers."""
    text = str(exc)
    if "?" in text:
        text = text.split("?", 1)[0]
    return f"{type(exc).__name__}: {text[:200]}"
