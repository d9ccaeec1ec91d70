"""The emulator's tenant options, spoken to over HTTP as a client would: types the tap does not know,
types the tenant does not have, an error no connection gets past, and test events."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import TOKEN, emulator_command, fast_config

from tap_auth0_events.emulator.server import ConnectionPlan, Emulator, decode_offset, encode_offset
from tap_auth0_events.event_types import EVENT_TYPES

FROM_START = {"from_timestamp": "2000-01-01T00:00:00Z"}
UNKNOWN = ("role.created", "role.deleted")
GROUP_TYPES = tuple(t for t in EVENT_TYPES if t.startswith("group."))


@dataclass
class Frame:
    event: str | None
    id: str | None
    data: Any


@dataclass
class Answer:
    status: int
    frames: list[Frame]
    closed: bool  # the server ended the response (rather than the reader stopping)
    body: Any = None

    def events(self) -> list[Frame]:
        return [f for f in self.frames if f.event not in (None, "offset-only", "error")]


def _frames(chunks: Iterator[bytes]) -> Iterator[Frame]:
    """SSE frames as the emulator writes them (LF line ends, one `data:` line); comments dropped."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while b"\n\n" in buffer:
            raw, buffer = buffer.split(b"\n\n", 1)
            fields: dict[str, str] = {}
            for line in raw.decode().split("\n"):
                if line and not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    fields[name] = value
            if "event" in fields or "data" in fields:
                yield Frame(fields.get("event"), fields.get("id"), json.loads(fields.get("data", "null")))


def get(
    emulator_url: str,
    *,
    types: tuple[str, ...] = (),
    params: dict[str, str] | None = None,
    last_event_id: str | None = None,
    until: Callable[[list[Frame]], bool] = lambda frames: False,
) -> Answer:
    """One GET /api/v2/events: read until `until(frames)` holds or the server closes the response."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    query: list[tuple[str, str]] = [*(params or {}).items(), *(("event_type", name) for name in types)]
    deadline = time.monotonic() + 30  # a safety net against a hung test, not a measurement
    with requests.get(f"{emulator_url}/api/v2/events", params=query, headers=headers, stream=True, timeout=10) as rsp:
        if rsp.status_code != 200:
            return Answer(rsp.status_code, [], True, rsp.json())
        frames: list[Frame] = []
        # read1: whatever has arrived (iter_content(None) would wait for the end of a close-delimited body).
        chunks = iter(lambda: rsp.raw.read1(65536), b"")
        for frame in _frames(chunks):
            frames.append(frame)
            if until(frames):
                return Answer(200, frames, False)
            assert time.monotonic() < deadline, "the stream neither ended nor met the condition"
        return Answer(200, frames, True)


def reached(offset: str) -> Callable[[list[Frame]], bool]:
    """Stop once a frame (event or offset-only) carries this offset."""
    return lambda frames: frames[-1].id == offset


# --- offsets --------------------------------------------------------------------------------------------


def test_offsets_are_opaque_tokens_a_client_must_url_encode() -> None:
    # base64 of b"off", the position as 8 bytes, and b"\xfb\xff": '/' and '=' in every token.
    assert encode_offset(0) == "b2ZmAAAAAAAAAAD7/w=="
    assert encode_offset(45104) == "b2ZmAAAAAAAAsDD7/w=="
    positions = [0, 1, 299, 45104, 2**32, 2**64 - 1]
    tokens = [encode_offset(seq) for seq in positions]
    assert len(set(tokens)) == len(tokens)
    assert all("/" in token and token.endswith("=") for token in tokens)
    assert [decode_offset(token) for token in tokens] == positions
    # Anything else is not one of ours: Auth0's own offsets, text, another length, broken base64.
    for other in ("b2Zmc2V0OjAwMDAwMDQ1MTA0", "this is not an offset", encode_offset(1)[:-4], "%%%", ""):
        assert decode_offset(other) is None, other


def test_the_log_gives_each_position_its_offset(with_unknown_types: Emulator) -> None:
    log = with_unknown_types.summary()
    assert [event["offset"] for event in log] == [encode_offset(seq) for seq in range(len(log))]


# --- types the tap does not know ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def with_unknown_types() -> Iterator[Emulator]:
    config = fast_config(initial_events=400, unknown_types=UNKNOWN, unknown_share=0.1, cycle_seconds=None)
    with Emulator(config) as emulator:
        yield emulator


def test_without_filters_every_type_arrives_including_unknown_ones(with_unknown_types: Emulator) -> None:
    log = with_unknown_types.summary()
    assert {e["event_type"] for e in log} - set(EVENT_TYPES) == set(UNKNOWN), "the log holds both unknown types"
    answer = get(with_unknown_types.url, params=FROM_START, until=reached(log[-1]["offset"]))
    events = answer.events()
    assert [f.id for f in events] == [e["offset"] for e in log], "every event, in log order"
    for frame in events:
        assert frame.event == frame.data["event"]["type"] and frame.data["offset"] == frame.id
    strangers = [f.data["event"] for f in events if f.event in UNKNOWN]
    assert strangers and all(set(e) >= {"specversion", "id", "time", "source", "a0tenant", "data"} for e in strangers)
    assert all(e["data"]["object"] for e in strangers), "an arbitrary payload, but a payload"


def test_filters_for_the_known_types_leave_unknown_ones_out(with_unknown_types: Emulator) -> None:
    (last,) = with_unknown_types.append(1, event_type="role.created")
    log = with_unknown_types.summary()
    answer = get(with_unknown_types.url, types=EVENT_TYPES, params=FROM_START, until=reached(last.offset))
    assert [f.id for f in answer.events()] == [e["offset"] for e in log if e["event_type"] in EVENT_TYPES]
    assert answer.frames[-1].event == "offset-only", "the position moves past the unknown event at the end"


def test_a_filter_may_name_an_unknown_type(with_unknown_types: Emulator) -> None:
    log = with_unknown_types.summary()
    answer = get(with_unknown_types.url, types=("role.deleted",), params=FROM_START, until=reached(log[-1]["offset"]))
    expected = [e["offset"] for e in log if e["event_type"] == "role.deleted"]
    assert expected and [f.id for f in answer.events()] == expected


# --- types the tenant does not have --------------------------------------------------------------------


@pytest.fixture(scope="module")
def without_groups() -> Iterator[Emulator]:
    config = fast_config(initial_events=400, unsupported_types=frozenset(GROUP_TYPES), cycle_seconds=None)
    with Emulator(config) as emulator:
        yield emulator


def test_a_filter_naming_an_unsupported_type_answers_400_naming_it(without_groups: Emulator) -> None:
    answer = get(without_groups.url, types=("user.created", "group.created", "group.member.added"), params=FROM_START)
    assert answer.status == 400
    body = answer.body
    assert (body["statusCode"], body["error"], body["errorCode"]) == (400, "Bad Request", "invalid_query_string")
    assert body["message"] == "The requested event type is not supported: group.created, group.member.added"
    made_up = get(without_groups.url, types=("user.exploded",), params=FROM_START)
    assert made_up.status == 400 and "user.exploded" in made_up.body["message"]
    assert [request.get("status") for request in without_groups.requests[-2:]] == [None, None], "no planned fault"


def test_unsupported_types_are_never_sent_even_without_filters(without_groups: Emulator) -> None:
    assert not [e for e in without_groups.summary() if e["event_type"] in GROUP_TYPES], "none is generated"
    # One arrives anyway (by hand): it keeps its place in the log but is never sent.
    (hidden,) = without_groups.append(1, event_type="group.created")
    after = without_groups.append(3, event_type="user.created")
    log = without_groups.summary()
    answer = get(without_groups.url, params=FROM_START, until=reached(log[-1]["offset"]))
    sent = [f.id for f in answer.events()]
    assert hidden.offset not in sent
    assert sent == [e["offset"] for e in log if e["event_type"] not in GROUP_TYPES]
    assert sent[-3:] == [stored.offset for stored in after], "the stream goes on past it"
    supported = tuple(t for t in EVENT_TYPES if t not in GROUP_TYPES)
    filtered = get(without_groups.url, types=supported, params=FROM_START, until=reached(log[-1]["offset"]))
    assert filtered.status == 200 and [f.id for f in filtered.events()] == sent


# --- an error no connection gets past -----------------------------------------------------------------


@pytest.fixture(scope="module")
def stuck_at_50() -> Iterator[Emulator]:
    config = fast_config(initial_events=120, error_at=(50, "payload_too_large"), cycle_seconds=None)
    with Emulator(config) as emulator:
        yield emulator


def test_every_connection_reaching_the_position_gets_the_error_and_is_closed(stuck_at_50: Emulator) -> None:
    log = stuck_at_50.summary()
    first = get(stuck_at_50.url, params=FROM_START)
    assert first.closed
    assert [f.id for f in first.events()] == [e["offset"] for e in log[:50]]
    error = first.frames[-1]
    assert error.event == "error" and error.id is None
    assert error.data == {
        "error": {"code": "payload_too_large", "message": error.data["error"]["message"], "offset": log[49]["offset"]}
    }
    assert "payload_too_large" in error.data["error"]["message"]

    again = get(stuck_at_50.url, last_event_id=log[49]["offset"])  # resuming where the error said
    assert again.closed and again.events() == [] and again.frames[-1].data == error.data, "the same error again"


def test_past_the_position_or_without_its_type_the_stream_goes_on(stuck_at_50: Emulator) -> None:
    log = stuck_at_50.summary()
    past = get(stuck_at_50.url, last_event_id=log[50]["offset"], until=reached(log[-1]["offset"]))
    assert [f.id for f in past.events()] == [e["offset"] for e in log[51:]]
    assert all(f.event != "error" for f in past.frames)

    others = tuple(t for t in EVENT_TYPES if t != log[50]["event_type"])
    filtered = get(stuck_at_50.url, types=others, params=FROM_START, until=reached(log[-1]["offset"]))
    assert all(f.event != "error" for f in filtered.frames), "a filter that leaves the event out never meets it"
    assert [f.id for f in filtered.events()] == [e["offset"] for e in log if e["event_type"] in others]


def test_planned_faults_still_come_first(stuck_at_50: Emulator) -> None:
    log = stuck_at_50.summary()
    stuck_at_50.queue(ConnectionPlan(after_events=10, action="close"))
    closed_early = get(stuck_at_50.url, params=FROM_START)
    assert closed_early.closed and [f.id for f in closed_early.events()] == [e["offset"] for e in log[:10]]
    assert all(f.event != "error" for f in closed_early.frames)


# --- test events ----------------------------------------------------------------------------------------


def test_test_events_are_sent_marked_and_listed() -> None:
    with Emulator(fast_config(initial_events=1500, test_event_share=0.01, cycle_seconds=None)) as emulator:
        log = emulator.summary()
        marked = [e["offset"] for e in log if e["a0purpose"] == "test"]
        assert len(marked) >= 5
        answer = get(emulator.url, params=FROM_START, until=reached(log[-1]["offset"]))
        sent = {f.id: f.data["event"] for f in answer.events()}
        assert [offset for offset, event in sent.items() if event.get("a0purpose") == "test"] == marked
        world = emulator.world
        for offset in marked:
            event = sent[offset]
            assert event["type"] in ("user.created", "user.updated")
            assert event["data"]["object"]["user_id"] not in world.users, "made-up users stay out of the world"
    with Emulator(fast_config(initial_events=1500, test_event_share=0.0)) as quiet:
        assert not [e for e in quiet.summary() if e["a0purpose"] is not None]


# --- the command ---------------------------------------------------------------------------------------


@pytest.mark.integration
def test_the_command_takes_the_tenant_options(tmp_path: Path) -> None:
    arguments = (
        *("--events", "300", "--live-rate", "0"),
        *("--unknown-types", "role.created", "--unknown-share", "0.2"),
        *("--unsupported-types", "group.created,group.deleted", "--error-at", "40:processing_error"),
        *("--test-event-share", "0.05", "--heartbeat-seconds", "0.2"),
        *("--bare-share", "1", "--max-connections", "1", "--token-ttl-seconds", "30"),
    )
    with emulator_command(*arguments, port_file=tmp_path / "port") as (_, url):
        refused = get(url, types=("group.deleted",))
        assert refused.status == 400 and "group.deleted" in refused.body["message"]
        answer = get(url, params=FROM_START)
        assert answer.closed and answer.frames[-1].data["error"]["code"] == "processing_error"
        events = [f.data["event"] for f in answer.events()]
        assert len(events) == 40
        assert "role.created" in {e["type"] for e in events}
        assert not {e["type"] for e in events} & {"group.created", "group.deleted"}
        assert any(e.get("a0purpose") == "test" for e in events)
        assert encode_offset(39) == answer.frames[-1].data["error"]["offset"]
        assert not any("context" in e["data"] or "previous_object" in e["data"] for e in events)
        grant = {"grant_type": "client_credentials", "client_id": "emulator-client", "client_secret": "emulator-secret"}
        assert requests.post(f"{url}/oauth/token", json=grant, timeout=10).json()["expires_in"] == 30
        with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10) as held:
            held.sendall(f"GET /api/v2/events HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
            assert held.recv(12) == b"HTTP/1.1 200"
            limited = get(url, params=FROM_START)
        assert limited.status == 403 and "Maximum concurrent event stream connections" in limited.body["message"]
