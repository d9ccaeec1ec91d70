"""The Singer SDK's standard tap tests, against a live emulator."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from conftest import fast_config
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_auth0_events.baseline_streams import BASELINE_STREAMS, BASELINES_STREAM
from tap_auth0_events.emulator.server import Emulator
from tap_auth0_events.tap import TapAuth0Events

# In process (the fast lane), but the SDK syncs each stream on its own: 23 idle timeouts.
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The SDK builds the test class from a config, so the emulator's port is chosen up front and the
# server is started by the fixture below before any test of the class runs.
PORT = _free_port()
SAMPLE_CONFIG = {
    "api_url": f"http://127.0.0.1:{PORT}",
    "api_token": "emulator-token",
    "start_date": "2000-01-01T00:00:00Z",
    "idle_timeout_seconds": 1,
    "read_timeout_seconds": 2,
    "max_run_seconds": 60,
}


# An event of a type this version does not know, so that the catch-all stream has a record too.
UNKNOWN_EVENT = {
    "specversion": "1.0",
    "type": "role.created",
    "source": "urn:auth0:acme-demo.us.auth0.com",
    "id": "evt_unknown_type_0001",
    "time": "2026-01-01T00:00:00Z",
    "data": {"object": {"id": "rol_1", "name": "auditor"}},
}


@pytest.fixture(scope="module", autouse=True)
def standard_emulator() -> Iterator[Emulator]:
    with Emulator(fast_config(initial_events=800), port=PORT) as emulator:
        emulator.append_event(UNKNOWN_EVENT)
        yield emulator


# The standard tests sample with `--test`'s dry run, which reads no baseline (it would start an
# export job and read the tenant for a sample): the baseline's own tests (test_baseline.py) check its records.
SUITE = SuiteConfig(ignore_no_records_for_streams=[*(stream.name for stream in BASELINE_STREAMS), BASELINES_STREAM])
TestTapAuth0Events = get_tap_test_class(tap_class=TapAuth0Events, config=SAMPLE_CONFIG, suite_config=SUITE)
