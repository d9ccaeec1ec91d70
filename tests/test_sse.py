"""Tests for the pure SSE decoder (WHATWG "event stream interpretation")."""

from __future__ import annotations

import json

import pytest
from sse_text import ServerSentEvent, TextDecoder


def ev(data: str, event: str = "message", id: str | None = None, retry: int | None = None) -> ServerSentEvent:
    """Build an expected event with the defaults a decoder uses."""
    return ServerSentEvent(event=event, data=data, id=id, retry=retry)


def decode(chunks: list[bytes], decoder: TextDecoder | None = None) -> list[ServerSentEvent]:
    """Feed every chunk; return all events (a message the stream's end cuts is not one)."""
    dec = decoder if decoder is not None else TextDecoder()
    out: list[ServerSentEvent] = []
    for chunk in chunks:
        out.extend(dec.feed_text(chunk))
    return out


def state(dec: TextDecoder) -> tuple[str | None, int | None, bool]:
    return dec.last_event_id, dec.retry, dec.pending


# --- WHATWG examples -------------------------------------------------------------------------------------


def test_spec_stock_example() -> None:
    assert decode([b"data: YHOO\ndata: +2\ndata: 10\n\n"]) == [ev("YHOO\n+2\n10")]


def test_spec_comment_and_id_example() -> None:
    stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"
    dec = TextDecoder()
    assert decode([stream], dec) == [
        ev("first event", id="1"),
        ev("second event", id=""),
        ev(" third event", id=""),
    ]
    assert dec.last_event_id == ""


def test_spec_empty_data_example() -> None:
    # First block: data "" ; middle: data "\n" ; last block has no blank line, so it is discarded.
    assert decode([b"data\n\ndata\ndata\n\ndata:"]) == [ev(""), ev("\n")]


def test_spec_space_after_colon_is_optional() -> None:
    assert decode([b"data:test\n\ndata: test\n\n"]) == [ev("test"), ev("test")]


def test_spec_multiline_messages_and_event_types() -> None:
    stream = (
        b"data: This is the first message.\n\n"
        b"data: This is the second message, it\ndata: has two lines.\n\n"
        b"event: add\ndata: 73857293\n\n"
        b"event: remove\ndata: 2153\n\n"
        b"data: This is the third message.\n\n"
    )
    assert decode([stream]) == [
        ev("This is the first message."),
        ev("This is the second message, it\nhas two lines."),
        ev("73857293", event="add"),
        ev("2153", event="remove"),
        ev("This is the third message."),
    ]


def test_data_split_across_lines_with_comments_between() -> None:
    stream = b": hello\ndata: a\n:ping\ndata: b\n: keep-alive\ndata: c\n\n"
    dec = TextDecoder()
    assert decode([stream], dec) == [ev("a\nb\nc")]


# --- chunk boundaries ------------------------------------------------------------------------------------

STREAMS = {
    "spec-ids": b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
    "crlf": b"event: a\r\nid: 7\r\ndata: x\r\ndata: y\r\n\r\n: c\r\n\r\ndata: z\r\n\r\n",
    "bare-cr": b"event: a\rid: 7\rdata: x\rdata: y\r\r:c\r\rdata: z\r\r",
    "mixed": b"data: 1\r\ndata: 2\rdata: 3\n\r\ndata: 4\r\rretry: 10\n\ndata: 5\n\r",
    "bom-utf8": "\ufeffdata: Zoë 日本 😀\nid: é\n\ndata: \ufeffstays\n\n".encode(),
    "retry-and-partial": b"retry: 2000\n\nid: 1\ndata: a\n\nid: 2\ndata: cut",
}


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_chunking_does_not_change_result(name: str) -> None:
    stream = STREAMS[name]
    whole_dec = TextDecoder()
    whole = [e for e in whole_dec.feed_text(stream)]
    whole_state = state(whole_dec)
    assert whole, "every sample stream must produce events"

    for cut in range(len(stream) + 1):
        dec = TextDecoder()
        got = dec.feed_text(stream[:cut]) + dec.feed_text(stream[cut:])
        assert got == whole, f"split at {cut}"
        assert state(dec) == whole_state, f"split at {cut}"

    dec = TextDecoder()
    got = [e for i in range(len(stream)) for e in dec.feed_text(stream[i : i + 1])]
    assert got == whole
    assert state(dec) == whole_state


def test_events_are_returned_by_the_chunk_that_completes_them() -> None:
    dec = TextDecoder()
    assert dec.feed_text(b"data: a\n") == []
    assert dec.feed_text(b"\ndata: b\n\nda") == [ev("a"), ev("b")]
    assert dec.feed_text(b"ta: c\n") == []
    assert dec.feed_text(b"\n") == [ev("c")]
    assert dec.feed_text(b"") == []


# --- line endings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\r\n", b"\r", b"\n"], ids=["crlf", "cr", "lf"])
def test_line_endings(eol: bytes) -> None:
    stream = eol.join([b"event: e", b"id: 1", b"data: a", b"data: b", b"", b"data: c", b"", b""])
    assert decode([stream]) == [ev("a\nb", event="e", id="1"), ev("c", id="1")]


def test_mixed_line_endings() -> None:
    stream = b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\n\rdata: e\r\r\n"
    # "\n\r" is two line ends (LF then CR), so the blank line after "d" dispatches it.
    assert decode([stream]) == [ev("a\nb\nc"), ev("d"), ev("e")]


def test_cr_at_chunk_end_pairs_with_lf_at_next_chunk_start() -> None:
    dec = TextDecoder()
    assert dec.feed_text(b"data: a\r") == []
    assert dec.pending
    # If the CR and LF were two line ends, "a" would be dispatched on its own here.
    assert dec.feed_text(b"\ndata: b\r") == []
    assert dec.feed_text(b"\n") == []
    assert dec.feed_text(b"\r") == [ev("a\nb")]
    assert dec.feed_text(b"\n") == []
    assert not dec.pending


def test_cr_at_chunk_end_followed_by_cr_is_a_blank_line() -> None:
    dec = TextDecoder()
    assert dec.feed_text(b"data: a\r") == []
    assert dec.feed_text(b"\r") == [ev("a")]
    assert dec.feed_text(b"\n") == []  # pairs with the second CR: not a new blank line
    assert dec.feed_text(b"data: b\n\n") == [ev("b")]


@pytest.mark.parametrize(
    "sep",
    [b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", "\x85".encode(), "\u2028".encode(), "\u2029".encode()],
    ids=["VT", "FF", "FS", "GS", "RS", "NEL", "LS", "PS"],
)
def test_no_split_on_other_unicode_line_breaks(sep: bytes) -> None:
    value = b"a" + sep + b"b"
    assert decode([b"data: " + value + b"\n\n"]) == [ev(value.decode())]


# --- BOM -------------------------------------------------------------------------------------------------


def test_bom_at_stream_start_is_skipped() -> None:
    assert decode([b"\xef\xbb\xbfdata: a\n\n"]) == [ev("a")]


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_bom_split_over_chunks_is_skipped(cut: bytes) -> None:
    stream = b"\xef\xbb\xbfdata: a\n\n"
    dec = TextDecoder()
    assert dec.feed_text(stream[:cut]) == []
    assert dec.feed_text(stream[cut:]) == [ev("a")]


def test_bom_split_byte_by_byte_with_empty_chunks() -> None:
    dec = TextDecoder()
    out = []
    for b in b"\xef\xbb\xbfdata: a\n\n":
        out += dec.feed_text(b"") + dec.feed_text(bytes([b]))
    assert out == [ev("a")]


def test_only_one_bom_is_skipped() -> None:
    # The second BOM becomes part of the field name, so "\ufeffdata" is an unknown field.
    assert decode([b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n"]) == [ev("b")]


def test_bom_later_in_stream_is_not_stripped() -> None:
    stream = "data: a\n\n\ufeffdata: ignored\n\ndata: \ufeffkept\n\n".encode()
    assert decode([stream]) == [ev("a"), ev("\ufeffkept")]


def test_partial_bom_prefix_that_is_not_a_bom_is_kept() -> None:
    dec = TextDecoder()
    assert dec.feed_text(b"\xef") == []
    assert dec.pending
    assert dec.feed_text(b"data: x\n\ndata: y\n\n") == [ev("y")]  # first line's field name is "\ufffddata"


# --- fields ----------------------------------------------------------------------------------------------


def test_exactly_one_leading_space_is_stripped() -> None:
    assert decode([b"data:  two\n\n"]) == [ev(" two")]
    assert decode([b"event:  spaced\ndata:x \n\n"]) == [ev("x ", event=" spaced")]
    assert decode([b"data:\ttab\n\n"]) == [ev("\ttab")]


def test_value_keeps_later_colons() -> None:
    assert decode([b'data: {"a": "b:c"}\n\n']) == [ev('{"a": "b:c"}')]


def test_field_without_colon_has_empty_value() -> None:
    assert decode([b"data\n\n"]) == [ev("")]
    assert decode([b"data: a\ndata\ndata: b\n\n"]) == [ev("a\n\nb")]
    assert decode([b"event\ndata: a\n\n"]) == [ev("a")]


def test_unknown_and_case_mismatched_fields_are_ignored() -> None:
    stream = b"foo: bar\nData: no\nEVENT: no\ndata: yes\nbaz\n\n"
    assert decode([stream]) == [ev("yes")]


def test_message_without_data_dispatches_nothing_and_resets_event_name() -> None:
    dec = TextDecoder()
    assert dec.feed_text(b"event: lonely\n\ndata: x\n\n") == [ev("x")]


def test_empty_event_name_defaults_to_message() -> None:
    assert decode([b"event:\ndata: x\n\n"]) == [ev("x")]


def test_comments_are_ignored() -> None:
    dec = TextDecoder()
    assert dec.feed_text(b":\n: heartbeat\n:connected\n\n") == []
    assert dec.feed_text(b"data: a\n: mid\n\n") == [ev("a")]
    assert not dec.pending


# --- id and retry ----------------------------------------------------------------------------------------


def test_id_is_carried_forward() -> None:
    dec = TextDecoder()
    events = decode([b"data: a\n\nid: 1\ndata: b\n\ndata: c\n\nid: 2\ndata: d\n\n"], dec)
    assert [e.id for e in events] == [None, "1", "1", "2"]
    assert dec.last_event_id == "2"


def test_initial_last_event_id_is_used() -> None:
    dec = TextDecoder(last_event_id="resume-here")
    assert dec.last_event_id == "resume-here"
    assert dec.feed_text(b"data: a\n\n") == [ev("a", id="resume-here")]


def test_id_with_nul_is_ignored() -> None:
    dec = TextDecoder()
    assert dec.feed_text(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n") == [ev("a", id="1"), ev("b", id="1")]
    assert dec.last_event_id == "1"


def test_empty_id_resets_to_empty_string() -> None:
    dec = TextDecoder(last_event_id="x")
    assert dec.feed_text(b"id:\ndata: a\n\n") == [ev("a", id="")]
    assert dec.last_event_id == ""


def test_id_without_data_still_updates_last_event_id() -> None:
    dec = TextDecoder()
    assert dec.feed_text(b"id: 42\n\n") == []
    assert dec.last_event_id == "42"
    assert dec.feed_text(b"data: a\n\n") == [ev("a", id="42")]


def test_id_of_incomplete_message_is_not_committed() -> None:
    dec = TextDecoder()
    assert dec.feed_text(b"id: 1\ndata: a\n\nid: 2\ndata: b\n") == [ev("a", id="1")]
    assert dec.last_event_id == "1"
    assert dec.pending, "message 2 is held, and its id with it"
    assert dec.feed_text(b"\n") == [ev("b", id="2")]
    assert dec.last_event_id == "2", "committed with the message that carries it"


def test_a_decoder_started_at_an_id_gives_it_to_the_next_message() -> None:
    dec = TextDecoder(last_event_id="7")
    assert dec.feed_text(b"data: a\n\n") == [ev("a", id="7")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"2000", 2000),
        (b"0", 0),
        (b"007", 7),
        (b"2s", None),
        (b"-1", None),
        (b"+5", None),
        (b" 2000", None),  # "retry:  2000": only one space is stripped
        (b"20 00", None),
        (b"1.5", None),
        (b"", None),
        ("\u0663".encode(), None),  # ARABIC-INDIC DIGIT THREE is not an ASCII digit
        (b"9" * 5000, None),  # too many digits for int(): ignored, not a crash
    ],
)
def test_retry_accepts_only_ascii_digits(value: bytes, expected: int | None) -> None:
    dec = TextDecoder()
    assert dec.feed_text(b"retry: " + value + b"\ndata: x\n\n") == [ev("x", retry=expected)]
    assert dec.retry == expected


def test_retry_is_per_message_on_events_but_persists_on_decoder() -> None:
    dec = TextDecoder()
    assert dec.feed_text(b"retry: 2000\n\n") == []
    assert dec.retry == 2000
    assert dec.feed_text(b"data: a\n\nretry: 500\ndata: b\n\nretry: nope\ndata: c\n\n") == [
        ev("a"),
        ev("b", retry=500),
        ev("c"),
    ]
    assert dec.retry == 500


# --- Auth0-shaped stream ---------------------------------------------------------------------------------


def test_auth0_like_stream() -> None:
    offset1 = "b2Zmc2V0OjAwMDAwMDQ1MTA0"
    offset2 = "b2Zmc2V0OjAwMDAwMDQ1MTEx"
    real = {"offset": offset1, "event": {"specversion": "1.0", "type": "user.created", "id": "evt_1"}}
    marker = {"offset": offset2}
    error = {"error": {"code": "connection_timeout", "message": "bye", "offset": offset2}}
    stream = (
        b":connected\n\n"
        b"retry: 2000\n\n"
        + f"event: user.created\nid: {offset1}\ndata: {json.dumps(real)}\n\n".encode()
        + b": heartbeat\n\n"
        + f"event: offset-only\nid: {offset2}\ndata: {json.dumps(marker)}\n\n".encode()
        + f"event: error\ndata: {json.dumps(error)}\n\n".encode()
    )
    dec = TextDecoder()
    events = decode([stream[i : i + 7] for i in range(0, len(stream), 7)], dec)
    assert [(e.event, e.id, e.retry) for e in events] == [
        ("user.created", offset1, None),
        ("offset-only", offset2, None),
        ("error", offset2, None),
    ]
    assert [json.loads(e.data) for e in events] == [real, marker, error]
    assert dec.retry == 2000
    assert dec.last_event_id == offset2


# --- end of stream ---------------------------------------------------------------------------------------


def test_frame_cut_in_half_is_pending_and_never_dispatched() -> None:
    dec = TextDecoder()
    assert dec.feed_text(b'event: user.created\nid: 1\ndata: {}\n\nevent: user.updated\nid: 2\ndata: {"a"') == [
        ev("{}", event="user.created", id="1")
    ]
    assert dec.pending
    assert dec.last_event_id == "1"


def test_complete_lines_without_blank_line_are_pending_and_discarded() -> None:
    dec = TextDecoder()
    assert dec.feed_text(b"data: a\n") == []
    assert dec.pending


@pytest.mark.parametrize(
    "stream", [b"", b"data: a\n\n", b": heartbeat\n", b"data: a\r\n\r\n", b"data: a\r\r"], ids=repr
)
def test_not_pending_at_message_boundary(stream: bytes) -> None:
    dec = TextDecoder()
    dec.feed_text(stream)
    assert not dec.pending


def test_a_reconnection_is_a_new_decoder_from_the_last_id() -> None:
    dec = TextDecoder()
    dec.feed_text(b"id: 1\ndata: a\n\nretry: 300\ndata: cut")
    # What the connection does: a new stream, its BOM skipped, the last id carried over.
    again = TextDecoder(last_event_id=dec.last_event_id)
    assert again.feed_text(b"\xef\xbb\xbfdata: b\n\n") == [ev("b", id="1")]
    assert dec.retry == 300


# --- encoding --------------------------------------------------------------------------------------------


def test_invalid_utf8_is_replaced_not_raised() -> None:
    dec = TextDecoder()
    events = decode([b"event: \xffx\nid: \xc3\ndata: a\xff\xfeb\ndata: \xe2\x82\n\n"], dec)
    assert events == [ev("a\ufffd\ufffdb\n\ufffd", event="\ufffdx", id="\ufffd")]


def test_multibyte_utf8_split_across_chunks() -> None:
    text = "Zoë — 日本語 😀 ünïcödé"
    stream = f"event: ü\nid: ñ\ndata: {text}\n\n".encode()
    expected = [ev(text, event="ü", id="ñ")]
    for cut in range(len(stream) + 1):
        assert decode([stream[:cut], stream[cut:]]) == expected, f"split at {cut}"
    assert decode([stream[i : i + 1] for i in range(len(stream))]) == expected


def test_large_data_line_in_small_chunks() -> None:
    payload = ("0123456789abcdeф" * (2 * 1024 * 1024 // 17)).encode()
    stream = b"id: big\ndata: " + payload + b"\n\ndata: after\n\n"
    dec = TextDecoder()
    out: list[ServerSentEvent] = []
    for i in range(0, len(stream), 1024):
        out += dec.feed_text(stream[i : i + 1024])
    assert len(payload) > 2_000_000
    assert out == [ev(payload.decode(), id="big"), ev("after", id="big")]
    assert not dec.pending


def test_many_events_in_one_large_chunk() -> None:
    body = json.dumps({"offset": "o", "event": {"data": "x" * 1200}})
    stream = b"".join(f"event: user.created\nid: {i:024d}\ndata: {body}\n\n".encode() for i in range(500))
    events = TextDecoder().feed_text(stream)
    assert len(events) == 500
    assert events[-1] == ev(body, event="user.created", id=f"{499:024d}")


# --- event type ------------------------------------------------------------------------------------------
