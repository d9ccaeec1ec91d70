"""Known token and client-secret values never appear in stdout, stderr, STATE or records."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import TAP, fast_config, run_tap, tap_config

from tap_auth0_events.emulator.server import ConnectionPlan, Emulator, encode_offset

pytestmark = pytest.mark.integration

API_TOKEN = "tok_Sup3rS3cretValue_7f3a9c"
CLIENT_SECRET = "cs_An0therS3cret_b81d44"
DEBUG = {"TAP_AUTH0_EVENTS_LOGLEVEL": "DEBUG", "LOGLEVEL": "DEBUG"}


@pytest.fixture
def secret_emulator() -> Emulator:
    config = fast_config(
        initial_events=300,
        api_tokens={API_TOKEN: ["read:events"], "scopeless_" + API_TOKEN: ["read:users"]},
        clients={"my-client": CLIENT_SECRET},
    )
    with Emulator(config) as emulator:
        yield emulator


def scenarios(emulator: Emulator) -> list[tuple[str, dict, dict | None, list[ConnectionPlan]]]:
    token = tap_config(emulator, api_token=API_TOKEN)
    credentials = tap_config(emulator, api_token=None, client_id="my-client", client_secret=CLIENT_SECRET)
    return [
        ("normal run", token, None, []),
        ("client credentials", credentials, None, [ConnectionPlan(after_events=50, action="expire_tokens")]),
        (
            "wrong client secret",
            tap_config(emulator, api_token=None, client_id="my-client", client_secret=CLIENT_SECRET + "x"),
            None,
            [],
        ),
        ("wrong token", tap_config(emulator, api_token=API_TOKEN + "x"), None, []),
        ("missing scope", tap_config(emulator, api_token="scopeless_" + API_TOKEN), None, []),
        ("expired offset", token, {"bookmarks": {"user_created": {"offset": encode_offset(0)}}}, []),
        ("malformed offset", token, {"bookmarks": {"user_created": {"offset": "%%%"}}}, []),
        (
            "faults",
            token,
            None,
            [
                ConnectionPlan(status=429, retry_after="0.1"),
                ConnectionPlan(status=503),
                ConnectionPlan(after_events=20, action="cut"),
                ConnectionPlan(after_events=5, action="broken_json"),
                ConnectionPlan(after_events=5, action="error:processing_error"),
            ],
        ),
        ("static token expiring", token, None, [ConnectionPlan(after_events=50, action="expire_tokens")]),
        ("secret of the wrong type", {**token, "client_secret": 12345, "api_token": [API_TOKEN]}, None, []),
        ("bad start_date with secrets", {**credentials, "start_date": "yesterday"}, None, []),
    ]


def test_no_scenario_prints_or_stores_a_secret(tmp_path: Path, secret_emulator: Emulator) -> None:
    secret_emulator.config.retained_from_seq = 0
    for name, config, state, plans in scenarios(secret_emulator):
        if name == "expired offset":
            secret_emulator.config.retained_from_seq = 10
        secret_emulator.revoked.clear()
        secret_emulator.plans.clear()
        secret_emulator.queue(*plans)
        run_dir = tmp_path / name.replace(" ", "-")
        run_dir.mkdir()
        result = run_tap(run_dir, config, state=state, env=DEBUG)
        secret_emulator.config.retained_from_seq = 0
        everything = result.stdout + result.stderr
        for secret in (API_TOKEN, CLIENT_SECRET, "12345"):
            assert secret not in everything, f"{name}: a secret leaked"
        if result.returncode != 1:  # config errors stop before the first debug line
            assert "DEBUG" in result.stderr, f"{name}: ran with debug logging"
        assert result.returncode != 0 or result.records, f"{name}: the scenario ran"


def test_config_from_environment_variables_does_not_echo_secrets(tmp_path: Path, secret_emulator: Emulator) -> None:
    env = {
        **DEBUG,
        "TAP_AUTH0_EVENTS_API_URL": secret_emulator.url,
        "TAP_AUTH0_EVENTS_API_TOKEN": API_TOKEN,
        "TAP_AUTH0_EVENTS_CLIENT_SECRET": CLIENT_SECRET,
        "TAP_AUTH0_EVENTS_START_DATE": "2000-01-01T00:00:00Z",
        "TAP_AUTH0_EVENTS_IDLE_TIMEOUT_SECONDS": "1",
        "TAP_AUTH0_EVENTS_BASELINE": "never",  # the token has read:events only
    }
    completed = subprocess.run(
        [TAP, "--config", "ENV"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    records = [json.loads(line) for line in completed.stdout.split("\n") if line.startswith('{"type":"RECORD"')]
    assert len(records) == 300
    for secret in (API_TOKEN, CLIENT_SECRET):
        assert secret not in completed.stdout + completed.stderr
