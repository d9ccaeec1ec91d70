"""The built wheel, not the source tree, carries every schema and discovers every stream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tap_auth0_events.event_types import STREAM_KEYS, stream_name

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_schemas_and_discovers_every_stream(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "dist").glob("tap_auth0_events-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for key in STREAM_KEYS:
        assert f"tap_auth0_events/schemas/{stream_name(key)}.json" in names
    assert "tap_auth0_events/schemas/common.json" in names

    # Unpacked away from the source tree and put first on the path: the repo's schemas/ is out of reach.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = (
        "import json, tap_auth0_events, tap_auth0_events.schemas as s;"
        "from tap_auth0_events.tap import TapAuth0Events;"
        "tap = TapAuth0Events(config={'domain': 'x.auth0.com', 'api_token': 't'}, validate_config=False);"
        "print(json.dumps({'file': tap_auth0_events.__file__, 'dir': str(s.schema_dir()),"
        " 'streams': {n: len(st.schema['properties']) for n, st in tap.streams.items()}}))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(completed.stdout.strip().splitlines()[-1])
    assert found["file"].startswith(str(site))
    assert found["dir"] == str(site / "tap_auth0_events" / "schemas")
    assert sorted(found["streams"]) == sorted(map(stream_name, STREAM_KEYS))
    assert all(count >= 8 for count in found["streams"].values())
