"""The Meltano plugin definitions in plugins/ (Meltano Hub's format), which a user's own Meltano
project adds with `meltano add --plugin-type ... --from-ref`: the extractor declares every setting
as the tap does, and this repository's meltano.yml runs exactly these plugins. In-process: the
real `meltano add` of them is tests/test_own_project.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tap_auth0_events.settings import SETTINGS, SettingsError, config_jsonschema, parse_settings
from tap_auth0_events.tap import TapAuth0Events

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "plugins"
PLUGIN_FILE = PLUGINS / "extractors" / "tap-auth0-events.yml"
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


def _project_plugin(kind: str, name: str) -> dict[str, Any]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    (entry,) = [entry for entry in project["plugins"][kind] if entry["name"] == name]
    return dict(entry)


@pytest.mark.parametrize("loader", ["target-duckdb", "target-postgres"])
def test_meltano_yml_loaders_are_the_recommended_loader_definitions(loader: str) -> None:
    # plugins/loaders/ carries the loaders with the settings this project recommends, for a
    # Meltano project of a user's own; this repository's meltano.yml runs exactly those.
    plugin = yaml.safe_load((PLUGINS / "loaders" / f"{loader}.yml").read_text())
    assert _project_plugin("loaders", loader) == plugin


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_meltano_yml_transformers_are_the_dbt_definitions_run_in_analytics(engine: str) -> None:
    # The same dbt plugin; a user's dbt project is transform/ (Meltano's usual place), this
    # repository's is analytics/ (transform/ is the models' package).
    plugin = yaml.safe_load((PLUGINS / "transformers" / f"dbt-{engine}.yml").read_text())
    entry = _project_plugin("transformers", f"dbt-{engine}")
    settings = {setting["name"]: setting for setting in entry["settings"]}
    assert settings["project_dir"]["value"] == "$MELTANO_PROJECT_ROOT/analytics"
    for setting in plugin["settings"]:
        if setting["name"] == "project_dir":
            assert setting["value"] == "$MELTANO_PROJECT_ROOT/transform"
            setting["value"] = "$MELTANO_PROJECT_ROOT/analytics"
    assert entry == plugin
    assert "deps" in plugin["commands"], "a user's project must install the package"
