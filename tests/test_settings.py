"""Settings: declared once, parsed once into a typed object; bad ones end in one line naming the
setting, never a traceback, never a secret."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import TAP, run_tap, tap_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_auth0_events.emulator.server import Emulator
from tap_auth0_events.settings import SETTINGS, SettingsError, config_jsonschema, parse_settings
from tap_auth0_events.tap import TapAuth0Events

ROOT = Path(__file__).resolve().parents[1]
VALID = {"api_url": "http://127.0.0.1:9", "api_token": "SECRET-token-valid"}


PLUGIN_FILE = ROOT / "plugins" / "extractors" / "tap-auth0-events.yml"
# The SDK's settings the plugin leaves out: Faker is an extra the tap does not install.
SDK_SETTINGS_LEFT_OUT = {"faker_config"}


def _meltano_kind(schema: dict[str, Any]) -> str:
    """The Meltano setting kind of a JSON schema property (`options` for an enum)."""
    if "enum" in schema:
        return "options"
    (kind,) = [kind for kind in schema["type"] if kind != "null"]
    return str(kind)


def test_the_plugin_definition_declares_every_setting_as_the_tap_does() -> None:
    plugin = yaml.safe_load(PLUGIN_FILE.read_text())
    schema = config_jsonschema()
    TapAuth0Events.append_builtin_config(schema)
    properties = schema["properties"]
    entries = {entry["name"]: entry for entry in plugin["settings"]}
    assert list(entries)[: len(SETTINGS)] == [setting.name for setting in SETTINGS], "the tap's own settings first"
    assert set(properties) - set(entries) == SDK_SETTINGS_LEFT_OUT, "every SDK setting but Faker's"
    for name, entry in entries.items():
        declared = properties[name]
        assert entry["kind"] == _meltano_kind(declared), name
        assert entry["label"] == declared["title"], name
        assert entry["description"] == declared["description"], name
        assert entry.get("value") == declared.get("default"), name
        assert entry.get("sensitive", False) is declared.get("secret", False), name
        if "enum" in declared:
            assert [option["value"] for option in entry["options"]] == [v for v in declared["enum"] if v is not None]
    # What Meltano needs besides the settings: the capabilities the tap reports, how it starts.
    assert sorted(plugin["capabilities"]) == sorted(str(capability.value) for capability in TapAuth0Events.capabilities)
    assert (plugin["name"], plugin["namespace"], plugin["executable"]) == (
        TapAuth0Events.name,
        "tap_auth0_events",
        TapAuth0Events.name,
    )
    assert plugin["pip_url"] == "tap-auth0-events", "the released package"


def test_the_plugin_definition_asks_for_a_tenant_and_a_credential() -> None:
    # Meltano accepts a configuration when it fills one of the groups: every group must pass
    # the tap's own check, and every way the tap accepts must be a group.
    groups = yaml.safe_load(PLUGIN_FILE.read_text())["settings_group_validation"]
    values = {
        "domain": "acme.us.auth0.com",
        "api_url": "http://127.0.0.1:9",
        "api_token": "t",
        "client_id": "c",
        "client_secret": "s",
    }
    for group in groups:
        parse_settings({name: values[name] for name in group})
    for ways in ({"domain", "api_token"}, {"domain", "client_id", "client_secret"}):
        for place in ("domain", "api_url"):
            way = ways - {"domain"} | {place}
            assert any(set(group) <= way for group in groups), way
    with pytest.raises(SettingsError):
        parse_settings({"domain": "acme.us.auth0.com", "client_id": "c"})


def test_meltano_yml_extractor_is_the_plugin_definition_installed_from_this_checkout() -> None:
    plugin = yaml.safe_load(PLUGIN_FILE.read_text())
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    entry = next(plugin for plugin in project["plugins"]["extractors"] if plugin["name"] == "tap-auth0-events")
    assert entry["pip_url"] == "-e ."
    assert {**entry, "pip_url": plugin["pip_url"]} == {key: value for key, value in plugin.items() if key != "keywords"}


@pytest.mark.parametrize("loader", ["target-duckdb", "target-postgres"])
def test_meltano_yml_loaders_are_the_recommended_loader_definitions(loader: str) -> None:
    # plugins/loaders/ carries the loaders with the settings this project recommends, for a
    # Meltano project of a user's own; this repository's meltano.yml runs exactly those.
    plugin = yaml.safe_load((ROOT / "plugins" / "loaders" / f"{loader}.yml").read_text())
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (entry,) = [entry for entry in project["plugins"]["loaders"] if entry["name"] == loader]
    assert entry == plugin


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
        if setting.kind == "integer":
            assert type(value) is int and setting.minimum <= value <= setting.maximum  # type: ignore[operator]
        elif value is not None:
            assert isinstance(value, str)


@given(configs())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_command_ends_with_exit_0_or_one_line_naming_the_setting(tmp_path: Path, config: dict[str, Any]) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
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
    result = run_tap(tmp_path, {**tap_config(emulator), setting: value})
    assert "Traceback" not in result.stderr
    if message is None:  # null: the default applies and the sync runs
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.records
        return
    assert result.returncode == 1
    assert message in result.stderr
    assert "SECRET" not in result.stderr
    assert emulator.requests == []
