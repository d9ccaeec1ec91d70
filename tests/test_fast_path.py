"""The fast path writes what the SDK path writes.

With no stream map, flattening or field deselection the tap skips the SDK's per-record pipeline
(`FastOutput`; on it, `RawCodec` makes each record's JSON without building Python objects for the
payload, and `SSEDecoder` takes messages of the usual layout whole). These tests hold each shortcut
to the general code it stands in for: end to end (the same emulator input through both output
paths), the codecs message by message, and the SSE decoder chunk by chunk.
"""

from __future__ import annotations

import json
import logging
import os
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
import requests
from conftest import TOKEN, fast_config, run_tap, tap_config
from engine_fakes import FakeFeed, event_message

from tap_auth0_events.auth import StaticToken
from tap_auth0_events.connection import EventFeed, Signal, StartPosition
from tap_auth0_events.emulator.generator import EventGenerator
from tap_auth0_events.emulator.server import Emulator, encode_offset
from tap_auth0_events.event_types import EVENT_TYPES
from tap_auth0_events.output import FastOutput
from tap_auth0_events.records import DictCodec, MalformedEventError, RawCodec
from tap_auth0_events.run import LIVE_EDGE_RECORDS, QUIET, Emit, Pass, RunLimits, RunStats
from tap_auth0_events.sse import SSEDecoder

# A stream map that changes nothing but, being a stream map, sends every record through the SDK.
NO_OP_STREAM_MAP = {"user_created": {}}


def _records_and_states(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    records = [
        {key: value for key, value in m.items() if key != "time_extracted"} for m in messages if m["type"] == "RECORD"
    ]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return records, states


def _odd_events() -> list[dict[str, Any]]:
    """Events the fast codec hands to the general one: unknown keys, odd types, escapes, numbers."""
    base = {"specversion": "1.0", "source": "urn:auth0:acme-demo.us.auth0.com", "time": "2026-01-01T00:00:00.000Z"}
    return [
        {**base, "id": "evt_odd_1", "type": "user.created", "future_envelope_key": {"x": [1, 2.5, None]},
         "data": {"object": {"user_id": "auth0|1", "name": "Zoë 山田 😀", "logins_count": 1e2}}},
        {**base, "id": "evt_odd_2", "type": "user.updated",
         "data": {"object": {"user_id": "auth0|2"}, "future_payload_key": True}},
        {**base, "id": "evt_odd_3", "type": "user.deleted", "data": None},
        {**base, "id": "evt_odd_4", "type": "group.created", "data": "not an object"},
        {**base, "id": "evt_odd_5", "type": "group.deleted", "a0purpose": None,
         "data": {"object": {"note": 'quote " backslash \\ newline \n tab \t nul \u0000 line-sep \u2028'}}},
        {**base, "id": "evt_odd_6", "type": "organization.created", "data": {}},
    ]  # fmt: skip


@pytest.mark.integration
def test_fast_and_sdk_paths_write_the_same_records_and_states(tmp_path: Path) -> None:
    # Several connections (the server cycles every 97 events), and events of unusual shapes.
    with Emulator(fast_config(cycle_events=97)) as emulator:
        for event in _odd_events():
            emulator.append_event(event)
        emulator.append(50)
        fast = run_tap(tmp_path, tap_config(emulator))
        sdk = run_tap(tmp_path, tap_config(emulator, stream_maps=NO_OP_STREAM_MAP))
    assert fast.returncode == 0, fast.stderr
    assert sdk.returncode == 0, sdk.stderr
    assert "(fast path)" in fast.stderr
    assert "(stream-maps path)" in sdk.stderr

    fast_records, fast_states = _records_and_states(fast.messages)
    sdk_records, sdk_states = _records_and_states(sdk.messages)
    assert len(fast_records) == len(emulator.summary()) == 600 + 6 + 50
    assert fast_records == sdk_records
    assert fast_states == sdk_states
    # Key order too: a record's columns come in the same order on both paths.
    assert [list(m["record"]) for m in fast_records] == [list(m["record"]) for m in sdk_records]
    odd = {m["record"]["event_id"]: m["record"] for m in fast_records if m["record"]["event_id"].startswith("evt_odd")}
    assert odd["evt_odd_1"]["extensions"] == {"future_envelope_key": {"x": [1, 2.5, None]}}
    assert odd["evt_odd_1"]["object"]["name"] == "Zoë 山田 😀"
    assert odd["evt_odd_2"]["extensions"] == {"data": {"future_payload_key": True}}
    assert "object" not in odd["evt_odd_3"] and "extensions" not in odd["evt_odd_3"]
    assert odd["evt_odd_4"]["extensions"] == {"data": "not an object"}
    assert odd["evt_odd_5"]["object"]["note"].endswith("nul \u0000 line-sep \u2028")


@pytest.mark.integration
def test_fast_path_time_extracted_is_a_utc_timestamp(tmp_path: Path, emulator: Emulator) -> None:
    result = run_tap(tmp_path, tap_config(emulator))
    assert result.returncode == 0, result.stderr
    stamps = {m["time_extracted"] for m in result.records}
    assert stamps and all(stamp.endswith("+00:00") and "T" in stamp for stamp in stamps)


# --- the codecs, message by message -------------------------------------------------------------


def _messages(count: int) -> list[bytes]:
    generator = EventGenerator(seed=11)
    return [orjson.dumps({"offset": encode_offset(seq), "event": generator.next_event()}) for seq in range(count)]


ODD_MESSAGES = [
    b'{"x":[1,,2],"offset":"o","event":{"id":"a","type":"t","time":"z"}}',  # broken JSON
    b'{"offset":"o","event":{{"id":"a","type":"t","time":"z"}}',  # broken JSON
    b"",
    b"[]",
    b'{"offset":"o"}',
    b'{"offset":"o","event":"x"}',
    b'{"offset":"o","event":{"id":"a","type":"t"}}',  # no time
    b'{"offset":"o","event":{"id":1,"type":"t","time":"z"}}',  # id not a string
    b'{"offset":5,"event":{"id":"a","type":"t","time":"z"}}',  # offset not a string: the SSE id
    b'{"offset":"","event":{"id":"a","type":"t","time":"z"}}',
    b'{"event":{"id":"a","type":"t","time":"z","specversion":"1.0"}}',
    b'{"offset":"o","other":[{"deep":true}],"event":{"id":"a","type":"t","time":"z","data":{"object":null}}}',
    b'{"offset":"o","event":{"id":"a","type":"t","time":"z","extra":1}}',
    b'{"offset":"o","event":{"id":"a","type":"t","time":"z","data":{"object":{},"more":[1]}}}',
    b'{"offset":"o","event":{"id":"a","type":"t","time":"z","data":null}}',
    b'{"offset":"o","event":{"id":"a","type":"t","time":"z","data":[1]}}',
    b'{"offset":"o","event":{"id":"a","type":"t","time":"z","data":{"object":{"n":"\xff\xfe"}}}}',  # not UTF-8
    b'{"offset":"o","event":{"id":"a\xc3","type":"t","time":"z"}}',  # not UTF-8 in a string msgspec reads
    '{"offset":"o","event":{"id":"é","type":"t","time":"z","data":{"object":{"n":"é\\u00e9 😀"}}}}'.encode(),
    b'{"offset":"o","event":{"id":"a","type":"t","time":"z","data":{"context":{"n":-0.0,"m":1E+2,"k":[]}}}}',
    b' {"offset":"o","event":{"id":"a","type":"t","time":"z"}} ',
]


def record_json(record: Any) -> bytes:
    """A record's JSON, for either codec's record (a dict, or RawCodec's struct or `msgspec.Raw`)."""
    if isinstance(record, dict):
        return orjson.dumps(record)
    return msgspec.json.encode(record)


def _decode(codec: Any, data: bytes, sse_id: str | None) -> tuple[str, Any]:
    try:
        offset, event_type, event_time, record = codec.decode(data, sse_id)
    except (orjson.JSONDecodeError, MalformedEventError) as exc:
        return "error", (type(exc).__name__, str(exc))
    record = json.loads(record_json(record))  # what a target reads
    return "ok", (offset, event_type, event_time, record, list(record))


@pytest.mark.parametrize("sse_id", ["sse-id", None])
def test_raw_codec_reads_every_message_as_the_dict_codec(sse_id: str | None) -> None:
    for data in _messages(3000) + ODD_MESSAGES:
        assert _decode(RawCodec(), data, sse_id) == _decode(DictCodec(), data, sse_id), data[:120]


def test_raw_codec_output_is_orjson_of_the_dict_record_for_generated_events() -> None:
    # For what the emulator sends (orjson-encoded), the bytes are identical, not just equal as JSON.
    for data in _messages(3000):
        raw = record_json(RawCodec.decode(data, None)[3])
        assert raw == orjson.dumps(DictCodec.decode(data, None)[3])


# --- the SSE decoder: whole messages vs line by line ----------------------------------------------


def _random_stream(rng: random.Random) -> bytes:
    """An SSE stream mixing the usual layout with everything else the spec allows."""
    parts: list[bytes] = []
    eol = rng.choice([b"\n", b"\n", b"\n", b"\r\n", b"\r"])
    if rng.random() < 0.2:
        parts.append(b"\xef\xbb\xbf")
    for index in range(rng.randint(1, 40)):
        kind = rng.random()
        data = json.dumps({"offset": f"o{index}", "event": {"id": f"e{index}", "v": "é😀" * rng.randint(0, 3)}})
        if kind < 0.55:  # the usual layout
            space = rng.choice([b" ", b" ", b""])
            name = rng.choice([b"user.created", b"offset-only", b"", b" spaced", b"error"])
            ident = rng.choice([f"id{index}".encode(), b"", b"with\x00nul", "ïd".encode()])
            parts.append(b"event:" + space + name + eol + b"id:" + space + ident + eol)
            parts.append(b"data:" + space + data.encode() + eol + eol)
        elif kind < 0.65:
            parts.append(b": heartbeat" + eol + eol)
        elif kind < 0.72:
            parts.append(b"retry: " + str(rng.randint(0, 5000)).encode() + eol + eol)
        elif kind < 0.8:  # several data lines, id before event
            parts.append(b"id: x" + eol + b"event: multi" + eol + b"data: a" + eol + b"data:b" + eol + eol)
        elif kind < 0.86:  # a field the spec ignores, and a comment, inside a message
            parts.append(b"event: x" + eol + b"foo: bar" + eol + b": note" + eol + b"data: y" + eol + eol)
        elif kind < 0.9:
            parts.append(eol)  # an extra blank line
        elif kind < 0.95:
            parts.append(b"data" + eol + b"event" + eol + eol)  # fields without a colon
        else:
            parts.append(b"event: user.created" + eol + b"id: 1" + eol + b"data: \xff\xfe" + eol + eol)
    if rng.random() < 0.3:
        parts.append(b"event: cut" + eol + b"id: 9" + eol + b'data: {"half')  # cut mid-message
    return b"".join(parts)


def _decode_sse(stream: bytes, cuts: list[int]) -> tuple[list[Any], tuple[Any, ...]]:
    decoder = SSEDecoder(last_event_id="start")
    events: list[Any] = []
    for begin, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        events += decoder.feed(stream[begin:end])
    return events, (decoder.last_event_id, decoder.retry, decoder.pending)


def test_whole_message_path_decodes_as_line_by_line() -> None:
    rng = random.Random(20260601)
    for _ in range(400):
        stream = _random_stream(rng)
        # One byte at a time never holds a whole message: that is the line-by-line decoder alone.
        expected = _decode_sse(stream, list(range(1, len(stream))))
        assert _decode_sse(stream, []) == expected, stream
        for _ in range(5):
            cuts = sorted(rng.sample(range(1, len(stream)), min(len(stream) - 1, rng.randint(1, 6))))
            assert _decode_sse(stream, cuts) == expected, (stream, cuts)


# --- the sink at the live edge ----------------------------------------------------------------------


def test_a_small_read_reaches_the_pipe_at_once_and_a_big_one_in_pieces() -> None:
    # A read that brings few records means the tap has caught up: the target gets them now, not at
    # the next checkpoint. During a backfill (full reads) lines are joined into ~250 KB writes.
    full_read = [event_message(index) for index in range(LIVE_EDGE_RECORDS)]
    small_read = [event_message(index) for index in range(LIVE_EDGE_RECORDS, LIVE_EDGE_RECORDS + 3)]
    feed = FakeFeed([[Signal.CONNECTED, full_read, small_read]])
    steps = _pass(feed, idle_timeout_seconds=1).steps()
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    with os.fdopen(write_end, "wb") as out:
        output = FastOutput({"user.created": _Stream("user_created", "user.created")}, out)
        step = next(steps)
        assert isinstance(step, Emit) and len(step.records) == len(full_read)
        output.write_records(step.records)
        assert _available(read_end) == b"", "a full read's lines wait to be joined with the next ones"
        step = next(steps)
        assert isinstance(step, Emit) and len(step.records) == 3
        output.write_records(step.records)
        assert next(steps) is QUIET, "a small read is followed by QUIET"
        output.flush()  # what the driver does on QUIET
        assert _available(read_end).count(b'"type":"RECORD"') == len(full_read) + 3, "a small read goes out at once"
    steps.close()
    os.close(read_end)


def _pass(feed: FakeFeed, **limits: Any) -> Pass:
    run_limits = RunLimits(stop_at_time=datetime.now(timezone.utc), max_run_seconds=30, **limits)
    start = StartPosition(from_timestamp="2000-01-01T00:00:00Z")
    logger = logging.getLogger("test")
    return Pass(
        feed, start, RawCodec.decode, ["s"], frozenset(EVENT_TYPES), run_limits, logger, RunStats(), {}, feed.clock
    )


@dataclass(frozen=True)
class _Stream:
    name: str
    event_type: str


def _available(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 1 << 20)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_the_read_says_when_the_connection_goes_quiet_after_records(emulator: Emulator) -> None:
    # Against the emulator, in process: once the backlog is read, the next heartbeat (or the short
    # read before it) yields QUIET, which tells the output to write out what it holds (test above)
    # before any checkpoint.
    feed = EventFeed(
        base_url=emulator.url,
        tokens=StaticToken(TOKEN),
        event_types=[],
        session=requests.Session(),
        logger=logging.getLogger("test"),
    )
    limits = RunLimits(stop_at_time=datetime.now(timezone.utc), max_run_seconds=30, idle_timeout_seconds=1)
    stats = RunStats()
    start = StartPosition(from_timestamp="2000-01-01T00:00:00Z")
    types = frozenset(EVENT_TYPES)
    logger = logging.getLogger("test")
    steps = list(Pass(feed, start, RawCodec.decode, ["s"], types, limits, logger, stats, {}).steps())
    kinds = ["records" if isinstance(s, Emit) else "quiet" if s is QUIET else "checkpoint" for s in steps]
    assert stats.emitted == len(emulator.summary())
    last_records = max(index for index, kind in enumerate(kinds) if kind == "records")
    assert kinds[last_records + 1] == "quiet", kinds[-5:]
    quiet_after = [kinds[index - 1] for index, kind in enumerate(kinds) if kind == "quiet"]
    assert quiet_after == ["records"] * len(quiet_after), "said after records, not at every heartbeat"
