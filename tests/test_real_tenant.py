"""A real tenant's rough edges, against the emulator over real HTTP: the two HTTP 403s, the 429's
rate-limit headers, start_date as users write it, and events without context or previous_object.

Auth0 answers 403 both for a token without `read:events` (final: exit 4) and for the plan's limit
on concurrent event-stream connections (passes when the other connection closes: retried, and named
in exit 9's line when it does not pass within max_run_seconds). Here the other connection is a raw
HTTP request the test holds open.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from conftest import TOKEN, fast_config, run_tap, tap_config
from jsonschema import Draft7Validator
from test_fast_path import NO_OP_STREAM_MAP
from test_schemas import FORMAT_CHECKER

from tap_auth0_events.emulator.server import ConnectionPlan, Emulator

pytestmark = pytest.mark.integration

LIMIT_WORDS = (
    "Maximum concurrent event stream connections",
    "another connection to this tenant's Events API is open",
    "1 at a time (Free), 4 (Self-service) or 8 (Enterprise)",
    "auth0 events subscribe",
    "another run of this tap",
    "wait for the last run's connection to be released",
)


@contextmanager
def held_stream(emulator: Emulator) -> Iterator[socket.socket]:
    """An event stream opened by hand (as `auth0 events subscribe` would hold one), closed on exit."""
    host, port = emulator.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    request = (
        f"GET /api/v2/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head[:100]
    assert emulator.open_streams == 1
    try:
        yield sock
    finally:
        sock.close()


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if " ERROR " in line or line.startswith("ERROR")]


def test_connection_limit_that_never_passes_ends_with_one_line_saying_what_to_close(tmp_path: Path) -> None:
    with Emulator(fast_config(max_connections=1, initial_events=50)) as emulator, held_stream(emulator):
        started = time.monotonic()
        result = run_tap(tmp_path, tap_config(emulator, max_run_seconds=4))
        took = time.monotonic() - started
        refused = [request for request in emulator.requests if request.get("status") == 403]
    assert result.returncode == 9, result.stderr[-2000:]
    assert took < 15, "retried no longer than max_run_seconds allows"
    assert len(refused) >= 3, "the limit is retried, not final"
    lines = error_lines(result.stderr)
    assert len(lines) == 1, lines
    for words in LIMIT_WORDS:
        assert words in lines[0], (words, lines[0])
    assert "read:events" not in result.stderr, "not sent to fix a scope that is fine"
    assert "Traceback" not in result.stderr and TOKEN not in result.stderr + result.stdout
    assert result.records == []


def test_connection_limit_that_passes_is_waited_out_and_the_run_completes(tmp_path: Path) -> None:
    with Emulator(fast_config(max_connections=1, initial_events=300)) as emulator:
        with held_stream(emulator) as sock:
            threading.Timer(3.0, sock.close).start()  # the other consumer goes away after 3 s
            result = run_tap(tmp_path, tap_config(emulator, max_run_seconds=30))
        log = emulator.summary()
        refused = [request for request in emulator.requests if request.get("status") == 403]
    assert result.returncode == 0, result.stderr[-2000:]
    assert refused, "the held connection was refused to the tap at first"
    assert sorted(result.event_ids()) == sorted(event["event_id"] for event in log)
    bookmarks = result.final_state["bookmarks"]
    assert {bookmark["offset"] for bookmark in bookmarks.values()} == {log[-1]["offset"]}
    assert "HTTP 403" in result.stderr and "connection limit" in result.stderr


def test_scope_403_is_still_final_with_the_limit_in_place(tmp_path: Path) -> None:
    config = fast_config(max_connections=1, api_tokens={"no-scope-token-31337": ["read:users"]})
    with Emulator(config) as emulator:
        result = run_tap(tmp_path, tap_config(emulator, api_token="no-scope-token-31337"))
        attempts = len(emulator.requests)
    assert result.returncode == 4, result.stderr[-2000:]
    assert "read:events" in result.stderr and "concurrent" not in result.stderr
    assert attempts == 1, "a missing scope is not retried"


def test_429_without_retry_after_waits_until_x_ratelimit_reset(tmp_path: Path, emulator: Emulator) -> None:
    emulator.queue(ConnectionPlan(status=429, rate_limit_reset=2.0))
    result = run_tap(tmp_path, tap_config(emulator))
    assert result.returncode == 0, result.stderr[-2000:]
    limited, retried = emulator.requests[0], emulator.requests[1]
    assert limited["status"] == 429
    # The reset is in whole epoch seconds; the retry comes no earlier (a small allowance for clocks).
    assert retried["time"] >= limited["rate_limit_reset"] - 0.05, (retried["time"], limited["rate_limit_reset"])
    assert retried["time"] - limited["time"] >= 1.0
    assert len(result.records) == len(emulator.summary())
    assert "HTTP 429 rate limited" in result.stderr


def test_start_date_with_an_offset_and_milliseconds_is_sent_as_utc_seconds(tmp_path: Path) -> None:
    with Emulator(fast_config(initial_events=400)) as emulator:
        middle = datetime.fromtimestamp(emulator.log.events[200].arrived, timezone.utc)
        local = middle.astimezone(timezone(timedelta(hours=5, minutes=30)))
        written = local.isoformat(timespec="milliseconds")  # e.g. 2026-12-01T20:49:02.938+05:30
        sent = middle.strftime("%Y-%m-%dT%H:%M:%SZ")  # the same instant in UTC, the fraction dropped
        result = run_tap(tmp_path, tap_config(emulator, start_date=written))
        expected = [
            event.event_id
            for event in emulator.log.events[emulator.log.index_at_time(middle.replace(microsecond=0).timestamp()) :]
        ]
        first_request = emulator.requests[0]
    assert result.returncode == 0, result.stderr[-2000:]
    assert first_request["from_timestamp"] == sent and len(sent) == 20
    assert result.event_ids() == expected
    assert 150 < len(expected) < 250


@pytest.mark.parametrize("path", ["fast", "sdk"])
def test_events_with_milliseconds_and_neither_context_nor_previous_object(tmp_path: Path, path: str) -> None:
    """As in Auth0's own SDK tests: `time` with milliseconds, no `context`, no `previous_object`."""
    with Emulator(fast_config(initial_events=300, bare_share=1.0)) as emulator:
        sent = {}
        for stored in emulator.log.events:
            event = orjson.loads(stored.frame.split(b"\ndata: ", 1)[1])["event"]
            sent[event["id"]] = event
        overrides = {"stream_maps": NO_OP_STREAM_MAP} if path == "sdk" else {}
        result = run_tap(tmp_path, tap_config(emulator, **overrides))
    assert result.returncode == 0, result.stderr[-2000:]
    assert ("(fast path)" if path == "fast" else "(stream-maps path)") in result.stderr
    assert all("context" not in event["data"] and "previous_object" not in event["data"] for event in sent.values())
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", event["time"]) for event in sent.values())
    assert sum(1 for event in sent.values() if event["type"].endswith(".updated")) > 10
    schemas = {m["stream"]: m["schema"] for m in result.messages if m["type"] == "SCHEMA"}
    assert sorted(result.event_ids()) == sorted(sent)
    for message in result.records:
        record, event = message["record"], sent[message["record"]["event_id"]]
        Draft7Validator(schemas[message["stream"]], format_checker=FORMAT_CHECKER).validate(record)
        assert record["event_time"] == event["time"], "milliseconds kept as sent"
        assert record["event_type"] == event["type"]
        assert record["object"] == event["data"]["object"]
        assert record.get("context") is None and record.get("previous_object") is None
        assert "extensions" not in record
