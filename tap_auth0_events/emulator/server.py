"""An Auth0 Events API emulator: `GET /api/v2/events` as Server-Sent Events, over real HTTP.

It serves what the reference describes: `:connected`, `retry:`, events with base64 offsets,
`offset-only` markers past filtered events, heartbeats, `from` / `from_timestamp` /
`Last-Event-ID`, repeated `event_type` filters, 400/401/403/410/429, `POST /oauth/token`, and
connection cycling. Tests queue `ConnectionPlan`s to make a given connection misbehave.
Frames are rendered once, when an event is appended, so serving is a matter of `sendall`.

`EmulatorConfig` also shapes the tenant as a live one may be: test events (`test_event_share`),
events of types the tap does not know (`unknown_types`), types the tenant does not have
(`unsupported_types`: 400 when a filter names one, never sent otherwise), and one event no
connection gets past (`error_at`: an `event: error` in its place on every connection).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import collections
import contextlib
import json
import math
import re
import secrets
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from tap_auth0_events.emulator.generator import TEST_EVENT_SHARE, UNKNOWN_TYPE_SHARE, EventGenerator, World
from tap_auth0_events.emulator.management import READ_SCOPES, ManagementApi, PreLog, Tenant
from tap_auth0_events.event_types import EVENT_TYPES

WRITE_BYTES = 256 * 1024
# Offsets are base64 of a marker, the sequence number and two bytes chosen so that tokens
# contain '/', '+' or '=' — characters a client must URL-encode if it sends them as `from`.
_OFFSET_MARK = b"off"
_OFFSET_TAIL = b"\xfb\xff"
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def encode_offset(seq: int) -> str:
    return base64.b64encode(_OFFSET_MARK + struct.pack(">Q", seq) + _OFFSET_TAIL).decode()


def decode_offset(token: str) -> int | None:
    """The sequence number inside an offset, or None when the token is not one of ours."""
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 13 or not raw.startswith(_OFFSET_MARK) or not raw.endswith(_OFFSET_TAIL):
        return None
    return struct.unpack(">Q", raw[3:11])[0]


@dataclass(slots=True)
class StoredEvent:
    seq: int
    offset: str
    event_type: str
    event_id: str
    time: str
    arrived: float  # epoch seconds when it entered the log (monotone; what from_timestamp uses)
    frame: bytes
    purpose: str | None = None  # the CloudEvent's a0purpose ("test" for test events)


@dataclass
class ConnectionPlan:
    """How one upcoming connection misbehaves. Plans are used in order, one per connection.

    `status` answers with that HTTP status instead of a stream. Otherwise the connection
    streams `after_events` events normally, then does `action`:
    close | cut (half a frame, then a clean close) | reset (half a frame, then TCP RST) |
    silent (no bytes at all for `silent_seconds`, then close) | error:<code> (an `event: error`,
    then close) | broken_json (the next frame's JSON is corrupted, then streaming goes on) |
    duplicate (the next event is sent twice) | expire_tokens (every token stops working, then
    a clean close) | none.
    """

    status: int | None = None
    retry_after: str | None = None
    # With status 429: also send X-RateLimit-Limit/-Remaining/-Reset, the reset this many seconds
    # from now (whole epoch seconds, rounded up), as Auth0's rate limiter does.
    rate_limit_reset: float | None = None
    after_events: int = 0
    action: str = "none"
    silent_seconds: float = 60.0


@dataclass
class EmulatorConfig:
    seed: int = 7
    tenant: str = "acme-demo"
    initial_events: int = 500
    mean_gap_seconds: float = 60.0
    retry_ms: int = 2000
    heartbeat_seconds: float = 5.0
    cycle_seconds: float | None = 180.0  # Auth0 closes connections every few minutes on purpose
    cycle_events: int | None = None
    cycle_with_error_event: bool = True  # send `connection_timeout` before a cycle close
    live_events_per_second: float = 0.0
    out_of_order_every: int = 0  # every Nth event is stamped earlier than the one before it
    duplicate_every: int = 0  # every Nth event frame is sent twice
    retained_from_seq: int = 0  # offsets of events before this are expired (410)
    broken_seqs: frozenset[int] = frozenset()  # these events are always served with broken JSON
    # Event types this tenant does not have (e.g. early-access group.*): a request whose event_type
    # filter names one answers 400 naming it; events of these types are never generated nor sent.
    unsupported_types: frozenset[str] = frozenset()
    # Event types outside EVENT_TYPES (types a newer API has): a share `unknown_share` of the
    # generated events is of one of them, with an arbitrary payload. Sent without filters, or
    # when a filter names them.
    unknown_types: tuple[str, ...] = ()
    unknown_share: float = UNKNOWN_TYPE_SHARE
    # Share of generated events that are test events ("a0purpose": "test", made-up users).
    test_event_share: float = TEST_EVENT_SHARE
    # Share of generated events with neither `context` nor `previous_object` (as in Auth0's SDK tests).
    bare_share: float = 0.0
    # (seq, code): every connection that reaches the event at log position `seq` (and would send
    # it) sends `event: error` with `code` instead, its offset the position before, and closes.
    error_at: tuple[int, str] | None = None
    chunked: bool = False  # Transfer-Encoding: chunked instead of a close-delimited body
    gzip: bool = False  # Content-Encoding: gzip, as a compressing proxy would send it
    api_tokens: dict[str, list[str]] = field(default_factory=lambda: {"emulator-token": ["read:events"]})
    clients: dict[str, str] = field(default_factory=lambda: {"emulator-client": "emulator-secret"})
    client_scopes: list[str] = field(default_factory=lambda: ["read:events"])
    token_ttl_seconds: int = 86400
    # At most this many event streams open at once (Auth0's plans: Free 1, Self-service 4,
    # Enterprise 8); one more answers Auth0's 403 "Maximum concurrent event stream connections
    # reached". None: no limit. A stream counts until the server notices its client has gone.
    max_connections: int | None = None
    # -- the tenant before its events and the Management API (tap_auth0_events.emulator.management) --
    users_before: int = 0  # users that existed before the first event (derived lazily from the seed)
    organizations_before: int = 0  # organizations before the first event, with members and connections
    groups_before: int = 0  # groups before the first event, with members and roles
    members_per_organization: int = 20  # mean members of a pre-log organization
    # Grant every Management API read scope (READ_SCOPES) to the static tokens and to client-credentials
    # tokens, besides their own; off: they keep read:events only, and the Management API answers 403.
    grant_read_scopes: bool = False
    # Auth0's per-plan Management API rate limits ("free", "essentials", "professional", "enterprise"),
    # token buckets per endpoint family; burst and refill multiplied by `rate_limit_scale`. None: no limit.
    rate_limit_plan: str | None = None
    rate_limit_scale: float = 1.0
    export_pending_seconds: float = 0.2  # a users export job is `pending` this long, then `completed`
    export_link_seconds: float = 60.0  # how long an export's pre-signed `location` works
    export_fails: bool = False  # every users export job ends `failed`


class EventLog:
    """The tenant's event history: append-only, offsets are list positions."""

    def __init__(self) -> None:
        self.events: list[StoredEvent] = []
        self._arrivals: list[float] = []
        self.changed = threading.Condition()

    def append(self, event: dict[str, Any], arrived: float) -> StoredEvent:
        with self.changed:
            seq = len(self.events)
            offset = encode_offset(seq)
            data = orjson.dumps({"offset": offset, "event": event})
            frame = b"event: %s\nid: %s\ndata: %s\n\n" % (event["type"].encode(), offset.encode(), data)
            arrived = max(arrived, self._arrivals[-1]) if self._arrivals else arrived
            purpose = event.get("a0purpose")
            stored = StoredEvent(seq, offset, event["type"], event["id"], event["time"], arrived, frame, purpose)
            self.events.append(stored)
            self._arrivals.append(arrived)
            self.changed.notify_all()
            return stored

    def index_at_time(self, moment: float) -> int:
        with self.changed:
            return bisect.bisect_left(self._arrivals, moment)

    def __len__(self) -> int:
        return len(self.events)


class Emulator:
    """The server plus its state. Use as a context manager, or `start()` / `stop()`."""

    def __init__(self, config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or EmulatorConfig()
        self.log = EventLog()
        self.plans: collections.deque[ConnectionPlan] = collections.deque()
        self.requests: list[dict[str, Any]] = []  # one entry per /api/v2/events request (no secrets)
        self.tokens: dict[str, tuple[list[str], float]] = {}  # issued token -> (scopes, expiry epoch)
        self.revoked: set[str] = set()  # static tokens made to expire
        self.token_requests = 0
        self.open_streams = 0  # event streams answered 200 and not yet closed
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._generator = EventGenerator(
            seed=self.config.seed,
            tenant=self.config.tenant,
            test_event_share=self.config.test_event_share,
            unknown_types=self.config.unknown_types,
            unknown_share=self.config.unknown_share,
            excluded_types=self.config.unsupported_types,
            bare_share=self.config.bare_share,
        )
        self._appended = 0
        self._last_moment = datetime.min.replace(tzinfo=timezone.utc)
        self.prelog = PreLog(
            self.config.seed,
            self.config.users_before,
            self.config.organizations_before,
            self.config.groups_before,
            self.config.members_per_organization,
            list(self.world.connections),
            dict(self.world.roles),
        )
        self._generator.start_from(self.prelog)
        self.management = ManagementApi(self)
        self._seed_history()
        self._server = _Server((host, port), _Handler)
        self._server.emulator = self
        self._threads: list[threading.Thread] = []

    # -- life cycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Emulator:
        serve = threading.Thread(target=self._server.serve_forever, name="emulator", daemon=True)
        serve.start()
        self._threads.append(serve)
        if self.config.live_events_per_second > 0:
            live = threading.Thread(target=self._append_live_forever, name="emulator-live", daemon=True)
            live.start()
            self._threads.append(live)
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self.log.changed:
            self.log.changed.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def tenant(self) -> dict[str, Any]:
        """A snapshot of what the Management API answers now, per table, the cascade applied.

        Keys: users (sorted by user_id, whole), organizations, connections, roles, groups (lists in
        id order, as the API lists them), and per parent: organization_members (org_id -> members with
        `roles`), organization_connections (org_id -> enabled_connections rows), organization_groups
        (org_id -> groups), organization_group_roles ((org_id, group_id) -> roles), group_members and
        group_roles (group_id -> rows). Materialised: meant for small worlds.
        """
        with self._lock:
            return Tenant(self.prelog, self.world).tables()

    def tenant_before_log(self) -> dict[str, Any]:
        """The world before the first event, materialised, shaped as `tenant()` (for small worlds)."""
        generator = EventGenerator(seed=self.config.seed, tenant=self.config.tenant)
        generator.start_from(self.prelog)
        return Tenant(self.prelog, generator.world).tables()

    @property
    def world(self) -> World:
        """What exists in the emulated tenant after the generated events (see `World`)."""
        return self._generator.world

    # -- the event log -------------------------------------------------------------------------

    def _seed_history(self) -> None:
        count = self.config.initial_events
        if not count:
            return
        # History ends a little in the past, so a run started now catches up on all of it.
        end = datetime.now(timezone.utc) - timedelta(seconds=5)
        start = end - timedelta(seconds=self.config.mean_gap_seconds * count)
        step = (end - start) / count
        for index in range(count):
            self._append_generated(start + step * (index + 1))

    def _append_generated(self, moment: datetime, event_type: str | None = None) -> StoredEvent:
        self._appended += 1
        self._last_moment = moment
        stamp = moment
        if self.config.out_of_order_every and self._appended % self.config.out_of_order_every == 0:
            stamp = moment - timedelta(seconds=max(1.0, self.config.mean_gap_seconds) * 3)
        event = self._generator.next_event(time=stamp, event_type=event_type)
        return self.log.append(event, moment.timestamp())

    def append(self, count: int = 1, event_type: str | None = None) -> list[StoredEvent]:
        """Append events happening now: stamped with the current time, each at least a millisecond
        after the one before (times carry milliseconds; two changes of one entity stamped alike
        could not be told apart, by the models or by anyone)."""
        with self._lock:
            return [self._append_generated(self._next_moment(), event_type) for _ in range(count)]

    def _next_moment(self) -> datetime:
        return max(datetime.now(timezone.utc), self._last_moment + timedelta(milliseconds=1))

    def lose(self, event_type: str, count: int = 1) -> list[dict[str, Any]]:
        """Change the tenant as `count` events of `event_type` happening now would, but never
        deliver them: changes the log missed (only a later baseline tells of them). The events."""
        with self._lock:
            lost = []
            for _ in range(count):
                self._last_moment = self._next_moment()
                lost.append(self._generator.next_event(time=self._last_moment, event_type=event_type))
            return lost

    def append_event(self, event: dict[str, Any]) -> StoredEvent:
        """Append a hand-made CloudEvent verbatim (for odd payloads: huge, non-ASCII, ...)."""
        with self._lock:
            return self.log.append(event, time.time())

    def _append_live_forever(self) -> None:
        interval = 1.0 / self.config.live_events_per_second
        while not self._stopping.wait(interval):
            self.append(1)

    def expire_tokens(self) -> None:
        """Every token issued so far, and every static token, stops working (as if expired)."""
        with self._lock:
            self.tokens = {token: (scopes, 0.0) for token, (scopes, _) in self.tokens.items()}
            self.revoked.update(self.config.api_tokens)

    def claim_stream(self) -> bool:
        """Count one more open event stream; False when `max_connections` are already open."""
        with self._lock:
            limit = self.config.max_connections
            if limit is not None and self.open_streams >= limit:
                return False
            self.open_streams += 1
            return True

    def release_stream(self) -> None:
        with self._lock:
            self.open_streams -= 1

    def queue(self, *plans: ConnectionPlan) -> None:
        with self._lock:
            self.plans.extend(plans)

    def next_plan(self) -> ConnectionPlan | None:
        with self._lock:
            return self.plans.popleft() if self.plans else None

    def summary(self) -> list[dict[str, Any]]:
        return [
            {
                "seq": e.seq,
                "offset": e.offset,
                "event_id": e.event_id,
                "event_type": e.event_type,
                "time": e.time,
                "a0purpose": e.purpose,
            }
            for e in self.log.events
        ]

    # -- authorization ---------------------------------------------------------------------------

    def scopes_for(self, authorization: str | None) -> list[str] | None:
        """The scopes of a bearer token, or None when it is missing, unknown or expired."""
        scopes = self._scopes_for(authorization)
        if scopes is not None and self.config.grant_read_scopes:
            return [*scopes, *(scope for scope in READ_SCOPES if scope not in scopes)]
        return scopes

    def _scopes_for(self, authorization: str | None) -> list[str] | None:
        if not authorization or not authorization.startswith("Bearer "):
            return None
        token = authorization[len("Bearer ") :].strip()
        if token in self.config.api_tokens:
            return None if token in self.revoked else self.config.api_tokens[token]
        with self._lock:
            issued = self.tokens.get(token)
        if issued is None or issued[1] <= time.time():
            return None
        return issued[0]

    def issue_token(self, client_id: str, client_secret: str) -> dict[str, Any] | None:
        with self._lock:
            self.token_requests += 1
            if self.config.clients.get(client_id) != client_secret or not client_id:
                return None
            token = "emu_" + secrets.token_urlsafe(24)
            self.tokens[token] = (list(self.config.client_scopes), time.time() + self.config.token_ttl_seconds)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.config.token_ttl_seconds}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: Emulator


class _Closed(Exception):
    """The client went away."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the demo read the tap's log, not the server's."""

    # -- routing ---------------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/api/v2/events":
            self._events()
        elif path.startswith(("/api/v2/", "/exports/")):
            self.server.emulator.management.handle(self, "GET", b"")
        elif path == "/_emulator/events":
            self._json(200, self.server.emulator.summary())
        elif path == "/_emulator/stats":
            emulator = self.server.emulator
            self._json(200, {"events": len(emulator.log), "requests": len(emulator.requests)})
        else:
            self._json(404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        emulator = self.server.emulator
        if path == "/oauth/token":
            self._token(body)
        elif path.startswith("/api/v2/"):
            emulator.management.handle(self, "POST", body)
        elif path == "/_emulator/append":
            params = json.loads(body or b"{}")
            added = emulator.append(int(params.get("count", 1)), params.get("event_type"))
            self._json(200, {"appended": len(added)})
        elif path == "/_emulator/plans":
            plans = [ConnectionPlan(**plan) for plan in json.loads(body or b"[]")]
            emulator.queue(*plans)
            self._json(200, {"queued": len(plans)})
        elif path == "/_emulator/expire-tokens":
            emulator.expire_tokens()
            self._json(200, {})
        else:
            self._json(404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"})

    def _token(self, body: bytes) -> None:
        try:
            params = (
                json.loads(body)
                if body.strip().startswith(b"{")
                else {key: values[0] for key, values in parse_qs(body.decode()).items()}
            )
        except ValueError:
            params = {}
        if params.get("grant_type") != "client_credentials":
            self._json(400, {"error": "unsupported_grant_type", "error_description": "use client_credentials"})
            return
        client_id, client_secret = str(params.get("client_id", "")), str(params.get("client_secret", ""))
        issued = self.server.emulator.issue_token(client_id, client_secret)
        if issued is None:
            self._json(401, {"error": "access_denied", "error_description": "Unauthorized"})
            return
        self._json(200, issued)

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = orjson.dumps(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, error_code: str | None, headers: dict[str, str] | None = None) -> None:
        reason = self.responses.get(status, ("Error",))[0]
        body: dict[str, Any] = {"statusCode": status, "error": reason, "message": message}
        if error_code is not None:
            body["errorCode"] = error_code
        self.close_connection = True
        self._json(status, body, headers)

    # -- the event stream ----------------------------------------------------------------------

    def _events(self) -> None:
        emulator = self.server.emulator
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        last_event_id = self.headers.get("Last-Event-ID")
        from_offset = last_event_id if last_event_id is not None else (query.get("from") or [None])[0]
        from_timestamp = (query.get("from_timestamp") or [None])[0]
        types = query.get("event_type", [])
        emulator.requests.append(
            {
                "event_types": types,
                "from": from_offset,
                "from_timestamp": from_timestamp,
                "last_event_id": last_event_id is not None,
                "at": time.monotonic(),
                "time": time.time(),
            }
        )
        plan = emulator.next_plan()
        if plan is not None and plan.status is not None:
            emulator.requests[-1]["status"] = plan.status
            self._planned_status(plan)
            return
        scopes = emulator.scopes_for(self.headers.get("Authorization"))
        if scopes is None:
            self._error(401, "Invalid token", "invalid_token")
            return
        if "read:events" not in scopes:
            self._error(403, "Insufficient scope, expected any of: read:events", "insufficient_scope")
            return
        config = emulator.config
        unsupported = [
            name
            for name in types
            if (name not in EVENT_TYPES and name not in config.unknown_types) or name in config.unsupported_types
        ]
        if unsupported:
            # Auth0 documents the cause ("unsupported event type"), not the body; this one is shaped
            # like the Management API's other errors and names the type(s).
            message = f"The requested event type is not supported: {', '.join(unsupported)[:200]}"
            self._error(400, message, "invalid_query_string")
            return
        start = self._start_index(from_offset, from_timestamp)
        if start is None:
            return
        if not emulator.claim_stream():
            emulator.requests[-1]["status"] = 403
            # The message is Auth0's (Management API OpenAPI description); its errorCode is not documented.
            self._error(
                403, "Maximum concurrent event stream connections reached. Please close existing connections.", None
            )
            return
        try:
            self._stream(start, frozenset(types), plan)
        finally:
            emulator.release_stream()

    def _planned_status(self, plan: ConnectionPlan) -> None:
        assert plan.status is not None
        headers: dict[str, str] = {}
        if plan.retry_after is not None:
            headers["Retry-After"] = plan.retry_after
        message = f"planned status {plan.status}"
        if plan.status == 429 and plan.rate_limit_reset is not None:
            reset = math.ceil(time.time() + plan.rate_limit_reset)
            headers.update({"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
            self.server.emulator.requests[-1]["rate_limit_reset"] = reset
            message = (
                "Too many requests. Check the X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset headers."
            )
        self._error(plan.status, message, "planned", headers)

    def _stream(self, start: int, types: frozenset[str], plan: ConnectionPlan | None) -> None:
        emulator = self.server.emulator
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if emulator.config.gzip:
            self.send_header("Content-Encoding", "gzip")
        if emulator.config.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        with contextlib.suppress(_Closed, ConnectionError, OSError):
            _Stream(self, start, types, plan).run()

    def _start_index(self, from_offset: str | None, from_timestamp: str | None) -> int | None:
        emulator = self.server.emulator
        if from_offset is not None:
            seq = decode_offset(from_offset)
            if seq is None or seq >= len(emulator.log):
                self._error(400, "Invalid offset", "invalid_offset")
                return None
            if seq < emulator.config.retained_from_seq:
                self._error(410, "The offset has expired", "offset_expired")
                return None
            return seq + 1
        if from_timestamp is not None:
            if len(from_timestamp) > 20 or not _TIMESTAMP.match(from_timestamp):
                self._error(400, "from_timestamp must be YYYY-MM-DDTHH:MM:SSZ", "invalid_query_string")
                return None
            moment = datetime.strptime(from_timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
            return emulator.log.index_at_time(moment.timestamp())
        return len(emulator.log)


class _Stream:
    """One open SSE response: writes frames from the log, applying cycling and a plan."""

    def __init__(self, handler: _Handler, start: int, types: frozenset[str], plan: ConnectionPlan | None) -> None:
        self.handler = handler
        self.emulator = handler.server.emulator
        self.config = self.emulator.config
        self.index = start
        self.types = types
        self.plan = plan
        self.sent = 0
        self.buffer = bytearray()
        self.sock: socket.socket = handler.connection
        self.gzip = zlib.compressobj(wbits=31) if self.config.gzip else None

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self.gzip is not None:
            data = self.gzip.compress(data) + self.gzip.flush(zlib.Z_SYNC_FLUSH)
        if self.config.chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.handler.wfile.write(data)

    def flush(self) -> None:
        if self.buffer:
            self.write(bytes(self.buffer))
            self.buffer.clear()

    def finish(self) -> None:
        self.flush()
        if self.gzip is not None:
            tail = self.gzip.flush()
            self.gzip = None
            self.write(tail)
        if self.config.chunked:
            self.handler.wfile.write(b"0\r\n\r\n")

    def run(self) -> None:
        config, log = self.config, self.emulator.log
        unsupported, error_at = config.unsupported_types, config.error_at
        self.buffer += b":connected\n\nretry: %d\n\n" % config.retry_ms
        self.flush()
        opened = time.monotonic()
        cycle_at = opened + config.cycle_seconds if config.cycle_seconds else None
        last_heartbeat = opened
        while not self.emulator._stopping.is_set():
            batch = log.events[self.index : self.index + 512]
            if not batch:
                if self.send_progress_marker():
                    self.flush()
                with log.changed:
                    if len(log.events) <= self.index:
                        log.changed.wait(timeout=min(config.heartbeat_seconds, 0.25))
                now = time.monotonic()
                if now - last_heartbeat >= config.heartbeat_seconds:
                    self.buffer += b": heartbeat\n\n"
                    self.send_progress_marker(force=True)
                    self.flush()
                    last_heartbeat = now
                if cycle_at is not None and now >= cycle_at:
                    self.cycle()
                    return
                continue
            skipped_last = False
            for stored in batch:
                self.index += 1
                if (self.types and stored.event_type not in self.types) or stored.event_type in unsupported:
                    skipped_last = True
                    continue
                skipped_last = False
                if error_at is not None and stored.seq == error_at[0]:
                    self.stop_with_error(stored, error_at[1])
                    return
                if self.plan is not None and self.plan.action != "none" and self.sent >= self.plan.after_events:
                    if self.apply_plan(stored):
                        return
                    continue
                if stored.seq in config.broken_seqs:
                    self.buffer += _broken(stored.frame)
                    self.sent += 1
                    continue
                self.buffer += stored.frame
                self.sent += 1
                if config.duplicate_every and stored.seq % config.duplicate_every == 0:
                    self.buffer += stored.frame
                if len(self.buffer) >= WRITE_BYTES:
                    self.flush()
                if config.cycle_events and self.sent >= config.cycle_events:
                    self.cycle()
                    return
            if skipped_last:
                self.send_progress_marker()
            self.flush()
            last_heartbeat = time.monotonic()
            if cycle_at is not None and last_heartbeat >= cycle_at:
                self.cycle()
                return

    def send_progress_marker(self, force: bool = False) -> bool:
        """`offset-only` with the newest position this connection has passed (filtered events)."""
        if self.index == 0 or (not force and not self.types):
            return False
        offset = encode_offset(self.index - 1).encode()
        self.buffer += b'event: offset-only\nid: %s\ndata: {"offset":"%s"}\n\n' % (offset, offset)
        return True

    def stop_with_error(self, stored: StoredEvent, code: str) -> None:
        """`event: error` in place of `stored`, as for an event the server cannot send; then close.

        Its offset is the position before the event, so a client resuming from it meets it again."""
        offset = encode_offset(stored.seq - 1) if stored.seq else None
        self.buffer += _error_frame(code, f"Event could not be delivered ({code})", offset)
        self.finish()

    def cycle(self) -> None:
        if self.config.cycle_with_error_event:
            self.buffer += _error_frame("connection_timeout", "Connection timed out, please reconnect")
        self.finish()

    def apply_plan(self, stored: StoredEvent) -> bool:
        """Do the plan's action before `stored`; True when the connection is over."""
        plan = self.plan
        assert plan is not None
        action = plan.action
        self.plan = None
        if action == "close":
            self.finish()
            return True
        if action in ("cut", "reset"):
            self.buffer += stored.frame[: len(stored.frame) // 2]
            self.flush()
            if action == "reset":
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raise _Closed
        if action == "silent":
            self.flush()
            self.emulator._stopping.wait(plan.silent_seconds)
            raise _Closed
        if action.startswith("error:"):
            self.buffer += _error_frame(action.split(":", 1)[1], "planned error")
            self.finish()
            return True
        if action == "broken_json":
            self.buffer += _broken(stored.frame)
            self.sent += 1
            return False
        if action == "expire_tokens":
            self.emulator.expire_tokens()
            self.finish()
            return True
        if action == "duplicate":
            self.buffer += stored.frame + stored.frame
            self.sent += 1
            return False
        raise ValueError(f"unknown plan action {action!r}")


def _broken(frame: bytes) -> bytes:
    """The same frame with JSON no parser accepts (framing intact)."""
    return frame.replace(b'"event":{', b'"event":{{', 1)


def _error_frame(code: str, message: str, offset: str | None = None) -> bytes:
    error = {"code": code, "message": message}
    if offset is not None:
        error["offset"] = offset
    return b"event: error\ndata: %s\n\n" % orjson.dumps({"error": error})
