"""The built wheel, not the source tree, carries every schema and discovers every stream; the wheel
and sdist pass `twine check`, and the wheel alone in a fresh virtualenv reads the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import BASELINE_NAMES

from tap_auth0_events import __version__
from tap_auth0_events.emulator.server import Emulator, EmulatorConfig
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
    assert sorted(found["streams"]) == sorted({*map(stream_name, STREAM_KEYS), *BASELINE_NAMES})
    assert all(count >= 6 for count in found["streams"].values())


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel and sdist, built as a release is (`python -m build`, isolated)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], check=True, capture_output=True)
    return out


def test_the_release_files_pass_twine_check_and_carry_license_changelog_and_schemas(dist: Path) -> None:
    (wheel,) = dist.glob("tap_auth0_events-*.whl")
    (sdist,) = dist.glob("tap_auth0_events-*.tar.gz")
    assert wheel.name == f"tap_auth0_events-{__version__}-py3-none-any.whl", "the version of __init__.py"
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)], capture_output=True, text=True
    )
    assert checked.returncode == 0 and checked.stdout.count("PASSED") == 2, checked.stdout + checked.stderr
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "tap_auth0_events_orchestrate/definitions.py" in names, "the Dagster definitions ship in the wheel"
    assert f"tap_auth0_events-{__version__}.dist-info/licenses/LICENSE" in names
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "schemas/common.json"} <= members
    assert f"## {__version__}" in (ROOT / "CHANGELOG.md").read_text(), "the CHANGELOG names the version"
    assert (
        "Apache License" in (ROOT / "LICENSE").read_text()
        and 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()
    )


def test_the_wheel_alone_in_a_fresh_virtualenv_reads_the_emulator(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("tap_auth0_events-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True, timeout=600)
    tap = str(venv / "bin" / "tap-auth0-events")
    about = subprocess.run([tap, "--about", "--format=json"], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert json.loads(about.stdout)["version"] == __version__
    # A new user's first run: a baseline of a tenant with a past, then its events.
    world = {"users_before": 30, "organizations_before": 3, "grant_read_scopes": True}
    with Emulator(EmulatorConfig(initial_events=120, retry_ms=10, heartbeat_seconds=0.2, **world)) as emulator:
        config = tmp_path / "config.json"
        config.write_text(
            json.dumps(
                {
                    "api_url": emulator.url,
                    "api_token": "emulator-token",
                    "start_date": "2000-01-01T00:00:00Z",
                    "idle_timeout_seconds": 1,
                    "max_run_seconds": 60,
                }
            )
        )
        run = subprocess.run([tap, "--config", str(config)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        expected = len(emulator.log)
    assert run.returncode == 0, run.stderr[-2000:]
    messages = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    records = [message for message in messages if message["type"] == "RECORD"]
    events = [record for record in records if not record["stream"].startswith("baseline")]
    assert len({record["record"]["event_id"] for record in events}) == expected
    baselines = [record["record"]["stream"] for record in records if record["stream"] == "baselines"]
    assert len(baselines) == 10, "the wheel's baseline streams all completed"
