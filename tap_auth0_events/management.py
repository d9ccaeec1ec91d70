"""A Management API v2 client for the baseline: paged GETs, the users export job, and a pacer.

Separate from the SSE connection (`connection.py`) and owning its own retries: one status policy
(`ManagementApi._request`), one pacer per endpoint family (§9.3 of the API reference) fed by every
answer's `x-ratelimit-*` headers, paging as generators (`checkpoint_pages`, `offset_pages`) and the
users export read as a stream (gzip over the HTTP body, NDJSON line by line into orjson). It knows
nothing of Singer; nothing here is wired into the sync yet.

Messages never hold a token, a secret or an export link (a pre-signed URL is a credential).
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading
import time
import urllib.parse
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

import orjson
import requests
import requests.adapters
import requests.auth
import urllib3

from tap_auth0_events.errors import (
    AuthenticationError,
    BadRequestError,
    ExportFailedError,
    ExportLinkExpiredError,
    ManagementUnavailableError,
    MissingScopeError,
    NotFoundError,
    OutOfTimeError,
    PermissionDeniedError,
)
from tap_auth0_events.settings import START_DATE_FORMAT, Settings
from tap_auth0_events.vocabulary import TokenProvider

FAMILIES = (
    "users",
    "organizations",
    "organization_members",
    "organization_member_roles",
    "organization_connections",
    "connections",
    "other",
)
CONNECT_TIMEOUT = 10.0
MAX_FAILURES = 6  # 5xx or connection errors in a row on one call before ManagementUnavailableError
MAX_RATE_LIMITED = 30  # 429s in a row on one call (each waited out) before ManagementUnavailableError
MAX_RATE_LIMIT_WAIT = 120.0  # the longest a 429 makes the client wait
POLL_MIN, POLL_MAX = 1.0, 30.0  # seconds between two GET /jobs/{id} while an export runs
READ_CHUNK = 64 * 1024
# Connections kept open to the tenant: at least the baseline's calls in flight at once (its WORKERS),
# or urllib3 discards one after each call ("Connection pool is full") and the next opens a new one.
POOL_SIZE = 32

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Answer:
    """A 2xx answer: its JSON body, its `Date` (Auth0's clock) as YYYY-MM-DDTHH:MM:SSZ, its headers."""

    body: Any
    date: str
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Page:
    """One page: its items, the answer's date, and where the next page starts (None: the last)."""

    items: list[dict[str, Any]]
    date: str
    next: str | None


@dataclass(slots=True)
class FamilyCounts:
    """What one endpoint family has cost: calls made, 429s met, pacer waits and their seconds."""

    calls: int = 0
    rate_limited: int = 0
    waits: int = 0
    waited_seconds: float = 0.0


@dataclass(slots=True)
class _Bucket:
    limit: int | None = None
    tokens: float | None = None  # calls the bucket holds at `at`, as the pacer estimates it
    at: float = 0.0  # clock() of `tokens`
    rate: float | None = None  # tokens won back per second, estimated from the headers
    not_before: float = 0.0  # clock() before which no call starts (after a 429)
    in_flight: int = 0  # calls given a slot whose answer has not been observed yet
    counts: FamilyCounts = field(default_factory=FamilyCounts)

    def refilled(self, when: float) -> float | None:
        if self.tokens is None:
            return None
        gained = self.rate * max(0.0, when - self.at) if self.rate else 0.0
        full = float(self.limit) if self.limit is not None else float("inf")
        return min(full, self.tokens + gained)


class Pacer:
    """Spaces calls per endpoint family like the tenant's token bucket, fed by every answer's
    x-ratelimit-limit/-remaining/-reset.

    Auth0's limits are token buckets (burst `limit`, then a refill rate). The pacer keeps an estimate
    of the bucket: the answer's `remaining` less the calls still in flight (they have spent tokens the
    answer does not show), refilled at the rate the headers imply ((limit - remaining) tokens come
    back by the reset). The answer's `remaining` replaces the estimate, higher or lower: a rate
    underestimated from a nearly full bucket (a reset a second or two away, in whole seconds) must
    not hold the pacer below the limit once the tenant says tokens are there. A call takes a token;
    with none left it waits until one is back. So a baseline spends the burst at once, then runs at
    the refill rate: close to the limit, with few 429s. Without headers there is no estimate and no
    wait: the 429 is the backstop.
    Thread-safe: each caller reserves its slot under the lock, then sleeps outside it.
    """

    def __init__(
        self,
        *,
        deadline: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._deadline = deadline
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._buckets = {family: _Bucket() for family in FAMILIES}

    def _bucket(self, family: str) -> _Bucket:
        try:
            return self._buckets[family]
        except KeyError:
            raise ValueError(f"unknown endpoint family {family!r} (one of {', '.join(FAMILIES)})") from None

    def before(self, family: str) -> float:
        """Wait for this family's next slot and count the call; returns the seconds waited."""
        with self._lock:
            bucket = self._bucket(family)
            now = self._clock()
            start = max(now, bucket.not_before, bucket.at if bucket.tokens is not None else now)
            tokens = bucket.refilled(start)
            if tokens is not None and tokens < 1.0 and bucket.rate:  # with no rate known, go on: the 429 tells
                start += (1.0 - tokens) / bucket.rate
                tokens = 1.0
            wait = start - now
            if wait > 0 and start > self._deadline:
                raise OutOfTimeError(
                    f"the Management API's {family} rate limit calls for a {wait:.1f}s wait, past the run's end: "
                    "the baseline continues next run"
                )
            if tokens is not None:
                bucket.tokens, bucket.at = max(0.0, tokens - 1.0), start
            bucket.in_flight += 1
            bucket.counts.calls += 1
            if wait > 0:
                bucket.counts.waits += 1
                bucket.counts.waited_seconds += wait
        if wait > 0:
            self._sleep(wait)
        return wait

    def observe(self, family: str, headers: Mapping[str, str], server_now: float | None) -> None:
        """Feed the pacer an answer's headers; `server_now` is the answer's Date (epoch seconds)."""
        limit = _whole(headers.get("x-ratelimit-limit"))
        remaining = _whole(headers.get("x-ratelimit-remaining"))
        reset = _whole(headers.get("x-ratelimit-reset"))
        with self._lock:
            bucket = self._bucket(family)
            bucket.in_flight = max(0, bucket.in_flight - 1)
            now = self._clock()
            if limit is not None:
                bucket.limit = limit
            if remaining is None:
                return
            if reset is not None and bucket.limit is not None and bucket.limit > remaining:
                wall = server_now if server_now is not None else time.time()
                to_reset = min(max(0.0, reset - wall), MAX_RATE_LIMIT_WAIT)
                if to_reset > 0:
                    bucket.rate = (bucket.limit - remaining) / to_reset
            # Slots already given out (callers still waiting for theirs) are among the calls in flight:
            # below zero, the next caller's slot comes after theirs.
            bucket.tokens, bucket.at = float(remaining - bucket.in_flight), now

    def rate_limited(self, family: str, wait: float) -> None:
        """A 429: no call of this family before `wait` seconds from now (the caller waits it out)."""
        with self._lock:
            bucket = self._bucket(family)
            bucket.counts.rate_limited += 1
            now = self._clock()
            bucket.not_before = max(bucket.not_before, now + wait)
            bucket.tokens, bucket.at = 0.0, max(bucket.at, now)

    def counts(self) -> dict[str, FamilyCounts]:
        """A copy of each family's counts, for the run's summary and the benchmark."""
        with self._lock:
            return {
                family: FamilyCounts(b.counts.calls, b.counts.rate_limited, b.counts.waits, b.counts.waited_seconds)
                for family, b in self._buckets.items()
            }


class ManagementApi:
    """GET and POST against `{base_url}/api/v2` with the events' token, one status policy, a pacer."""

    def __init__(
        self,
        settings: Settings,
        tokens: TokenProvider,
        logger: logging.Logger,
        *,
        user_agent: str,
        deadline: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self._root = f"{settings.base_url}/api/v2"
        self._tokens = tokens
        self._log = logger
        self._deadline = deadline
        self._clock = clock
        self._sleep = sleep
        self._session = session if session is not None else requests.Session()
        self._session.headers["User-Agent"] = user_agent
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=POOL_SIZE)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._timeouts = (CONNECT_TIMEOUT, float(settings.read_timeout_seconds))
        self._max_backoff = float(settings.max_backoff_seconds)
        self.pacer = Pacer(deadline=deadline, clock=clock, sleep=sleep)
        self._token_lock = threading.Lock()
        self._local_date_logged = False
        self.last_date = ""  # the Date of the latest answer (Auth0's clock), YYYY-MM-DDTHH:MM:SSZ

    def close(self) -> None:
        self._session.close()

    def counts(self) -> dict[str, FamilyCounts]:
        return self.pacer.counts()

    # -- requests -------------------------------------------------------------------------------

    def get(self, path: str, params: Iterable[tuple[str, str]] = (), *, family: str) -> Answer:
        """GET `path` (under /api/v2): a 2xx answer, or one of the errors of the status policy."""
        return self._request("GET", path, list(params), family=family)

    def post(self, path: str, body: Mapping[str, Any], *, family: str = "other") -> Answer:
        return self._request("POST", path, [], family=family, json=dict(body))

    def _request(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]],
        *,
        family: str,
        json: dict[str, Any] | None = None,
    ) -> Answer:
        """The status policy, in one place: 2xx answers; 401 renews the token once; 403/404/400 raise;
        429 waits for the reset; 5xx and connection errors are retried with backoff, a bounded number
        of times; no wait passes the deadline."""
        url = self._root + path
        renewed = False
        failures = 0
        rate_limited = 0
        while True:
            self.pacer.before(family)
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers={"Authorization": f"Bearer {self._tokens.token()}", "Accept": "application/json"},
                    timeout=self._timeouts,
                )
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                self.pacer.observe(family, {}, None)  # no answer: no longer in flight
                failures += 1
                why = f"{type(exc).__name__}"
                if failures > MAX_FAILURES:
                    raise ManagementUnavailableError(
                        f"the Management API could not be reached for {path} ({why}) after {MAX_FAILURES} retries"
                    ) from None
                self._backoff(failures, f"{method} {path}: {why}")
                continue
            server_now = _date_epoch(response.headers.get("Date"))
            self.pacer.observe(family, response.headers, server_now)
            date = self.last_date = self._date(server_now)
            status = response.status_code
            if 200 <= status < 300:
                try:
                    body = response.json() if response.content else None
                except ValueError:
                    failures += 1
                    if failures > MAX_FAILURES:
                        raise ManagementUnavailableError(
                            f"the Management API answered {path} with a body that is not JSON, {failures} times"
                        ) from None
                    self._backoff(failures, f"{method} {path}: a body that is not JSON")
                    continue
                return Answer(body, date, response.headers)
            detail = _error_detail(response)
            if status == 401:
                if not renewed and self._tokens.can_refresh:
                    renewed = True
                    self._log.info("HTTP 401 from the Management API: fetching a new token")
                    with self._token_lock:
                        self._tokens.invalidate()
                    continue
                raise AuthenticationError(
                    f"HTTP 401 from the Management API for {path}{detail}: the token is missing, invalid or "
                    "expired (check api_token, or client_id/client_secret)"
                )
            if status == 403:
                raise _forbidden(path, response, detail)
            if status == 404:
                raise NotFoundError(f"HTTP 404 from the Management API for {path}{detail}")
            if status == 429:
                rate_limited += 1
                wait = _rate_limit_wait(response.headers, server_now)
                self.pacer.rate_limited(family, wait)
                if rate_limited > MAX_RATE_LIMITED:
                    raise ManagementUnavailableError(
                        f"the Management API rate-limited {path} {rate_limited} times in a row (HTTP 429)"
                    )
                self._log.warning("HTTP 429 from the Management API for %s; retrying in %.1fs", path, wait)
                continue  # the pacer's next slot is after the wait; it checks the deadline
            if status >= 500:
                failures += 1
                if failures > MAX_FAILURES:
                    raise ManagementUnavailableError(
                        f"HTTP {status} from the Management API for {path}{detail}, {failures} times in a row"
                    )
                self._backoff(failures, f"{method} {path}: HTTP {status}")
                continue
            raise BadRequestError(f"HTTP {status} from the Management API for {path}{detail}")

    def _backoff(self, failures: int, why: str) -> None:
        """Capped exponential backoff with full jitter (0.5 s base), never past the deadline."""
        delay = random.uniform(0.0, min(self._max_backoff, 0.5 * 2 ** (failures - 1)))
        self.wait(delay, why)

    def wait(self, seconds: float, why: str) -> None:
        """Sleep `seconds`, or raise OutOfTimeError when that would pass the deadline."""
        if self._clock() + seconds > self._deadline:
            raise OutOfTimeError(
                f"{why}: a {seconds:.1f}s wait would pass the run's end; the baseline continues next run"
            )
        self._log.debug("%s; retrying in %.2fs", why, seconds)
        if seconds > 0:
            self._sleep(seconds)

    def _date(self, server_now: float | None) -> str:
        if server_now is None:
            if not self._local_date_logged:
                self._local_date_logged = True
                self._log.warning("the Management API answered without a Date header: using the local clock")
            server_now = time.time()
        return _utc_seconds(server_now)

    # -- paging ---------------------------------------------------------------------------------

    def checkpoint_pages(
        self,
        path: str,
        items_key: str,
        *,
        family: str,
        params: Iterable[tuple[str, str]] = (),
        take: int = 100,
        start_from: str | None = None,
    ) -> Iterator[Page]:
        """Checkpoint paging (`from`/`take`): `from` left out first (or `start_from`, a saved `next`),
        then the previous page's `next`, until an answer has none."""
        fixed = [*params, ("take", str(take))]
        cursor = start_from
        while True:
            query = fixed if cursor is None else [*fixed, ("from", cursor)]
            answer = self.get(path, query, family=family)
            items = _items(answer.body, items_key, path)
            following = answer.body.get("next") if isinstance(answer.body, dict) else None
            following = str(following) if following not in (None, "") else None
            yield Page(items, answer.date, following)
            if following is None:
                return
            if following == cursor:
                raise ManagementUnavailableError(f"the Management API answered {path} with the same `next` twice")
            cursor = following

    def offset_pages(
        self,
        path: str,
        items_key: str,
        *,
        family: str,
        params: Iterable[tuple[str, str]] = (),
        per_page: int = 100,
        start_page: int = 0,
    ) -> Iterator[Page]:
        """Offset paging (`page`/`per_page`, `include_totals`), for the endpoints without checkpoints;
        `Page.next` is the next page number as a string, None after the page that reaches `total`."""
        fixed = [*params, ("per_page", str(per_page)), ("include_totals", "true")]
        page = start_page
        while True:
            answer = self.get(path, [*fixed, ("page", str(page))], family=family)
            items = _items(answer.body, items_key, path)
            total = _whole(str(answer.body.get("total"))) if isinstance(answer.body, dict) else None
            done = not items or len(items) < per_page or (total is not None and (page + 1) * per_page >= total)
            yield Page(items, answer.date, None if done else str(page + 1))
            if done:
                return
            page += 1

    def concurrent(self, fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
        """`fn` over `items` on `workers` threads, results yielded in input order; at most 2 x workers
        calls run ahead of the consumer. An error stops the rest (those queued are cancelled)."""
        if workers <= 1:
            for item in items:
                yield fn(item)
            return
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="management")
        pending: deque[Future[R]] = deque()
        try:
            source = iter(items)
            for item in source:
                pending.append(pool.submit(fn, item))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)

    # -- the users export -----------------------------------------------------------------------

    def export_users(
        self, fields: Sequence[str], *, job_id: str | None = None, connection_id: str | None = None
    ) -> UsersExport:
        """Start a JSON users export of `fields` (or take up the job `job_id` of an earlier run)."""
        if job_id is not None:
            answer = self.get(f"/jobs/{path_segment(job_id)}", family="other")
            created = _iso_seconds(answer.body.get("created_at")) if isinstance(answer.body, dict) else None
            return UsersExport(self, job_id, created or answer.date)
        body: dict[str, Any] = {"format": "json", "fields": [{"name": name} for name in fields]}
        if connection_id is not None:
            body["connection_id"] = connection_id
        answer = self.post("/jobs/users-exports", body)
        new_id = answer.body.get("id") if isinstance(answer.body, dict) else None
        if not isinstance(new_id, str) or not new_id:
            raise ManagementUnavailableError("POST /jobs/users-exports answered without a job id")
        return UsersExport(self, new_id, answer.date)

    def _download(self, url: str) -> requests.Response:
        """GET a pre-signed link WITHOUT the Authorization header (nor netrc's), as a stream."""
        return self._session.get(url, stream=True, timeout=self._timeouts, auth=_NoAuthorization())


def json_object(line: bytes) -> dict[str, Any]:
    """A line of the users export as a dict; orjson.JSONDecodeError when it is not JSON, ValueError
    when it is not an object."""
    value = orjson.loads(line)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


class UsersExport:
    """One users export job: `created_date` is the Date of the POST's answer (Auth0's clock)."""

    def __init__(self, api: ManagementApi, job_id: str, created_date: str) -> None:
        self.job_id = job_id
        self.created_date = created_date
        self._api = api
        self.lines_read = 0  # users yielded so far, counting the skipped ones: where a resume starts

    def location(self) -> str:
        """Poll GET /jobs/{id} (paced, bounded by the deadline) until `completed`; its fresh link."""
        path = f"/jobs/{path_segment(self.job_id)}"
        while True:
            job = self._api.get(path, family="other").body
            if not isinstance(job, dict):
                raise ManagementUnavailableError(f"GET {path} answered without a job object")
            status = job.get("status")
            if status == "completed":
                location = job.get("location")
                if not isinstance(location, str) or not location.startswith(("https://", "http://")):
                    raise ManagementUnavailableError(f"the users export {self.job_id} completed without a location")
                return location
            if status == "failed":
                details = str(job.get("status_details") or "no status_details")[:300]
                raise ExportFailedError(f"the users export {self.job_id} failed: {details}")
            left = job.get("time_left_seconds")
            pause = float(left) if isinstance(left, (int, float)) and left > 0 else POLL_MIN
            self._api.wait(min(max(pause, POLL_MIN), POLL_MAX), f"users export {self.job_id} is {status}")

    def users(self, skip: int = 0, parse: Callable[[bytes], T] = json_object) -> Iterator[T]:  # type: ignore[assignment]
        """Each user of the export (each line through `parse`), from line `skip` on; an expired link
        (403/400) or a broken download is renewed from GET /jobs/{id} and resumed at the line reached.
        Twice in a row without a line read in between: ExportLinkExpiredError."""
        self.lines_read = skip
        fruitless = 0
        while True:
            reached = self.lines_read
            response = None
            try:
                response = self._api._download(self.location())
                if response.status_code != 200:  # 403/400: the 60 s link has expired; others: retried alike
                    why = f"HTTP {response.status_code}"
                else:
                    seen = 0
                    for user in ndjson_records(response.raw.stream(READ_CHUNK, decode_content=False), parse):
                        if seen >= self.lines_read:
                            self.lines_read += 1
                            yield user
                        seen += 1
                    if seen < skip:
                        raise ManagementUnavailableError(
                            f"the users export {self.job_id} has {seen} users, fewer than the {skip} already read"
                        )
                    return
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                why = type(exc).__name__
            finally:
                if response is not None:
                    response.close()
            fruitless = fruitless + 1 if self.lines_read == reached else 1
            if fruitless >= 2:
                raise ExportLinkExpiredError(
                    f"the users export {self.job_id}'s download link failed twice in a row ({why}) "
                    f"without progress, at user {self.lines_read}"
                )
            self._api._log.info("users export download failed (%s) at user %d: renewing the link", why, self.lines_read)


def ndjson_records(chunks: Iterable[bytes], parse: Callable[[bytes], T] = json_object) -> Iterator[T]:  # type: ignore[assignment]
    """The JSON objects of a gzip-compressed (or plain) NDJSON body, one a line, each through `parse`
    (which raises ValueError for a line that is not a JSON object), memory flat: chunks may split
    lines and gzip members anywhere; a last line without a newline counts; blank lines do not."""
    inflate: Any = None
    plain = False
    tail = b""
    line_number = 0

    def lines(data: bytes) -> Iterator[bytes]:
        nonlocal tail
        data = tail + data
        *complete, tail = data.split(b"\n")
        yield from complete

    def decoded(pieces: Iterable[bytes]) -> Iterator[T]:
        """Each line through `parse`; blank lines count for the line numbers, and yield nothing."""
        nonlocal line_number
        for line in pieces:
            line_number += 1
            if line.strip():
                yield decode(line)

    def decode(line: bytes) -> T:
        try:
            return parse(line)
        except orjson.JSONDecodeError:
            raise ManagementUnavailableError(f"the users export's line {line_number} is not JSON") from None
        except ValueError:
            raise ManagementUnavailableError(f"the users export's line {line_number} is not a JSON object") from None

    head = b""
    for chunk in chunks:
        if not chunk:
            continue
        if inflate is None and not plain:
            head += chunk
            if len(head) < 2:
                continue
            chunk, head = head, b""
            if chunk[:2] == b"\x1f\x8b":
                inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            else:
                plain = True
        if plain:
            data = chunk
        else:
            data = b""
            try:
                while chunk:
                    data += inflate.decompress(chunk)
                    chunk = inflate.unused_data  # a next gzip member
                    if chunk:
                        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            except zlib.error:
                raise ManagementUnavailableError("the users export's file is not valid gzip") from None
        yield from decoded(lines(data))
    if head:  # a one-byte body
        yield from decoded(lines(head))
    if inflate is not None:
        yield from decoded(lines(inflate.flush()))
        if not inflate.eof:
            raise ManagementUnavailableError("the users export's file ends in the middle of its gzip stream")
    if tail:
        last, tail = tail, b""
        yield from decoded([last])


class _NoAuthorization(requests.auth.AuthBase):
    """No Authorization header at all: a pre-signed link must never see the tenant's token."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request


def _forbidden(path: str, response: requests.Response, detail: str) -> PermissionDeniedError:
    body = _json(response)
    message = str(body.get("message", "")) if isinstance(body, dict) else ""
    if isinstance(body, dict) and body.get("errorCode") == "insufficient_scope":
        scopes = tuple(re.findall(r"[a-z_]+:[a-z_]+", message.split(":", 1)[1] if ":" in message else ""))
        named = ", ".join(scopes) or "a scope it did not name"
        return MissingScopeError(
            f"HTTP 403 from the Management API for {path}: the token lacks the scope {named} "
            "(grant it to the application under APIs > Auth0 Management API > Machine to Machine)",
            scopes,
        )
    return PermissionDeniedError(f"HTTP 403 from the Management API for {path}{detail}")


def _items(body: Any, key: str, path: str) -> list[dict[str, Any]]:
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ManagementUnavailableError(f"the Management API answered {path} without a list of {key}")
    return items


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_detail(response: requests.Response) -> str:
    """A short, safe summary of an error body: its errorCode and message, never headers."""
    body = _json(response)
    if not isinstance(body, dict):
        return ""
    parts = [str(body[key])[:160] for key in ("errorCode", "message") if isinstance(body.get(key), str)]
    return f" ({': '.join(parts)})" if parts else ""


def _whole(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 16 else None


def _date_epoch(header: str | None) -> float | None:
    """An HTTP Date header (RFC 9110 IMF-fixdate, or the obsolete forms email.utils reads) as epoch seconds."""
    if not header:
        return None
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def parse_date(header: str | None) -> str | None:
    """An HTTP Date header as YYYY-MM-DDTHH:MM:SSZ (UTC), None when absent or unreadable."""
    epoch = _date_epoch(header)
    return None if epoch is None else _utc_seconds(epoch)


def _iso_seconds(value: Any) -> str | None:
    """An ISO 8601 timestamp (a job's created_at) as YYYY-MM-DDTHH:MM:SSZ."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return _utc_seconds(when.timestamp())


def _utc_seconds(epoch: float) -> str:
    """Epoch seconds as YYYY-MM-DDTHH:MM:SSZ (UTC, a fraction dropped): how the baseline writes Auth0's clock."""
    return datetime.fromtimestamp(int(epoch), timezone.utc).strftime(START_DATE_FORMAT)


def _rate_limit_wait(headers: Mapping[str, str], server_now: float | None) -> float:
    """Seconds to wait after a 429: Retry-After if present, else until x-ratelimit-reset (epoch seconds,
    against the answer's Date when it has one); at most MAX_RATE_LIMIT_WAIT; 1 s when neither is readable."""
    retry_after = _whole(headers.get("Retry-After"))
    if retry_after is not None:
        return min(float(retry_after), MAX_RATE_LIMIT_WAIT)
    reset = _whole(headers.get("x-ratelimit-reset"))
    if reset is None:
        return 1.0
    now = server_now if server_now is not None else time.time()
    return min(max(0.05, reset - now), MAX_RATE_LIMIT_WAIT)


def path_segment(value: str) -> str:
    """An id as one URL path segment (an id with a slash must not reach another endpoint)."""
    return urllib.parse.quote(value, safe="")
