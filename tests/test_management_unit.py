"""The Management API client's parts (tap_auth0_events/management.py), in process: the pacer with a
fake clock, Date parsing, the gzip NDJSON reader on bytes; the status policy, paging and the users
export against the emulator's Management API (a thread, no process) wherever it can say it (403
insufficient_scope, 404, 400 past 1,000, 401, 429 with its reset, checkpoint and offset paging, the
export job completed, failed or with an expired link); and against a small scripted HTTP server on
127.0.0.1 what the emulator never answers (5xx, a page without its list, a renewed token, a link
that expires once, a request's headers)."""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from conftest import management_config

from tap_auth0_events.auth import StaticToken
from tap_auth0_events.emulator.server import Emulator, EmulatorConfig
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
from tap_auth0_events.exits import exit_code
from tap_auth0_events.management import ManagementApi, Pacer, ndjson_records, parse_date
from tap_auth0_events.settings import parse_settings

TOKEN = "secret-management-token"
DATE = "Mon, 07 Dec 2026 07:00:00 GMT"
DATE_EPOCH = 1796626800  # DATE as Unix seconds
LOG = logging.getLogger("test-management")


# -- a fake clock --------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)


def headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(remaining), "x-ratelimit-reset": str(reset)}


def test_date_header_is_read_as_utc_seconds() -> None:
    assert parse_date(DATE) == "2026-12-07T07:00:00Z"
    assert parse_date("Mon, 07 Dec 2026 08:00:00 +0100") == "2026-12-07T07:00:00Z"
    assert parse_date(None) is None
    assert parse_date("yesterday") is None


def test_pacer_goes_as_fast_as_allowed_without_headers_or_with_a_full_bucket() -> None:
    clock = FakeClock()
    pacer = Pacer(deadline=clock.now + 100, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        pacer.before("organizations")
    pacer.observe("organizations", headers(50, 40, DATE_EPOCH + 10), DATE_EPOCH)
    for _ in range(5):
        pacer.before("organizations")
    assert clock.sleeps == []
    assert pacer.counts()["organizations"].calls == 10


def test_pacer_spends_the_burst_then_runs_at_the_refill_rate() -> None:
    clock = FakeClock()
    pacer = Pacer(deadline=clock.now + 1000, clock=clock, sleep=clock.sleep)
    # 5 of 50 left, the bucket full again in 45 s: 45 tokens come back in 45 s, one a second.
    pacer.observe("organization_connections", headers(50, 5, DATE_EPOCH + 45), DATE_EPOCH)
    waits = [pacer.before("organization_connections") for _ in range(8)]
    assert waits[:5] == [0.0] * 5  # the 5 left go at once
    assert waits[5:] == [pytest.approx(1.0), pytest.approx(2.0), pytest.approx(3.0)]  # then one a second
    counts = pacer.counts()["organization_connections"]
    assert (counts.calls, counts.waits) == (8, 3)
    assert counts.waited_seconds == pytest.approx(6.0)
    # Another family is not slowed by this one.
    assert pacer.before("users") == 0.0


def test_pacer_refills_while_time_passes() -> None:
    clock = FakeClock()
    pacer = Pacer(deadline=clock.now + 1000, clock=clock, sleep=clock.sleep)
    pacer.observe("connections", headers(5, 0, DATE_EPOCH + 10), DATE_EPOCH)  # 5 tokens in 10 s
    clock.now += 4.0  # two tokens are back
    assert [pacer.before("connections") for _ in range(3)] == [0.0, 0.0, pytest.approx(2.0)]


def test_pacer_makes_the_next_call_wait_for_a_token_when_the_bucket_is_empty() -> None:
    clock = FakeClock()
    pacer = Pacer(deadline=clock.now + 1000, clock=clock, sleep=clock.sleep)
    pacer.observe("connections", headers(5, 0, DATE_EPOCH + 10), DATE_EPOCH)
    assert pacer.before("connections") == pytest.approx(2.0)  # 5 tokens in 10 s
    assert clock.sleeps == [pytest.approx(2.0)]
    pacer.rate_limited("connections", 7.0)  # a 429 said 7 s: nothing before
    assert pacer.before("connections") == pytest.approx(7.0)
    assert pacer.counts()["connections"].rate_limited == 1


def test_pacer_refuses_a_wait_past_the_deadline() -> None:
    clock = FakeClock()
    pacer = Pacer(deadline=clock.now + 1, clock=clock, sleep=clock.sleep)
    pacer.observe("connections", headers(5, 0, DATE_EPOCH + 50), DATE_EPOCH)
    with pytest.raises(OutOfTimeError, match=r"connections rate limit.*continues next run"):
        pacer.before("connections")
    assert clock.sleeps == []


def test_pacer_gives_concurrent_callers_distinct_spaced_slots() -> None:
    clock = FakeClock()
    pacer = Pacer(deadline=clock.now + 10_000, clock=clock, sleep=clock.sleep)
    pacer.observe("organization_members", headers(40, 1, DATE_EPOCH + 39), DATE_EPOCH)
    threads = [
        threading.Thread(target=lambda: [pacer.before("organization_members") for _ in range(10)]) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 1 of 40 left, 39 back in 39 s. The clock stands still, so each caller's wait is its slot: the
    # first call goes at once, the other 39 in distinct slots one second apart.
    assert sorted(clock.sleeps) == [pytest.approx(float(n)) for n in range(1, 40)]
    assert pacer.counts()["organization_members"].calls == 40


def test_pacer_believes_an_answer_that_says_tokens_are_back() -> None:
    # A nearly full bucket gives a poor rate ((50 - 49) tokens by a reset one whole second away: 1/s);
    # spending faster than that brings the estimate to nothing. Then the tenant's answers say 45 are
    # left: with the last two calls still in flight, 43 go at once, not one a second.
    clock = FakeClock()
    pacer = Pacer(deadline=clock.now + 10_000, clock=clock, sleep=clock.sleep)
    pacer.observe("organization_connections", headers(50, 49, DATE_EPOCH + 1), DATE_EPOCH)
    waits = [pacer.before("organization_connections") for _ in range(52)]
    assert waits[:49] == [0.0] * 49 and waits[-1] == pytest.approx(3.0)
    for _ in range(50):
        pacer.observe("organization_connections", headers(50, 45, DATE_EPOCH + 1), DATE_EPOCH)
    assert [pacer.before("organization_connections") for _ in range(43)] == [0.0] * 43


def test_the_connection_pool_holds_every_call_the_baseline_has_in_flight() -> None:
    from tap_auth0_events.baseline import WORKERS
    from tap_auth0_events.management import POOL_SIZE

    settings = parse_settings({"api_url": "http://127.0.0.1:9", "domain": "acme.us.auth0.com", "api_token": TOKEN})
    api = ManagementApi(settings, StaticToken(TOKEN), LOG, user_agent="t", deadline=time.monotonic() + 60)
    assert POOL_SIZE >= WORKERS
    assert api._session.get_adapter("http://127.0.0.1:9/api/v2/organizations")._pool_maxsize == POOL_SIZE


def test_pacer_names_an_unknown_family() -> None:
    pacer = Pacer(deadline=time.monotonic() + 10)
    with pytest.raises(ValueError, match="unknown endpoint family 'roles'"):
        pacer.before("roles")


# -- the gzip NDJSON reader ----------------------------------------------------------------------


def users_file(count: int, *, final_newline: bool = True) -> bytes:
    text = "\n".join(json.dumps({"user_id": f"auth0|{n}", "n": n}) for n in range(count))
    return (text + ("\n" if final_newline else "")).encode()


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_ndjson_reader_takes_gzip_split_anywhere_and_a_last_line_without_newline(size: int) -> None:
    data = gzip.compress(users_file(300, final_newline=False))
    users = list(ndjson_records(chunked(data, size)))
    assert [user["n"] for user in users] == list(range(300))


def test_ndjson_reader_takes_plain_ndjson_several_gzip_members_and_blank_lines() -> None:
    assert [u["n"] for u in ndjson_records(chunked(users_file(3) + b"\n\n", 2))] == [0, 1, 2]
    two_members = gzip.compress(users_file(2)) + gzip.compress(b'{"n": 9}\n')
    assert [u["n"] for u in ndjson_records(chunked(two_members, 5))] == [0, 1, 9]
    assert list(ndjson_records([b""])) == []


def test_ndjson_reader_names_a_bad_line_and_a_cut_file() -> None:
    with pytest.raises(ManagementUnavailableError, match="line 2 is not JSON"):
        list(ndjson_records([gzip.compress(b'{"n": 1}\n{"n": \n')]))
    with pytest.raises(ManagementUnavailableError, match="line 1 is not a JSON object"):
        list(ndjson_records([b"[1]\n"]))
    cut = gzip.compress(users_file(50))[:-20]
    with pytest.raises(ManagementUnavailableError, match="ends in the middle"):
        list(ndjson_records(chunked(cut, 64)))


# -- a scripted HTTP server ------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Script:
    """Answers each request with `route(seen)`; every request is recorded in `seen`."""

    route: Callable[[Seen], Reply] = lambda seen: (404, {}, b"{}")
    seen: list[Seen] = field(default_factory=list)
    url: str = ""


def json_reply(status: int, body: Any, **extra: str) -> Reply:
    return status, {"Content-Type": "application/json", **extra}, json.dumps(body).encode()


@pytest.fixture
def script() -> Iterator[Script]:
    state = Script()

    class Handler(BaseHTTPRequestHandler):
        def date_time_string(self, timestamp: float | None = None) -> str:
            return DATE

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            seen = Seen(
                self.command,
                parts.path,
                dict(parse_qsl(parts.query)),
                {k.lower(): v for k, v in self.headers.items()},
                json.loads(raw) if raw else None,
            )
            state.seen.append(seen)
            status, extra, body = state.route(seen)
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


class RenewableToken:
    can_refresh = True

    def __init__(self) -> None:
        self.tokens = [TOKEN + "-2", TOKEN]

    def token(self) -> str:
        return self.tokens[-1]

    def invalidate(self) -> None:
        if len(self.tokens) > 1:
            self.tokens.pop()


def client(script: Script, *, tokens: Any = None, deadline: float = 600.0) -> tuple[ManagementApi, list[float]]:
    settings = parse_settings(
        {"api_url": script.url, "domain": "acme.us.auth0.com", "api_token": TOKEN, "max_backoff_seconds": 1}
    )
    sleeps: list[float] = []
    api = ManagementApi(
        settings,
        tokens if tokens is not None else StaticToken(TOKEN),
        LOG,
        user_agent="tap-auth0-events/test",
        deadline=time.monotonic() + deadline,
        sleep=sleeps.append,
    )
    return api, sleeps


def test_an_answer_carries_auth0s_date_and_the_token_and_user_agent_are_sent(script: Script) -> None:
    script.route = lambda seen: json_reply(200, {"ok": True})
    api, _ = client(script)
    answer = api.get("/organizations", [("take", "1")], family="organizations")
    assert (answer.body, answer.date) == ({"ok": True}, "2026-12-07T07:00:00Z")
    (seen,) = script.seen
    assert (seen.path, seen.query) == ("/api/v2/organizations", {"take": "1"})
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["user-agent"] == "tap-auth0-events/test"


def test_a_401_renews_a_renewable_token_once(script: Script) -> None:
    script.route = lambda seen: (
        json_reply(401, {}) if seen.headers["authorization"] == f"Bearer {TOKEN}" else json_reply(200, {})
    )
    tokens = RenewableToken()
    api, _ = client(script, tokens=tokens)
    api.get("/connections", family="connections")
    assert [s.headers["authorization"] for s in script.seen] == [f"Bearer {TOKEN}", f"Bearer {TOKEN}-2"]
    script.route = lambda seen: json_reply(401, {})
    with pytest.raises(AuthenticationError):
        api.get("/connections", family="connections")


def test_a_429_whose_wait_passes_the_deadline_is_out_of_time(script: Script) -> None:
    script.route = lambda seen: json_reply(429, {}, **headers(50, 0, DATE_EPOCH + 60))
    api, sleeps = client(script, deadline=5.0)
    with pytest.raises(OutOfTimeError, match="continues next run"):
        api.get("/organizations", family="organizations")
    assert sleeps == []


def test_5xx_is_retried_with_backoff_then_named(script: Script) -> None:
    replies = iter([json_reply(503, {}), json_reply(500, {}), json_reply(200, {"id": 1})])
    script.route = lambda seen: next(replies)
    api, sleeps = client(script)
    assert api.get("/roles", family="other").body == {"id": 1}
    assert len(sleeps) == 2 and all(0 <= s <= 1.0 for s in sleeps)
    script.route = lambda seen: json_reply(502, {"message": "Bad Gateway"})
    with pytest.raises(ManagementUnavailableError, match=r"HTTP 502.*times in a row") as caught:
        api.get("/roles", family="other")
    assert exit_code(caught.value) == 9


def test_connection_errors_are_retried_then_named() -> None:
    settings = parse_settings({"api_url": "http://127.0.0.1:9", "domain": "acme.us.auth0.com", "api_token": TOKEN})
    sleeps: list[float] = []
    api = ManagementApi(
        settings, StaticToken(TOKEN), LOG, user_agent="t", deadline=time.monotonic() + 600, sleep=sleeps.append
    )
    with pytest.raises(ManagementUnavailableError, match="could not be reached for /organizations") as caught:
        api.get("/organizations", family="organizations")
    assert len(sleeps) == 6 and TOKEN not in str(caught.value)


# -- paging -------------------------------------------------------------------------------------


def test_a_page_without_its_items_is_named(script: Script) -> None:
    script.route = lambda seen: json_reply(200, {"something": []})
    api, _ = client(script)
    with pytest.raises(ManagementUnavailableError, match="without a list of organizations"):
        list(api.checkpoint_pages("/organizations", "organizations", family="organizations"))


def test_concurrent_yields_results_in_input_order(script: Script) -> None:
    script.route = lambda seen: json_reply(200, {"path": seen.path})
    api, _ = client(script)
    ids = [f"org_{n}" for n in range(30)]
    results = list(api.concurrent(lambda i: api.get(f"/organizations/{i}", family="organizations").body, ids, 4))
    assert [r["path"] for r in results] == [f"/api/v2/organizations/{i}" for i in ids]
    assert api.counts()["organizations"].calls == 30


# -- the users export ----------------------------------------------------------------------------


@dataclass
class ExportServer:
    """A users export: POST starts job_1, GET /jobs/job_1 answers `statuses` in turn (the last one
    repeating), the link /download/N answers each of `downloads` in turn."""

    script: Script
    statuses: list[dict[str, Any]]
    downloads: list[Reply]
    links: int = 0

    def route(self, seen: Seen) -> Reply:
        if seen.method == "POST" and seen.path == "/api/v2/jobs/users-exports":
            return json_reply(201, {"id": "job_1", "status": "pending", "type": "users_export"})
        if seen.path == "/api/v2/jobs/job_1":
            job = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            if job.get("status") == "completed":
                self.links += 1
                job = {**job, "location": f"{self.script.url}/download/{self.links}?X-Amz-Signature=abc"}
            return json_reply(200, {"id": "job_1", **job})
        if seen.path.startswith("/download/"):
            return self.downloads.pop(0) if len(self.downloads) > 1 else self.downloads[0]
        return json_reply(404, {})


def gz_reply(data: bytes) -> Reply:
    return 200, {"Content-Type": "application/octet-stream"}, gzip.compress(data)


def test_the_export_link_is_fetched_without_the_token(script: Script) -> None:
    server = ExportServer(
        script,
        statuses=[{"status": "pending", "time_left_seconds": 3}, {"status": "completed"}],
        downloads=[gz_reply(users_file(120))],
    )
    script.route = server.route
    api, sleeps = client(script)
    export = api.export_users(["user_id", "email", "identities", "app_metadata", "user_metadata"])
    assert (export.job_id, export.created_date) == ("job_1", "2026-12-07T07:00:00Z")
    assert script.seen[0].body == {
        "format": "json",
        "fields": [{"name": n} for n in ["user_id", "email", "identities", "app_metadata", "user_metadata"]],
    }
    users = list(export.users())
    assert [u["n"] for u in users] == list(range(120)) and export.lines_read == 120
    assert sleeps == [3.0]  # polled once more after time_left_seconds
    download = [s for s in script.seen if s.path.startswith("/download/")]
    assert len(download) == 1 and "authorization" not in download[0].headers


def test_export_resumes_with_skip(script: Script) -> None:
    completed = {"status": "completed", "created_at": "2026-12-07T08:30:15.250+01:00"}
    server = ExportServer(script, statuses=[completed], downloads=[gz_reply(users_file(10))])
    script.route = server.route
    api, _ = client(script)
    export = api.export_users([], job_id="job_1")
    assert export.created_date == "2026-12-07T07:30:15Z"  # the job's created_at in UTC, to the second
    assert [u["n"] for u in export.users(skip=7)] == [7, 8, 9]
    assert export.lines_read == 10


def test_an_expired_link_is_renewed_once_and_the_read_continues(script: Script) -> None:
    expired = (403, {"Content-Type": "application/xml"}, b"<Error><Code>AccessDenied</Code></Error>")
    server = ExportServer(script, statuses=[{"status": "completed"}], downloads=[expired, gz_reply(users_file(5))])
    script.route = server.route
    api, _ = client(script)
    assert [u["n"] for u in api.export_users(["user_id"]).users()] == [0, 1, 2, 3, 4]
    assert server.links == 2  # GET /jobs/job_1 gave a fresh link


def test_an_export_that_outlasts_the_run_is_out_of_time(script: Script) -> None:
    server = ExportServer(script, statuses=[{"status": "pending", "time_left_seconds": 20}], downloads=[])
    script.route = server.route
    api, _ = client(script, deadline=10.0)
    export = api.export_users(["user_id"])
    with pytest.raises(OutOfTimeError, match="job_1 is pending"):
        list(export.users())


# -- against the emulator's Management API ----------------------------------------------------------

EMULATOR_TOKEN = "emulator-token"


def tenant(**overrides: Any) -> EmulatorConfig:
    """250 organizations (three checkpoint pages of 100) and 40 users before the log, no event."""
    sizes = {"initial_events": 0, "users_before": 40, "organizations_before": 250, "members_per_organization": 3}
    return management_config(**{**sizes, **overrides})


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    """One emulator for the tests that only read (no event is appended)."""
    with Emulator(tenant()) as running:
        yield running


def emulator_client(emulator: Emulator, token: str = EMULATOR_TOKEN) -> tuple[ManagementApi, list[float]]:
    """A client of the emulator whose waits are recorded and napped short (at most 0.1 s each)."""
    settings = parse_settings(
        {"api_url": emulator.url, "domain": "acme.us.auth0.com", "api_token": token, "max_backoff_seconds": 1}
    )
    sleeps: list[float] = []

    def nap(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(min(seconds, 0.1))

    api = ManagementApi(settings, StaticToken(token), LOG, user_agent="t", deadline=time.monotonic() + 600, sleep=nap)
    return api, sleeps


def test_a_missing_scope_is_named_and_exits_4() -> None:
    with Emulator(tenant(grant_read_scopes=False)) as emulator:
        api, _ = emulator_client(emulator)
        with pytest.raises(MissingScopeError) as caught:
            api.get("/organizations/org_1/members", family="organization_members")
    assert caught.value.scopes == ("read:organization_members",)
    assert "read:organization_members" in str(caught.value) and EMULATOR_TOKEN not in str(caught.value)
    assert isinstance(caught.value, PermissionDeniedError) and exit_code(caught.value) == 4
    assert "\n" not in str(caught.value)


def test_404_400_and_401_are_named_errors_without_the_token(emulator: Emulator) -> None:
    calls_before = sum(emulator.management.calls.values())
    api, _ = emulator_client(emulator)
    with pytest.raises(NotFoundError, match=r"404.*organizations/org_gone/members"):
        api.get("/organizations/org_gone/members", family="organization_members")
    with pytest.raises(BadRequestError, match=r"400 .*for /organizations") as bad:
        api.get("/organizations", [("page", "10"), ("per_page", "100")], family="organizations")
    wrong, _ = emulator_client(emulator, token="not-a-token")
    with pytest.raises(AuthenticationError, match="401") as refused:
        wrong.get("/connections", family="connections")
    assert EMULATOR_TOKEN not in str(bad.value) and "not-a-token" not in str(refused.value)
    assert sum(emulator.management.calls.values()) - calls_before == 3  # a static token is not retried


def test_a_429_waits_for_the_reset_then_retries() -> None:
    auth = {"Authorization": f"Bearer {EMULATOR_TOKEN}"}
    with Emulator(tenant(rate_limit_plan="free", rate_limit_scale=10)) as emulator:
        for _ in range(10):  # the bucket refills as it goes: a token may come back before our call
            while requests.get(f"{emulator.url}/api/v2/roles", headers=auth, timeout=10).status_code != 429:
                pass  # another client spends the bucket
            api, sleeps = emulator_client(emulator)
            api.get("/organizations", family="organizations")
            if api.counts()["organizations"].rate_limited:
                break
    assert sleeps and 0 < sleeps[0] <= 2.0, "waited for x-ratelimit-reset"
    assert api.counts()["organizations"].rate_limited == 1
    assert api.counts()["organizations"].calls == 2


def test_checkpoint_pages_to_the_end_and_resume_from_next(emulator: Emulator) -> None:
    api, _ = emulator_client(emulator)
    pages = list(api.checkpoint_pages("/organizations", "organizations", family="organizations", take=100))
    assert [len(page.items) for page in pages] == [100, 100, 50]
    assert pages[0].next and pages[1].next and pages[2].next is None
    listed = [o["id"] for page in pages for o in page.items]
    assert listed == [o["id"] for o in emulator.tenant()["organizations"]]
    resumed = list(
        api.checkpoint_pages("/organizations", "organizations", family="organizations", start_from=pages[1].next)
    )
    assert [o["id"] for page in resumed for o in page.items] == listed[200:]


def test_offset_pages_stop_at_total(emulator: Emulator) -> None:
    api, _ = emulator_client(emulator)
    roles = emulator.tenant()["roles"]
    pages = list(api.offset_pages("/roles", "roles", family="other", per_page=3))
    assert [page.next for page in pages] == ["1", "2", None] and len(roles) == 8
    assert [r for page in pages for r in page.items] == roles
    later = list(api.offset_pages("/roles", "roles", family="other", per_page=3, start_page=2))
    assert [len(page.items) for page in later] == [2]


def test_export_polls_until_completed_and_streams_the_users(emulator: Emulator) -> None:
    api, sleeps = emulator_client(emulator)
    export = api.export_users(["user_id", "email", "identities", "app_metadata", "user_metadata"])
    assert export.job_id.startswith("job_") and export.created_date.endswith("Z")
    users = list(export.users())
    expected = [
        {key: user[key] for key in ("user_id", "email", "identities", "app_metadata", "user_metadata")}
        for user in emulator.tenant()["users"]
    ]
    assert sorted(users, key=lambda user: user["user_id"]) == expected and export.lines_read == 40
    assert sleeps in ([], [1.0]), "polled again after POLL_MIN while pending"
    assert [u["user_id"] for u in api.export_users([], job_id=export.job_id).users(skip=37)] == [
        u["user_id"] for u in users[37:]
    ], "a resumed export skips the users read"


def test_a_failed_export_is_named_with_its_status_details() -> None:
    with Emulator(tenant(export_fails=True, export_pending_seconds=0.0)) as emulator:
        api, _ = emulator_client(emulator)
        with pytest.raises(ExportFailedError, match=r"job_\w+ failed: Export failed") as caught:
            list(api.export_users(["user_id"]).users())
    assert exit_code(caught.value) == 9


def test_a_link_expired_twice_in_a_row_is_named() -> None:
    with Emulator(tenant(export_link_seconds=-1.0, export_pending_seconds=0.0)) as emulator:
        api, _ = emulator_client(emulator)
        with pytest.raises(ExportLinkExpiredError, match=r"job_\w+.*twice in a row.*HTTP 403") as caught:
            list(api.export_users(["user_id"]).users())
    assert "sig=" not in str(caught.value) and EMULATOR_TOKEN not in str(caught.value)
