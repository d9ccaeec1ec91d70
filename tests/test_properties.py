"""Property tests (hypothesis) of the engine's pure logic: where each stream starts, the time bound,
how long a 429's headers make the tap wait, and which 403 is the connection limit."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tap_auth0_events.connection import (
    MAX_RETRY_AFTER,
    StartPosition,
    _is_connection_limit,
    _rate_limit_wait,
    _retry_after,
)
from tap_auth0_events.run import TimeBound
from tap_auth0_events.settings import START_DATE_FORMAT
from tap_auth0_events.sync import plan_positions

NAMES = [f"stream_{index}" for index in range(8)]
NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Stream:
    name: str
    event_type: str


# -- position planning -------------------------------------------------------------------------

TIMES = st.sampled_from(["2026-01-01T00:00:00Z", "2026-03-01T10:00:00.5Z", "2026-06-30T23:59:59Z", None])
BOOKMARKS = st.one_of(
    st.none(),  # a stream never synced
    st.builds(lambda offset, newest: {"offset": offset, "newest_event_time": newest}, st.sampled_from("abc"), TIMES),
    st.builds(lambda ts, newest: {"from_timestamp": ts, "newest_event_time": newest}, TIMES, TIMES),
    st.just({}),  # an empty bookmark: no position
)


@st.composite
def plans(draw: st.DrawFn) -> tuple[list[Stream], dict[str, dict[str, str | None]], str | None]:
    selected = draw(st.lists(st.sampled_from(NAMES), min_size=1, unique=True))
    bookmarks = {}
    for name in NAMES:
        bookmark = draw(BOOKMARKS)
        if bookmark is not None:
            bookmarks[name] = {key: value for key, value in bookmark.items() if value is not None}
    start_date = draw(st.sampled_from([None, "2025-12-01T00:00:00Z"]))
    return [Stream(name, name) for name in selected], bookmarks, start_date


def _position(bookmark: dict[str, str] | None) -> StartPosition | None:
    if not bookmark or not (bookmark.get("offset") or bookmark.get("from_timestamp")):
        return None
    offset = bookmark.get("offset")
    return StartPosition(offset, None if offset else bookmark["from_timestamp"], bookmark.get("newest_event_time"))


def _rank(position: StartPosition) -> str:
    return position.newest_event_time or position.from_timestamp or ""


@given(plans())
@settings(max_examples=2000)
def test_every_selected_stream_starts_exactly_once_and_none_moves_back(
    plan: tuple[list[Stream], dict[str, dict[str, str]], str | None],
) -> None:
    streams, bookmarks, start_date = plan
    main, groups = plan_positions(streams, bookmarks, start_date, NOW)
    held = {stream.name: _position(bookmarks.get(stream.name)) for stream in streams}
    in_groups = [stream.name for group, _ in groups for stream in group]
    assert len(in_groups) == len(set(in_groups)), "a stream is back-filled once"
    if not any(held.values()):
        assert groups == []
        assert main.offset is None and main.from_timestamp == (start_date or NOW.strftime(START_DATE_FORMAT))
        return
    assert any(main.same_place(position) for position in held.values() if position), "main is a stored position"
    assert all(_rank(main) >= _rank(position) for position in held.values() if position), "main is the newest"
    starts = [start for _, start in groups]
    assert not any(start.same_place(main) for start in starts)
    assert all(not a.same_place(b) for i, a in enumerate(starts) for b in starts[i + 1 :]), "one group per place"
    for group, start in groups:
        for stream in group:
            own = held[stream.name] or StartPosition(from_timestamp=start_date)
            assert own.same_place(start), "a stream is back-filled from its own position"
    for stream in streams:
        position = held[stream.name]
        if position is not None and position.same_place(main):
            assert stream.name not in in_groups
        if position is None and not start_date:
            assert stream.name not in in_groups, "without start_date a new stream joins the main position"
        if position is not None and not position.same_place(main):
            assert stream.name in in_groups, "a stream elsewhere is never silently moved to main"


# -- the time bound ----------------------------------------------------------------------------

INSTANTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc))


def _spell(moment: datetime, style: int, digits: int) -> str:
    """`moment` as Auth0 or another producer might write it."""
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}"[:digits]
    fraction = f".{fraction}" if digits else ""
    if style == 0:
        return f"{base}{fraction}Z"
    if style == 1:
        return f"{base}{fraction}+00:00"
    shifted = moment.astimezone(timezone(timedelta(hours=5, minutes=30)))
    return shifted.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "+05:30"


@given(
    bound=INSTANTS,
    delta_us=st.one_of(st.integers(-3, 3), st.integers(-(10**12), 10**12)),
    style=st.integers(0, 2),
    digits=st.sampled_from([0, 3, 6]),
)
@settings(max_examples=3000)
def test_time_bound_agrees_with_datetime_arithmetic(bound: datetime, delta_us: int, style: int, digits: int) -> None:
    moment = bound + timedelta(microseconds=delta_us)
    assume(datetime(1, 1, 2, tzinfo=timezone.utc) < moment < datetime(9999, 1, 1, tzinfo=timezone.utc))
    spelled = _spell(moment, style, digits)
    truncated = datetime.fromisoformat(spelled.replace("Z", "+00:00"))  # what the string says
    assert TimeBound(bound).reached(spelled) == (truncated >= bound), spelled


# The loop's shortcut: a time that sorts below `floor` is taken as not reached without the call.
ISO_LIKE = st.one_of(
    st.from_regex(r"\A\d{4}-\d{2}-\d{2}(.\d{2}(:\d{2}(:\d{2}(\.\d{1,6})?)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?\Z"),
    st.from_regex(r"\A\d{4}(\d{4}|-?W\d{2}-?\d?)(T\d{2,6})?(Z|[+-]\d{2}:?\d{2})?\Z"),  # basic, week dates
    st.text(max_size=40),
)


@given(bound=INSTANTS, text=ISO_LIKE)
@settings(max_examples=3000)
def test_a_string_below_the_floor_is_never_reached(bound: datetime, text: str) -> None:
    time_bound = TimeBound(bound)
    if text < time_bound.floor:
        assert not time_bound.reached(text), text


@given(
    bound=INSTANTS,
    delta_minutes=st.integers(-5 * 24 * 60, 5 * 24 * 60),
    offset_minutes=st.integers(-(24 * 60 - 1), 24 * 60 - 1),
    separator=st.sampled_from("T t"),
)
@settings(max_examples=3000)
def test_no_utc_offset_moves_a_time_below_the_floor_to_the_bound(
    bound: datetime, delta_minutes: int, offset_minutes: int, separator: str
) -> None:
    moment = (bound + timedelta(minutes=delta_minutes)).astimezone(timezone(timedelta(minutes=offset_minutes)))
    spelled = moment.isoformat(sep=separator)
    time_bound = TimeBound(bound)
    assert time_bound.reached(spelled) == (moment >= bound), spelled
    if spelled < time_bound.floor:
        assert moment < bound, spelled


# -- Retry-After -------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=10**30))
def test_retry_after_in_seconds_is_waited_up_to_the_cap(seconds: int) -> None:
    assert _retry_after(str(seconds)) == min(float(seconds), MAX_RETRY_AFTER)


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_retry_after_as_an_http_date_is_the_time_until_then(delta: int) -> None:
    now = NOW.timestamp()
    header = email.utils.format_datetime(NOW + timedelta(seconds=delta), usegmt=True)
    assert _retry_after(header, now=now) == min(max(0.0, float(delta)), MAX_RETRY_AFTER)


@given(st.text(max_size=60))
def test_any_other_retry_after_waits_one_second_or_its_date(header: str) -> None:
    wait = _retry_after(header, now=NOW.timestamp())
    assert 0.0 <= wait <= MAX_RETRY_AFTER
    if not header.strip() or not any(char.isdigit() for char in header):
        assert wait == 1.0


# -- X-RateLimit-Reset -------------------------------------------------------------------------


@given(st.integers(min_value=-(10**6), max_value=10**12))
def test_x_ratelimit_reset_without_retry_after_waits_until_then_up_to_the_cap(delta: int) -> None:
    now = NOW.timestamp()
    headers = {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(now) + delta)}
    wait = _rate_limit_wait(headers, now=now)
    assert wait == min(max(0.001, float(delta)), MAX_RETRY_AFTER)
    assert wait > 0.0, "a 429 always waits, or its body would be read as a stream"


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_retry_after_wins_over_x_ratelimit_reset(retry_after: int, delta: int) -> None:
    now = NOW.timestamp()
    headers = {"Retry-After": str(retry_after), "X-RateLimit-Reset": str(int(now) + delta)}
    assert _rate_limit_wait(headers, now=now) == min(float(retry_after), MAX_RETRY_AFTER)


@given(st.text(max_size=30))
def test_an_unreadable_x_ratelimit_reset_waits_one_second(reset: str) -> None:
    assume(not (reset.strip().isascii() and reset.strip().isdigit()))
    assert _rate_limit_wait({"X-RateLimit-Reset": reset}, now=NOW.timestamp()) == 1.0
    assert _rate_limit_wait({}, now=NOW.timestamp()) == 1.0


# -- the two 403s ------------------------------------------------------------------------------

LIMIT_MESSAGE = "Maximum concurrent event stream connections reached. Please close existing connections."
SCOPE_MESSAGE = "Insufficient scope; expected any of: read:events."


@given(st.sampled_from([str.upper, str.lower, str.title, str]))
def test_the_connection_limit_403_is_told_apart_from_the_scope_403_in_any_body(case: Callable[[str], str]) -> None:
    limit, scope = case(LIMIT_MESSAGE), case(SCOPE_MESSAGE)
    for message, is_limit in ((limit, True), (scope, False)):
        bodies = [
            f'{{"statusCode":403,"error":"Forbidden","message":"{message}"}}',
            f'{{"statusCode":403,"error":"Forbidden","message":"{message}","errorCode":"insufficient_scope"}}',
            f'{{"error":{{"code":"forbidden","message":"{message}"}}}}',
            message,
        ]
        for body in bodies:
            assert _is_connection_limit(body) is is_limit, body
    assert not _is_connection_limit("")
