"""start_date as users write it: any ISO 8601 date or date-time with a zone, sent to Auth0 as the
20-character `YYYY-MM-DDTHH:MM:SSZ` its `from_timestamp` takes (in-process: the parser alone)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tap_auth0_events.settings import SettingsError, parse_settings, utc_start_date

FROM_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", re.ASCII)
BASE = {"api_url": "http://127.0.0.1:9", "api_token": "t"}


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        ("2026-01-01", "2026-01-01T00:00:00Z"),
        ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        ("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00Z"),
        ("2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00Z"),
        ("2026-01-01T02:00:00+02:00", "2026-01-01T00:00:00Z"),
        ("2026-01-01T00:00:00-05:30", "2026-01-01T05:30:00Z"),
        ("2026-01-01T23:30:00-01:00", "2026-01-02T00:30:00Z"),
        ("2026-01-01T00:00:00.999999Z", "2026-01-01T00:00:00Z"),
        ("2026-01-01T00:00:59.9999999999+00:00", "2026-01-01T00:00:59Z"),
        ("2026-01-01T00:00:00,5Z", "2026-01-01T00:00:00Z"),
        ("2026-01-01T10:15Z", "2026-01-01T10:15:00Z"),
        ("2026-01-01T10Z", "2026-01-01T10:00:00Z"),
        ("2026-01-01T10:15:00+0130", "2026-01-01T08:45:00Z"),
        ("2026-01-01T10:15:00+01", "2026-01-01T09:15:00Z"),
        ("2026-01-01 10:15:00Z", "2026-01-01T10:15:00Z"),
        ("2026-01-01t10:15:00z", "2026-01-01T10:15:00Z"),
        ("20260101", "2026-01-01T00:00:00Z"),
        ("20260101T020000+0200", "2026-01-01T00:00:00Z"),
        ("  2026-01-01T00:00:00Z\n", "2026-01-01T00:00:00Z"),
        ("2028-02-29", "2028-02-29T00:00:00Z"),
        ("2026-03-01T00:30:00+01:00", "2026-02-28T23:30:00Z"),
    ],
)
def test_each_spelling_is_sent_as_utc_seconds(written: str, sent: str) -> None:
    assert utc_start_date(written) == sent
    assert parse_settings({**BASE, "start_date": written}).start_date == sent


@pytest.mark.parametrize(
    ("written", "words"),
    [
        ("2026-01-01T00:00:00", "needs a zone"),
        ("2026-01-01T00:00:00.000", "needs a zone"),
        ("2026-01-01T10:15", "needs a zone"),
        ("2026-02-30", "not a real date"),
        ("2026-02-30T00:00:00Z", "not a real date"),
        ("2027-02-29T00:00:00Z", "not a real date"),
        ("2026-01-01T24:00:00Z", "not a real date"),
        ("2026-01-01T00:60:00Z", "not a real date"),
        ("2026-01-01T00:00:00+24:00", "not a real date"),
        ("2026-01-01T00:00:00+01:60", "not a real date"),
        ("0001-01-01T00:00:00+01:00", "not a real date"),
        ("9999-12-31T23:00:00-02:00", "not a real date"),
        ("yesterday", "ISO 8601 date"),
        ("   ", "ISO 8601 date"),
        ("2026-1-1", "ISO 8601 date"),
        ("2026-01-01Z", "ISO 8601 date"),
        ("2026-01-01T00:00:00 +02:00", "ISO 8601 date"),
        ("01/31/2026", "ISO 8601 date"),
        ("1767225600", "ISO 8601 date"),
        ("\uff12\uff10\uff12\uff16-01-01", "ISO 8601 date"),  # fullwidth digits: int() takes them, the pattern not
        ("2026-01-01T00:00:00Z; DROP", "ISO 8601 date"),
    ],
)
def test_what_is_not_a_date_with_a_zone_is_one_named_problem(written: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        utc_start_date(written)
    with pytest.raises(SettingsError) as raised:
        parse_settings({**BASE, "start_date": written})
    assert len(raised.value.problems) == 1
    assert raised.value.problems[0].startswith("start_date: ")
    assert "\n" not in raised.value.problems[0]
    if written.strip():
        assert written.strip() not in raised.value.problems[0], "the value is never quoted"


OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(lambda m: timedelta(minutes=m))
MOMENTS = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30))


def _offset_text(offset: timedelta, basic: bool) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{'' if basic else ':'}{rest:02d}"


@given(MOMENTS, OFFSETS, st.integers(min_value=0, max_value=9), st.booleans(), st.booleans())
def test_any_date_time_with_an_offset_is_its_utc_second_rounded_down(
    local: datetime, offset: timedelta, digits: int, basic: bool, zulu: bool
) -> None:
    aware = local.replace(tzinfo=timezone(offset))
    fraction = f"{local.microsecond:06d}{'123'}"[:digits]
    zone = "Z" if zulu and not offset else _offset_text(offset, basic)
    stamp = local.strftime("%Y%m%dT%H%M%S" if basic else "%Y-%m-%dT%H:%M:%S")
    written = stamp + (f".{fraction}" if digits else "") + zone
    expected = aware.astimezone(timezone.utc).replace(microsecond=0)
    if digits == 0:
        expected = aware.replace(microsecond=0).astimezone(timezone.utc)
    sent = utc_start_date(written)
    assert FROM_TIMESTAMP.fullmatch(sent) and len(sent) == 20
    assert sent == expected.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert utc_start_date(sent) == sent, "what is sent reads back as itself"


@given(st.dates(min_value=datetime(1000, 1, 1).date()))
def test_a_date_is_its_midnight_utc(day: date) -> None:
    assert utc_start_date(day.isoformat()) == f"{day.isoformat()}T00:00:00Z"


def test_an_empty_start_date_is_a_start_date_not_given() -> None:
    assert parse_settings({**BASE, "start_date": ""}).start_date in (None, "")
    with pytest.raises(ValueError, match="ISO 8601 date"):
        utc_start_date("")


@given(st.text(max_size=40))
def test_any_text_is_a_20_character_utc_second_or_a_value_error(text: str) -> None:
    try:
        sent = utc_start_date(text)
    except ValueError as problem:
        assert str(problem) and "\n" not in str(problem)
    else:
        assert FROM_TIMESTAMP.fullmatch(sent)
