"""One long-lived connection to `GET /api/v2/events`, reopened through cycling and faults.

`EventFeed.messages()` yields, for each read from the socket, the SSE messages it completed (the
decoder's tuples, undecoded `data:` bytes), and a `Signal` for the rest: a new connection, a read
that completed no message (a heartbeat), a fault. It holds the status-code policy (`_check_status`)
and the reconnect rules; what the messages mean is the bounded read's (`run.py`), which tells the
feed how far it has taken them (`advance`) and when one of them calls for a new connection
(`reconnect`). It knows nothing of Singer.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timezone
from enum import Enum

import requests
import urllib3

from tap_auth0_events.auth import make_token_provider
from tap_auth0_events.errors import (
    AuthenticationError,
    BadRequestError,
    OffsetExpiredError,
    PermissionDeniedError,
)
from tap_auth0_events.event_types import stream_name
from tap_auth0_events.settings import Settings
from tap_auth0_events.sse import SSEDecoder, SSEMessage
from tap_auth0_events.vocabulary import TokenProvider

READ_CHUNK = 256 * 1024  # the most one read from the socket takes
CONNECT_TIMEOUT = 10.0
# The longest a Retry-After header makes the tap wait; a longer one is a server's mistake.
MAX_RETRY_AFTER = 600.0
# What the tap says when the tenant's connection limit answers HTTP 403 (Auth0's plans, per its docs).
CONNECTION_LIMIT_ADVICE = (
    "another connection to this tenant's Events API is open, and Auth0's plans allow 1 at a time "
    "(Free), 4 (Self-service) or 8 (Enterprise). Close it (an `auth0 events subscribe`, another run "
    "of this tap or another consumer of the Events API) or wait for the last run's connection to be released"
)


class Signal(Enum):
    """What the feed yields besides SSE messages."""

    CONNECTED = "connected"  # a new connection answered 200
    HEARTBEAT = "heartbeat"  # a read completed no message (a comment, a heartbeat): the connection is alive
    FAULT = "fault"  # the connection broke, or its answer counts as a fault (429, 5xx); a reconnect follows


@dataclass(slots=True)
class StartPosition:
    """Where a pass starts: after an offset, or at a time; `newest_event_time` is carried from STATE."""

    offset: str | None = None
    from_timestamp: str | None = None
    newest_event_time: str | None = None

    def same_place(self, other: StartPosition) -> bool:
        return (self.offset, self.from_timestamp) == (other.offset, other.from_timestamp)


class EventFeed:
    """Reads the Events API for a set of event types, reconnecting after the offset the reader has
    taken (`advance`)."""

    def __init__(
        self,
        *,
        base_url: str,
        tokens: TokenProvider,
        event_types: Sequence[str],
        session: requests.Session,
        logger: logging.Logger,
        read_timeout: float = 20.0,
        max_backoff: float = 30.0,
        deadline: float | None = None,
    ) -> None:
        self._url = f"{base_url}/api/v2/events"
        self._tokens = tokens
        self.event_types = list(event_types)
        self._session = session
        self._log = logger
        self._timeouts = (CONNECT_TIMEOUT, read_timeout)
        self._max_backoff = max_backoff
        self._deadline = deadline  # time.monotonic() after which a pause is pointless
        self.offset: str | None = None  # the next connection resumes after this offset
        self.connections = 0
        self.faults = 0
        self.last_fault = "none"  # what the last fault was, in words (never a header or a token)
        self._attempt = _Attempt()
        self._reconnect_because: str | None = None  # set by `reconnect`: the fault, "" for none

    def advance(self, offset: str | None) -> None:
        """The reader has taken the messages up to `offset`: a new connection resumes after it."""
        self.offset = offset
        self._attempt.progressed = True

    def reconnect(self, fault: str = "") -> None:
        """End this connection at the next message and open another from `offset`; `fault` (in words)
        counts it as a fault, "" as the server's normal cycling."""
        self._reconnect_because = fault

    def messages(self, start: StartPosition) -> Generator[list[SSEMessage] | Signal, None, None]:
        """Yield messages forever; the caller stops iterating when its run is over."""
        self.offset = start.offset
        pacing = _Pacing(self._max_backoff)
        may_renew_token = True
        while True:
            attempt = self._attempt = _Attempt()
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
                time.sleep(pause)

    def _connect_and_read(
        self, start: StartPosition, attempt: _Attempt, *, may_renew_token: bool
    ) -> Iterator[list[SSEMessage] | Signal]:
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
            refused = self._check_status(response)
            if refused is not None:
                attempt.wait, attempt.rate_limited = refused.wait, refused.rate_limited
                yield self._fault(refused.fault)
                return
            attempt.connected = True
            self.connections += 1
            yield Signal.CONNECTED
            decoder = SSEDecoder(last_event_id=self.offset)
            yield from self._chunks(response, decoder)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            # Reading `response.raw` directly raises urllib3's errors, not requests' wrappers.
            self._log.warning("connection to the Events API failed (%s); reconnecting", _error_in_words(exc))
            yield self._fault(f"a connection error ({_error_in_words(exc)})")
        except _ServerCycled as cycled:
            if cycled.fault:
                yield self._fault(cycled.fault)
        finally:
            if decoder is not None:
                attempt.retry_ms = decoder.retry

    def _fault(self, cause: str) -> Signal:
        self.faults += 1
        self.last_fault = cause
        return Signal.FAULT

    def _open(self, start: StartPosition) -> requests.Response:
        params: list[tuple[str, str]] = [("event_type", event_type) for event_type in self.event_types]
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

    def _check_status(self, response: requests.Response) -> _Refused | None:
        """The status-code policy: None for a stream to read; a `_Refused` to retry (429, 5xx, the
        connection-limit 403), which counts as a fault; an error for the rest."""
        status = response.status_code
        if status == 200:
            return None
        detail = _error_detail(response)
        response.close()
        if status == 429:
            headers = response.headers
            wait = _rate_limit_wait(headers)
            reset = headers.get("X-RateLimit-Reset")
            reset = f", X-RateLimit-Reset: {reset[:40]}" if reset else ""
            self._log.warning("HTTP 429 rate limited by the Events API; retrying in %.1fs", wait)
            retry_after = headers.get("Retry-After") or "none"
            return _Refused(f"HTTP 429 rate limited (Retry-After: {retry_after}{reset})", wait, rate_limited=True)
        if status >= 500:
            self._log.warning("HTTP %d from the Events API%s; retrying", status, detail)
            return _Refused(f"HTTP {status}", wait=0.0, rate_limited=False)
        if status == 401:
            raise AuthenticationError(
                f"HTTP 401 from the Events API{detail}: the token is missing, invalid or expired "
                "(check api_token, or client_id/client_secret)"
            )
        if status == 403 and _is_connection_limit(response.text):
            # The plan's limit on open connections: it passes when another connection closes.
            self._log.warning("HTTP 403 from the Events API%s: the tenant's connection limit; retrying", detail)
            return _Refused(
                f"HTTP 403 Maximum concurrent event stream connections reached: {CONNECTION_LIMIT_ADVICE}",
                wait=0.0,
                rate_limited=False,
            )
        if status == 403:
            raise PermissionDeniedError(
                f"HTTP 403 from the Events API{detail}: the token lacks the read:events scope "
                "(grant it to the application under APIs > Auth0 Management API > Machine to Machine)"
            )
        if status == 410:
            raise OffsetExpiredError(expired_message(detail))
        if status == 400:
            raise BadRequestError(_bad_request_message(detail, self.event_types))
        raise BadRequestError(f"HTTP {status} from {self._url}{detail}: check domain / api_url")

    def _chunks(self, response: requests.Response, decoder: SSEDecoder) -> Iterator[list[SSEMessage] | Signal]:
        """The messages of each read from the socket, until the server closes or the reader asks to
        reconnect."""
        raw = response.raw
        self._reconnect_because = None
        try:
            while True:
                # decode_content: a proxy may gzip the stream; requests leaves raw bytes encoded.
                chunk = raw.read1(READ_CHUNK, decode_content=True)
                if not chunk:
                    break
                messages = decoder.feed(chunk)
                yield messages or Signal.HEARTBEAT
                if self._reconnect_because is not None:
                    raise _ServerCycled(fault=self._reconnect_because)
        finally:
            response.close()
        if decoder.pending:
            self._log.warning("connection closed in the middle of a message; resuming from the last offset")
            raise _ServerCycled(fault="a connection closed in the middle of a message")
        self._log.info("the Events API closed the connection (normal cycling); resuming")
        raise _ServerCycled()


class HttpFeeds:
    """Opens the feeds of one sync, all sharing one HTTP session and one token provider."""

    def __init__(self, settings: Settings, logger: logging.Logger, user_agent: str) -> None:
        self._settings, self._logger = settings, logger
        self._session = requests.Session()
        self._session.headers["User-Agent"] = user_agent
        self._tokens = make_token_provider(settings, self._session)

    def open(self, event_types: Sequence[str], deadline: float) -> EventFeed:
        return EventFeed(
            base_url=self._settings.base_url,
            tokens=self._tokens,
            event_types=event_types,
            session=self._session,
            logger=self._logger,
            read_timeout=self._settings.read_timeout_seconds,
            max_backoff=self._settings.max_backoff_seconds,
            deadline=deadline,
        )

    def close(self) -> None:
        self._session.close()


class _ServerCycled(Exception):
    """The server closed the stream; `fault` says why when it was not a clean close."""

    def __init__(self, *, fault: str = "") -> None:
        super().__init__()
        self.fault = fault


@dataclass(slots=True)
class _Attempt:
    """What one connection attempt came to."""

    connected: bool = False  # answered 200
    progressed: bool = False  # the reader took an event or an offset from it (`EventFeed.advance`)
    rate_limited: bool = False  # answered 429
    wait: float = 0.0  # what the server asked us to wait (Retry-After, X-RateLimit-Reset)
    retry_ms: int | None = None  # the stream's last `retry:`
    renewed_token: bool = False  # answered 401 and a new token was fetched: try again at once


@dataclass(frozen=True, slots=True)
class _Refused:
    """An answer to retry after (429, 5xx): a fault, in words, and what the server asked us to wait."""

    fault: str
    wait: float
    rate_limited: bool


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
    # A reset already past still waits a moment (the 429 is a `_Refused` either way).
    return min(max(0.001, seconds), MAX_RETRY_AFTER)


def _is_connection_limit(body: str) -> bool:
    """True for the body of Auth0's 403 "Maximum concurrent event stream connections reached. Please close
    existing connections.", told apart from the missing-scope 403 by its words, whatever the body's shape
    (JSON with a `message`, a nested `error`, or plain text)."""
    text = body[:2000].lower()
    return "concurrent" in text and "connection" in text


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


def expired_message(detail: str) -> str:
    """The stored offset has expired (HTTP 410, or `cursor_expired` in the stream), with how to restart."""
    return (
        f"the stored offset has expired{detail}: Auth0 no longer holds events that old. "
        "Events between the last run and now may be gone from the API; to restart, set start_date "
        "and clear this tap's state (meltano state clear), or set on_expired_offset=restart_from_time"
    )


def _error_in_words(exc: Exception) -> str:
    """Exception class and reason without URLs' query strings or headers."""
    text = str(exc)
    if "?" in text:
        text = text.split("?", 1)[0]
    return f"{type(exc).__name__}: {text[:200]}"
