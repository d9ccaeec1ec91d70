"""Bad input gets one clear line and a non-zero exit, before any connection where possible."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest
from conftest import TAP, run_tap, tap_config

from tap_auth0_events.emulator.server import Emulator

pytestmark = pytest.mark.integration


def test_unknown_stream_in_the_catalog(tmp_path: Path, emulator: Emulator, discovered: dict) -> None:
    catalog = copy.deepcopy(discovered)
    bogus = dict(catalog["streams"][0], tap_stream_id="user_exploded", stream="user_exploded")
    catalog["streams"].append(bogus)
    result = run_tap(tmp_path, tap_config(emulator), catalog=catalog)
    assert result.returncode == 2
    assert "user_exploded" in result.stderr and "--discover" in result.stderr
    assert "[exit 2]\n" in result.stderr
    assert emulator.requests == []


def test_corrupt_state_file(tmp_path: Path, emulator: Emulator) -> None:
    (tmp_path / "state.json").write_text('{"bookmarks": {"user_created": {"offset": "abc"')
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tap_config(emulator)))
    completed = subprocess.run(
        [TAP, "--config", str(config), "--state", str(tmp_path / "state.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "state file: not valid JSON" in completed.stderr
    assert "[exit 2]\n" in completed.stderr, "the line ends with the exit marker orchestrators read"
    assert "Traceback" not in completed.stderr
    assert emulator.requests == []


def test_state_with_a_wrongly_typed_offset(tmp_path: Path, emulator: Emulator) -> None:
    result = run_tap(tmp_path, tap_config(emulator), state={"bookmarks": {"user_created": {"offset": 12}}})
    assert result.returncode == 2
    assert "bookmarks.user_created.offset must be a string" in result.stderr
    assert "[exit 2]\n" in result.stderr


def test_missing_domain_and_api_url(tmp_path: Path, emulator: Emulator) -> None:
    result = run_tap(tmp_path, tap_config(emulator, api_url=None, domain=None))
    assert result.returncode != 0
    assert "domain" in result.stderr
    assert emulator.requests == []


def test_start_date_that_is_not_a_real_date(tmp_path: Path, emulator: Emulator) -> None:
    result = run_tap(tmp_path, tap_config(emulator, start_date="2026-02-30T00:00:00Z"))
    assert result.returncode != 0
    assert "start_date" in result.stderr
    assert emulator.requests == []


def test_config_files_that_cannot_be_used_are_one_line_each(tmp_path: Path, emulator: Emulator) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"api_token": "SECRET-in-a-broken-file", "api_url": ')
    not_an_object = tmp_path / "list.json"
    not_an_object.write_text('["SECRET-in-a-list"]')
    cases = {broken: "config file: not valid JSON (line 1)", not_an_object: "config file: must be a JSON object"}
    cases[tmp_path / "missing.json"] = "config file: not found"
    for path, line in cases.items():
        completed = subprocess.run([TAP, "--config", str(path)], capture_output=True, text=True, check=False)
        assert completed.returncode == 1, completed.stderr[-2000:]
        assert line in completed.stderr
        assert "[exit 1]\n" in completed.stderr, "the line ends with the exit marker orchestrators read"
        assert "Traceback" not in completed.stderr and "SECRET" not in completed.stderr
    assert emulator.requests == []
