"""Each error a user can meet: a one-line cause, a non-zero exit, no secret in sight."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TOKEN, fast_config, run_tap, tap_config

from tap_auth0_events.emulator.server import ConnectionPlan, Emulator, encode_offset


def assert_clean_failure(result, code: int, *phrases: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    assert f"[exit {code}]\n" in result.stderr, "the line ends with the exit marker orchestrators read"
    for phrase in phrases:
        assert phrase in result.stderr
    assert "Traceback" not in result.stderr
    assert TOKEN not in result.stderr + result.stdout


def test_wrong_token_is_a_401_naming_the_token(tmp_path: Path, emulator: Emulator) -> None:
    result = run_tap(tmp_path, tap_config(emulator, api_token="not-the-right-token-5150"))
    assert_clean_failure(result, 3, "HTTP 401", "api_token")
    assert "not-the-right-token-5150" not in result.stderr + result.stdout


def test_token_without_read_events_is_a_403_naming_the_scope(tmp_path: Path) -> None:
    config = fast_config(api_tokens={"no-scope-token-31337": ["read:users"]})
    with Emulator(config) as emulator:
        result = run_tap(tmp_path, tap_config(emulator, api_token="no-scope-token-31337"))
    assert_clean_failure(result, 4, "HTTP 403", "read:events")
    assert "no-scope-token-31337" not in result.stderr + result.stdout


def test_expired_offset_is_a_410_saying_how_to_restart(tmp_path: Path) -> None:
    with Emulator(fast_config(retained_from_seq=100)) as emulator:
        state = {"bookmarks": {"user_created": {"offset": encode_offset(3)}}}
        result = run_tap(tmp_path, tap_config(emulator), state=state)
    assert_clean_failure(result, 6, "expired", "start_date", "restart_from_time")


def test_malformed_offset_is_a_400(tmp_path: Path, emulator: Emulator) -> None:
    state = {"bookmarks": {"user_created": {"offset": "this is not an offset"}}}
    result = run_tap(tmp_path, tap_config(emulator), state=state)
    assert_clean_failure(result, 5, "HTTP 400", "offset")


def test_wrong_client_secret_is_refused_without_printing_it(tmp_path: Path, emulator: Emulator) -> None:
    config = tap_config(emulator, api_token=None, client_id="emulator-client", client_secret="wrong-secret-8080")
    result = run_tap(tmp_path, config)
    assert_clean_failure(result, 3, "refused client_id")
    assert "wrong-secret-8080" not in result.stderr + result.stdout


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_rate_limits_and_server_errors_are_retried(tmp_path: Path, emulator: Emulator, status: int) -> None:
    emulator.queue(*[ConnectionPlan(status=status, retry_after="0.2") for _ in range(3)])
    result = run_tap(tmp_path, tap_config(emulator))
    assert result.returncode == 0, result.stderr
    assert len(result.records) == len(emulator.summary())
    assert f"HTTP {status}" in result.stderr


@pytest.mark.parametrize(
    ("setting", "value", "phrase"),
    [
        ("start_date", "2026-01-01", "start_date"),
        ("api_url", "http://example.com", "api_url"),
        ("api_token", None, "api_token"),
        ("max_run_seconds", -5, "max_run_seconds"),
    ],
)
def test_bad_settings_fail_before_connecting(
    tmp_path: Path, emulator: Emulator, setting: str, value: object, phrase: str
) -> None:
    config = tap_config(emulator, **{setting: value})
    result = run_tap(tmp_path, config)
    assert result.returncode != 0
    assert phrase in result.stderr
    assert emulator.requests == [], "no connection is made with bad settings"
    assert TOKEN not in result.stderr


def test_a_secret_of_the_wrong_type_is_not_echoed(tmp_path: Path, emulator: Emulator) -> None:
    result = run_tap(tmp_path, tap_config(emulator, api_token=987654321987))
    assert result.returncode != 0
    assert "api_token" in result.stderr
    assert "987654321987" not in result.stderr + result.stdout
