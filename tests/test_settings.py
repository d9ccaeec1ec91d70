"""Settings: declared once, parsed once into a typed object; bad ones end in one line naming the
setting, never a traceback, never a secret."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import TAP, run_tap, tap_config
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tap_auth0_events.emulator.server import Emulator
from tap_auth0_events.settings import SETTINGS, SettingsError, parse_settings

ROOT = Path(__file__).resolve().parents[1]
VALID = {"api_url": "http://127.0.0.1:9", "api_token": "SECRET-token-valid"}


def test_null_means_not_set() -> None:
    nulls = {setting.name: None for setting in SETTINGS if setting.name not in VALID}
    parsed = parse_settings({**VALID, **nulls})
    for setting in SETTINGS:
        if setting.default is not None:
            assert getattr(parsed, setting.name) == setting.default


def test_secrets_are_left_out_of_the_settings_repr() -> None:
    parsed = parse_settings({**VALID, "client_id": "c", "client_secret": "SECRET-client"})
    assert "SECRET" not in repr(parsed)


# -- random settings ----------------------------------------------------------------------------

ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _good_value(name: str) -> st.SearchStrategy[Any]:
    setting = next(setting for setting in SETTINGS if setting.name == name)
    if setting.kind == "integer":
        return st.integers(min_value=setting.minimum or 1, max_value=setting.maximum or 10**6)
    if setting.choices:
        return st.sampled_from(setting.choices)
    return {
        "domain": st.just("acme.us.auth0.com"),
        "api_url": st.just("http://127.0.0.1:9"),
        "start_date": st.just("2026-01-31T00:00:00Z"),
        "audience": st.just("https://acme.us.auth0.com/api/v2/"),
    }.get(name, st.text(min_size=1, max_size=20))


def _secret_or_any() -> st.SearchStrategy[Any]:
    # A string given for a secret is made unmistakable, so the test can look for it in the output.
    return st.one_of(ANY_VALUE, st.builds(lambda: f"SECRET-{uuid.uuid4().hex}"))


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    config: dict[str, Any] = dict(VALID)
    for setting in SETTINGS:
        choice = draw(st.sampled_from(["keep", "good", "any", "null", "absent"]))
        if choice == "good":
            config[setting.name] = draw(_good_value(setting.name))
        elif choice == "any":
            config[setting.name] = draw(_secret_or_any() if setting.secret else ANY_VALUE)
        elif choice == "null":
            config[setting.name] = None
        elif choice == "absent":
            config.pop(setting.name, None)
    for secret in ("api_token", "client_secret"):
        if isinstance(config.get(secret), str) and config[secret]:
            config[secret] = f"SECRET-{uuid.uuid4().hex}{config[secret]}"
    return config


@given(configs())
@settings(max_examples=400, deadline=None)
def test_parsing_any_config_gives_settings_or_named_problems(config: dict[str, Any]) -> None:
    names = {setting.name for setting in SETTINGS}
    try:
        parsed = parse_settings(config)
    except SettingsError as error:
        assert error.problems
        for problem in error.problems:
            assert problem.split(":", 1)[0] in names, problem
            assert "SECRET-" not in problem
        return
    for setting in SETTINGS:
        value = getattr(parsed, setting.name)
        if setting.kind == "integer" and (value is not None or setting.default is not None):
            assert type(value) is int and setting.minimum <= value <= setting.maximum  # type: ignore[operator]
        elif value is not None:
            assert isinstance(value, str)


@pytest.mark.integration
@given(configs())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_command_ends_with_exit_0_or_one_line_naming_the_setting(tmp_path: Path, config: dict[str, Any]) -> None:
    path = tmp_path / "config.json"
    try:
        text = json.dumps(config, allow_nan=False)
    except ValueError:  # NaN or Infinity: not JSON, so the file is refused as a whole (test_bad_input)
        assume(False)
    path.write_text(text)
    # --test=schema checks the settings as a sync does, then writes the SCHEMA messages only.
    done = subprocess.run(
        [TAP, "--config", str(path), "--test=schema"], capture_output=True, text=True, timeout=60, check=False
    )
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    secrets = [config.get(name) for name in ("api_token", "client_secret")]
    assert not [secret for secret in secrets if isinstance(secret, str) and "SECRET-" in secret and secret in output]
    try:
        parse_settings(config)
    except SettingsError as error:
        assert done.returncode == 1, output[-2000:]
        for problem in error.problems:
            assert problem in done.stderr, output[-2000:]
    else:
        assert done.returncode == 0, output[-2000:]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("idle_timeout_seconds", None, None),
        ("idle_timeout_seconds", "60", "idle_timeout_seconds: must be a whole number"),
        ("max_run_seconds", -5, "max_run_seconds: must be at least 1"),
        ("max_run_seconds", 10**12, "max_run_seconds: must be at most 2592000"),
        ("read_timeout_seconds", 2.5, "read_timeout_seconds: must be a whole number"),
        ("on_expired_offset", "retry", "on_expired_offset: must be one of fail, restart_from_time"),
        ("api_token", ["SECRET-in-a-list"], "api_token: must be a string"),
    ],
)
def test_a_sync_with_a_null_or_bad_setting(
    tmp_path: Path, emulator: Emulator, setting: str, value: Any, message: str | None
) -> None:
    # max_run_seconds ends the run of a null idle timeout in 3 s rather than at its default, 60 s.
    result = run_tap(tmp_path, {**tap_config(emulator, max_run_seconds=3), setting: value})
    assert "Traceback" not in result.stderr
    if message is None:  # null: the default applies and the sync runs
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.records
        assert re.search(r"finished \(max_run_seconds \([\d.]+s\) reached\)", result.stderr), "idle is 60 s"
        return
    assert result.returncode == 1
    assert message in result.stderr
    assert "[exit 1]\n" in result.stderr, "the line ends with the exit marker orchestrators read"
    assert "SECRET" not in result.stderr
    assert emulator.requests == []
