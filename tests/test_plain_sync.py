"""The plain sync (started without the Singer SDK) writes what the SDK tap writes, and only runs when it can.

`tap-auth0-events --config ...` with no stream maps, flattening or field deselection starts in
`cli.py` without importing the SDK. These tests hold it to the SDK tap's own fast path (forced by
`stream_maps: {}`, which the plain sync hands to the SDK): every SCHEMA, RECORD and STATE message,
in order; to the SDK's reading of catalogs (which streams are selected); and they check that every
other kind of invocation still goes to the SDK.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import TAP, discover, fast_config, run_tap, select_streams, tap_config
from singer_sdk.singerlib import Catalog

from tap_auth0_events.cli import PlainSync, plain_sync_request
from tap_auth0_events.emulator.server import Emulator
from tap_auth0_events.selection import STREAM_NAMES, plain_selection

PLAIN_MARK = "started without loading the Meltano SDK"
SDK_MARK = "Meltano SDK v"


def _comparable(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in m.items() if key != "time_extracted"} for m in messages]


def test_plain_sync_writes_what_the_sdk_tap_writes(tmp_path: Path) -> None:
    with Emulator(fast_config(cycle_events=97)) as emulator:
        emulator.append(40)
        plain = run_tap(tmp_path, tap_config(emulator))
        sdk = run_tap(tmp_path, tap_config(emulator, stream_maps={}))
        assert plain.returncode == 0 and sdk.returncode == 0, plain.stderr + sdk.stderr
        assert PLAIN_MARK in plain.stderr and SDK_MARK not in plain.stderr
        assert SDK_MARK in sdk.stderr and "(fast path)" in sdk.stderr
        assert len(plain.records) == 640
        assert [m["type"] for m in plain.messages[:25]] == ["SCHEMA"] * 25
        assert _comparable(plain.messages) == _comparable(sdk.messages)

        # A Meltano-style second run: a catalog selecting some streams, one of them new (back-filled),
        # and a STATE with keys the SDK drops and a bookmark of a stream that no longer exists.
        emulator.append(60)
        # At least one new event of each selected stream, whatever types the 60 random ones have.
        for event_type in ("user.created", "user.updated", "organization.created"):
            emulator.append(1, event_type=event_type)
        names = {"user_created", "user_updated", "organization_created", "group_member_added"}
        catalog = select_streams(discover(tmp_path, tap_config(emulator)), names)
        state = json.loads(json.dumps(plain.final_state))
        del state["bookmarks"]["group_member_added"]
        state["bookmarks"]["retired_stream"] = {"offset": "b2Zm"}
        state["bookmarks"]["user_deleted"] = {}
        state["currently_syncing"] = "user_created"
        second_plain = run_tap(tmp_path, tap_config(emulator), state=state, catalog=catalog)
        second_sdk = run_tap(tmp_path, tap_config(emulator, stream_maps={}), state=state, catalog=catalog)
    assert second_plain.returncode == 0 and second_sdk.returncode == 0, second_plain.stderr + second_sdk.stderr
    assert PLAIN_MARK in second_plain.stderr and SDK_MARK in second_sdk.stderr
    assert "back-filling group_member_added" in second_plain.stderr
    assert {m["stream"] for m in second_plain.records} == names
    assert _comparable(second_plain.messages) == _comparable(second_sdk.messages)
    assert "currently_syncing" not in second_plain.final_state
    assert second_plain.final_state["bookmarks"]["retired_stream"] == {"offset": "b2Zm"}


def test_plain_sync_does_not_import_the_sdk(tmp_path: Path, emulator: Emulator) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tap_config(emulator)))
    probe = (
        "import sys\n"
        "from tap_auth0_events.cli import main\n"
        "try:\n"
        f"    main(['--config', {str(config)!r}])\n"
        "except SystemExit as exit:\n"
        "    print('exit', exit.code, 'sdk' if 'singer_sdk' in sys.modules else 'no-sdk', file=sys.stderr)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=os.environ.copy(), check=False
    )
    assert completed.stderr.strip().endswith("exit 0 no-sdk"), completed.stderr
    assert completed.stdout.count('"type":"RECORD"') == 600


# --- which invocations are plain syncs ---------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    def write(name: str, content: Any) -> str:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return str(path)

    good = {"api_url": "http://127.0.0.1:9", "api_token": "t", "start_date": "2020-01-01T00:00:00Z"}
    catalog = {
        "streams": [
            {
                "tap_stream_id": name,
                "key_properties": ["event_id"],
                "replication_key": "event_time",
                "metadata": [{"breadcrumb": [], "metadata": {"selected": name.startswith("user_")}}],
            }
            for name in STREAM_NAMES
        ]
    }
    user_created = STREAM_NAMES.index("user_created")  # a selected stream
    field_deselected = json.loads(json.dumps(catalog))
    field_deselected["streams"][user_created]["metadata"].append(
        {"breadcrumb": ["properties", "context"], "metadata": {"selected": False}}
    )
    other_keys = json.loads(json.dumps(catalog))
    other_keys["streams"][user_created]["key_properties"] = ["event_offset"]
    return {
        "config": write("config.json", good),
        "more_config": write("more.json", {"max_run_seconds": 5}),
        "maps": write("maps.json", {**good, "stream_maps": {"user_created": None}}),
        "flattening": write("flattening.json", {**good, "flattening_enabled": True}),
        "unknown_setting": write("unknown.json", {**good, "batch_config": {}}),
        "bad_config": write("bad.json", {**good, "max_run_seconds": "soon"}),
        "not_json": write("not.json", "{"),
        "state": write("state.json", {"bookmarks": {"user_created": {"offset": "o"}}, "extra": 1}),
        "empty_state": write("empty.json", " \n"),
        "bad_state": write("bad_state.json", {"bookmarks": {"user_created": {"offset": 5}}}),
        "catalog": write("catalog.json", catalog),
        "field_deselected": write("field.json", field_deselected),
        "other_keys": write("keys.json", other_keys),
        "partial_catalog": write("partial.json", {"streams": catalog["streams"][:3]}),
    }


def test_a_meltano_invocation_is_a_plain_sync(files: dict[str, str]) -> None:
    request = plain_sync_request(
        ["--config", files["config"], "--config", files["more_config"], "--state", files["state"], "--catalog",
         files["catalog"]]
    )  # fmt: skip
    assert isinstance(request, PlainSync)
    assert request.config["max_run_seconds"] == 5 and request.config["api_token"] == "t"
    assert request.state == {"bookmarks": {"user_created": {"offset": "o"}}}
    assert request.streams == [name for name in STREAM_NAMES if name.startswith("user_")]
    assert plain_sync_request([f"--config={files['config']}"]) == PlainSync(
        {"api_url": "http://127.0.0.1:9", "api_token": "t", "start_date": "2020-01-01T00:00:00Z"}
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--config", "{config}", "--discover"],
        ["--config", "{config}", "--about"],
        ["--about"],
        ["--version"],
        ["--help"],
        [],
        ["--config", "ENV"],
        ["--config", "{config}", "--test"],
        ["--config"],
        ["--config", "{maps}"],
        ["--config", "{flattening}"],
        ["--config", "{unknown_setting}"],
        ["--config", "{bad_config}"],
        ["--config", "{not_json}"],
        ["--config", "/nonexistent/config.json"],
        ["--config", "{config}", "--state", "{empty_state}"],
        ["--config", "{config}", "--state", "{bad_state}"],
        ["--config", "{config}", "--state", "{not_json}"],
        ["--config", "{config}", "--catalog", "{field_deselected}"],
        ["--config", "{config}", "--catalog", "{other_keys}"],
        ["--config", "{config}", "--catalog", "{partial_catalog}"],
        ["--config", "{config}", "--catalog", "{not_json}"],
        ["--config", "{config}", "--state", "{state}", "--state", "{state}"],
    ],
)
def test_everything_else_goes_to_the_sdk(files: dict[str, str], args: list[str]) -> None:
    assert plain_sync_request([arg.format(**files) for arg in args]) is None


@pytest.mark.parametrize("env", [{"SINGER_SDK_LOG_CONFIG": "/nonexistent/x.json"}, {"LOGLEVEL": "chatty"}])
def test_logging_the_sdk_configures_goes_to_the_sdk(
    files: dict[str, str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert plain_sync_request(["--config", files["config"]]) is not None
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert plain_sync_request(["--config", files["config"]]) is None


def test_a_json_log_config_is_applied_as_the_sdk_applies_it(tmp_path: Path, emulator: Emulator) -> None:
    # Meltano sets SINGER_SDK_LOG_CONFIG to a JSON file; its format must reach the tap's log lines.
    log_config = tmp_path / "logging.json"
    log_config.write_text(
        json.dumps(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "formatters": {"plain": {"format": "LOGGED %(levelname)s %(message)s"}},
                "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain",
                                         "stream": "ext://sys.stderr"}},
                "root": {"handlers": ["console"], "level": "INFO"},
            }
        )
    )  # fmt: skip
    env = {"SINGER_SDK_LOG_CONFIG": str(log_config)}
    plain = run_tap(tmp_path, tap_config(emulator), env=env)
    sdk = run_tap(tmp_path, tap_config(emulator, stream_maps={}), env=env)
    assert plain.returncode == 0 and sdk.returncode == 0, plain.stderr + sdk.stderr
    assert "LOGGED INFO tap-auth0-events v" in plain.stderr and PLAIN_MARK in plain.stderr
    assert "LOGGED INFO syncing 25 streams on one connection (fast path)" in plain.stderr
    assert "LOGGED INFO syncing 25 streams on one connection (fast path)" in sdk.stderr
    assert _comparable(plain.messages) == _comparable(sdk.messages)


# --- catalogs read as the SDK reads them --------------------------------------------------------


def _random_metadata(rng: random.Random) -> list[dict[str, Any]]:
    def values() -> dict[str, Any]:
        chosen: dict[str, Any] = {}
        for key, options in (
            ("selected", (True, False)),
            ("selected-by-default", (True, False)),
            ("inclusion", ("available", "automatic", "unsupported")),
        ):
            if rng.random() < 0.4:
                chosen[key] = rng.choice(options)
        return chosen

    items = []
    if rng.random() < 0.85:
        items.append({"breadcrumb": [], "metadata": values()})
    for name in ("event_id", "object", "context"):
        if rng.random() < 0.5:
            items.append({"breadcrumb": ["properties", name], "metadata": values()})
    if rng.random() < 0.3:
        items.append({"breadcrumb": ["properties", "object", "properties", "name"], "metadata": values()})
    return items


def test_stream_selection_agrees_with_the_sdk() -> None:
    rng = random.Random(4)
    outcomes = set()
    for _ in range(300):
        catalog = {
            "streams": [
                {
                    "tap_stream_id": name,
                    "stream": name,
                    "schema": {"type": "object", "properties": {}},
                    "key_properties": ["event_id"],
                    "replication_key": "event_time",
                    "metadata": _random_metadata(rng) if rng.random() < 0.3 else [],
                }
                for name in STREAM_NAMES
            ]
        }
        sdk_catalog = Catalog.from_dict(catalog)
        expected: list[str] | None = []
        for name in STREAM_NAMES:
            mask = sdk_catalog.get_stream(name).metadata.resolve_selection()
            if mask.get((), True):  # Stream.selected
                if not all(mask.values()):  # the tap's fast-path condition: no deselected field
                    expected = None
                    break
                expected.append(name)
        assert plain_selection(catalog) == expected, catalog
        outcomes.add("sdk" if expected is None else len(expected))
    assert "sdk" in outcomes and len(outcomes) > 5  # both kinds of answer, many selections


def test_sdk_settings_from_the_environment_take_the_sdk_path(tmp_path: Path, emulator: Emulator) -> None:
    # --config=ENV makes the SDK add its own settings (stream maps, flattening) to the tap's schema;
    # they are validated by type too, and the run goes through the stream-maps path.
    env = {f"TAP_AUTH0_EVENTS_{key.upper()}": str(value) for key, value in tap_config(emulator).items()}
    env["TAP_AUTH0_EVENTS_STREAM_MAPS"] = json.dumps({"user_created": {}})
    env["TAP_AUTH0_EVENTS_FLATTENING_ENABLED"] = "false"
    completed = subprocess.run(
        [TAP, "--config=ENV"], capture_output=True, text=True, timeout=120, env={**os.environ, **env}, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "(stream-maps path)" in completed.stderr
    assert completed.stdout.count('"type":"RECORD"') + completed.stdout.count('"type": "RECORD"') == 600


def test_the_sdk_extending_its_schema_leaves_the_declared_one_alone(files: dict[str, str]) -> None:
    from tap_auth0_events.settings import CONFIG_SCHEMA
    from tap_auth0_events.tap import TapAuth0Events

    declared = sorted(CONFIG_SCHEMA["properties"])
    TapAuth0Events._get_about_info()  # what --about does: the SDK adds its settings to the tap's schema
    assert "stream_maps" in TapAuth0Events.config_jsonschema["properties"]
    assert sorted(CONFIG_SCHEMA["properties"]) == declared
    assert plain_sync_request(["--config", files["maps"]]) is None
    assert plain_sync_request(["--config", files["config"]]) is not None
