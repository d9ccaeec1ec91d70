"""The JSON schemas: one file per event type, self-contained once loaded, and accepting real payloads."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, FormatChecker
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_auth0_events.baseline_streams import BASELINE_STREAMS, BASELINES_STREAM
from tap_auth0_events.event_types import EVENT_TYPES, STREAM_KEYS, stream_name
from tap_auth0_events.schemas import load_schema, schema_dir

REPO = Path(__file__).resolve().parent.parent
REQUIRED = ["event_id", "event_type", "event_time", "event_offset"]
ENVELOPE = ("source", "specversion", "a0tenant", "a0stream", "a0purpose")
KNOWN_EVENT_KEYS = {"id", "type", "time", "data", *ENVELOPE}

# jsonschema checks date-time only when rfc3339-validator is installed; do not depend on that.
FORMAT_CHECKER = FormatChecker(formats=())
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # formats only constrain strings
    if not RFC3339.match(value):
        return False
    datetime.fromisoformat(value.replace("z", "Z"))  # rejects month 13 and the like
    return True


def validator(event_type: str) -> Draft7Validator:
    return Draft7Validator(load_schema(event_type), format_checker=FORMAT_CHECKER)


def to_record(message: dict[str, Any]) -> dict[str, Any]:
    """SSE `data` JSON ({offset, event}) -> Singer record, as the tap builds it."""
    event = message["event"]
    record = {
        "event_id": event["id"],
        "event_type": event["type"],
        "event_time": event["time"],
        "event_offset": message["offset"],
    }
    record.update({key: event[key] for key in ENVELOPE if key in event})
    record.update(
        {key: value for key, value in event["data"].items() if key in ("object", "previous_object", "context")}
    )
    extensions = {key: value for key, value in event.items() if key not in KNOWN_EVENT_KEYS}
    if extensions:
        record["extensions"] = extensions
    return record


def dropped_by_sdk(record: dict[str, Any], event_type: str) -> dict[str, Any]:
    """What the Singer SDK's type conformance would make of the record (it drops undeclared keys)."""
    logger = logging.getLogger("test")
    return conform_record_data_types(
        stream_name(event_type), record, load_schema(event_type), TypeConformanceLevel.RECURSIVE, logger
    )


# The three constructed examples of reference section 6, verbatim.
EXAMPLE_USER_UPDATED = json.loads(r"""
{"offset":"b2Zmc2V0OjAwMDAwMDQ1MTI3","event":{"specversion":"1.0","type":"user.updated","source":"urn:auth0:acme-prod.us.auth0.com","id":"evt_Q7mR2xLb9TnV4cPz8KdWs1","time":"2026-03-02T09:15:27Z","a0tenant":"acme-prod","a0stream":"est_H3kP9wQ2zL7mN4vB8xT6yR","data":{"object":{"user_id":"auth0|64f1c2a9e8b7d6c5b4a39281","email":"m.rossi@example.org","email_verified":true,"name":"Maria Rossi","created_at":"2025-11-20T14:02:11Z","updated_at":"2026-03-02T09:15:26Z","identities":[{"connection":"Username-Password-Authentication","user_id":"64f1c2a9e8b7d6c5b4a39281","provider":"auth0","isSocial":false},{"connection":"github","user_id":5550123,"provider":"github","isSocial":true,"profileData":{"name":"Maria Rossi","email":"m.rossi@example.org"}}],"app_metadata":{"plan":"pro"},"logins_count":12},"previous_object":{"user_id":"auth0|64f1c2a9e8b7d6c5b4a39281","email":"m.rossi@example.org","email_verified":false,"created_at":"2025-11-20T14:02:11Z","updated_at":"2026-02-28T17:40:03Z","identities":[{"connection":"Username-Password-Authentication","user_id":"64f1c2a9e8b7d6c5b4a39281","provider":"auth0","isSocial":false}]},"context":{"tenant":{"id":"acme-prod"},"client":{"id":"Xy12AbCdEfGhIjKlMnOpQrStUvWx3456","name":"Admin Portal","metadata":{}},"request":{"geo":{"country_code":"IT","city_name":"Milan"},"hostname":"acme-prod.us.auth0.com","ip":"203.0.113.7","method":"PATCH","user_agent":"curl/8.5.0"}}}}}
""")  # noqa: E501
EXAMPLE_ORGANIZATION_UPDATED = json.loads(r"""
{"offset":"b2Zmc2V0OjAwMDAwMDQ1MTk4","event":{"specversion":"1.0","type":"organization.updated","source":"urn:auth0:acme-prod.us.auth0.com","id":"evt_a9B8c7D6e5F4g3H2i1J0kL","time":"2026-03-02T10:01:44Z","a0tenant":"acme-prod","a0stream":"est_H3kP9wQ2zL7mN4vB8xT6yR","data":{"object":{"id":"org_Zk3Lq8Wv2Nc7Rt5M","name":"northwind","display_name":"Northwind Traders","metadata":{"region":"emea"},"branding":{"logo_url":"https://cdn.example.org/northwind.png","colors":{"primary":"#0A5FFF","page_background":"#FFFFFF"}}},"previous_object":{"id":"org_Zk3Lq8Wv2Nc7Rt5M","name":"northwind","display_name":"Northwind"},"context":{"tenant":{"id":"acme-prod"}}}}}
""")  # noqa: E501
EXAMPLE_GROUP_MEMBER_ADDED = json.loads(r"""
{"offset":"b2Zmc2V0OjAwMDAwMDQ1MjAx","event":{"specversion":"1.0","type":"group.member.added","source":"urn:auth0:acme-prod.us.auth0.com","id":"evt_Zx9Yw8Vu7Ts6Rq5Po4Nm3L","time":"2026-03-02T10:07:09Z","a0tenant":"acme-prod","a0stream":"est_H3kP9wQ2zL7mN4vB8xT6yR","data":{"object":{"group":{"id":"grp_7fKp3QzW9xRm2TnV","type":"organization","organization_id":"org_Zk3Lq8Wv2Nc7Rt5M","external_id":"sales-emea"},"member":{"member_type":"user","id":"auth0|64f1c2a9e8b7d6c5b4a39281"}}}}}
""")
# Constructed from reference section 7.5 (connection.*, 2026-07): an oidc connection, newer shape.
EXAMPLE_CONNECTION_UPDATED = json.loads(r"""
{"offset":"b2Zmc2V0OjAwMDAwMDQ1MzAy","event":{"specversion":"1.0","type":"connection.updated","source":"urn:auth0:acme-prod.us.auth0.com","id":"evt_Cn4Xw7Lb2TqV9cPz1KdWs8","time":"2026-08-02T11:20:05Z","a0tenant":"acme-prod","a0stream":"est_H3kP9wQ2zL7mN4vB8xT6yR","data":{"object":{"id":"con_Qw8Er5Ty2Ui9Op3A","name":"partner-oidc","strategy":"oidc","display_name":"Partner SSO","enabled_clients":["Xy12AbCdEfGhIjKlMnOpQrStUvWx3456"],"is_domain_connection":false,"realms":["partner-oidc"],"show_as_button":true,"metadata":{"owner":"it-ops","ticket":"SEC-1432"},"authentication":{"active":true},"connected_accounts":{"active":false,"cross_app_access":false},"options":{"client_id":"0oa1b2c3d4e5f6g7h8i9","type":"back_channel","issuer":"https://sso.partner.example","scope":"openid profile email","connection_settings":{"pkce":"auto"},"attribute_map":{"mapping_mode":"basic_profile","attributes":{"email":"${context.tokenset.email}"}},"oidc_metadata":{"issuer":"https://sso.partner.example","authorization_endpoint":"https://sso.partner.example/authorize"},"upstream_params":{"prompt":{"value":"login"}}}},"previous_object":{"id":"con_Qw8Er5Ty2Ui9Op3A","name":"partner-oidc","strategy":"oidc","display_name":"Partner","options":{"client_id":"0oa1b2c3d4e5f6g7h8i9","type":"front_channel"}},"context":{"tenant":{"id":"acme-prod"},"client":{"id":"Xy12AbCdEfGhIjKlMnOpQrStUvWx3456","name":"Admin Portal","metadata":{}}}}}}
""")  # noqa: E501
EXAMPLES = [
    EXAMPLE_USER_UPDATED,
    EXAMPLE_ORGANIZATION_UPDATED,
    EXAMPLE_GROUP_MEMBER_ADDED,
    EXAMPLE_CONNECTION_UPDATED,
]


def walk(node: Any, path: str = "$") -> list[tuple[str, Any]]:
    """Every (path, subschema) pair of a resolved schema, root included."""
    found = [(path, node)]
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            found += walk(sub, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            found += walk(node["items"], f"{path}[]")
    return found


def test_one_schema_file_per_event_type_and_the_catch_all_and_per_baseline_stream() -> None:
    files = {path.name for path in (REPO / "schemas").glob("*.json")}
    expected = {f"{stream_name(key)}.json" for key in STREAM_KEYS}
    baselines = {f"{stream.name}.json" for stream in BASELINE_STREAMS} | {f"{BASELINES_STREAM}.json"}
    assert len(EVENT_TYPES) == 25
    assert len(BASELINE_STREAMS) == 10
    assert files == expected | baselines | {"common.json"}
    assert schema_dir() == REPO / "schemas"  # source checkout: no package-internal copy


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_loaded_schema_is_self_contained(event_type: str) -> None:
    schema = load_schema(event_type)
    dumped = json.dumps(schema)
    assert "$ref" not in dumped
    assert "definitions" not in schema
    for keyword in ("oneOf", "anyOf", "allOf"):  # targets do not handle them
        assert f'"{keyword}"' not in dumped
    Draft7Validator.check_schema(schema)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_schema_follows_the_singer_rules(event_type: str) -> None:
    schema = load_schema(event_type)
    assert schema["type"] == "object"
    assert schema["required"] == REQUIRED
    for name in REQUIRED:
        assert schema["properties"][name]["type"] == "string"
    for name, sub in schema["properties"].items():
        assert sub.get("description"), f"top-level {name} has no description"
    for path, sub in walk(schema)[1:]:
        if path.count(".") == 1 and path[2:] in REQUIRED:
            continue
        assert "null" in sub["type"], f"{path} is not nullable"
        assert "required" not in sub, f"{path} has a required list"
        assert sub.get("additionalProperties", True) is True, f"{path} is closed"
        for keyword in ("enum", "const", "pattern"):
            assert keyword not in sub, f"{path} uses {keyword}"
        assert sub.get("format", "date-time") == "date-time", f"{path} has format {sub['format']}"


def test_schemas_describe_every_reference_field() -> None:
    props = load_schema("user.deleted")["properties"]
    user = props["object"]["properties"]
    assert user["logins_count"]["type"] == ["integer", "null"]
    assert user["deleted_at"]["format"] == "date-time"
    assert "deleted_at" not in props["previous_object"]["properties"]
    assert props["object"]["additionalProperties"] is True
    identity = user["identities"]["items"]["properties"]
    assert identity["user_id"]["type"] == ["string", "integer", "null"]
    assert identity["profileData"]["additionalProperties"] is True
    assert user["app_metadata"] == {
        "description": "App-managed metadata (open).",
        "type": ["object", "null"],
        "additionalProperties": True,
    }
    tenant = props["context"]["properties"]["tenant"]["properties"]
    assert set(tenant) == {"id", "tenant_id"}
    geo = props["context"]["properties"]["request"]["properties"]["geo"]["properties"]
    assert geo["latitude"]["type"] == ["number", "null"]

    connection = load_schema("organization.connection.updated")["properties"]["object"]["properties"]
    assert {"is_enabled", "organization_access_level", "assign_membership_on_login"} <= set(connection)
    group = load_schema("group.updated")["properties"]["object"]["properties"]
    assert {"connection_id", "organization_id", "updated_at", "external_id"} <= set(group)
    assert "updated_at" not in load_schema("group.created")["properties"]["object"]["properties"]
    assert "branding" not in load_schema("organization.deleted")["properties"]["object"]["properties"]
    member = load_schema("group.member.added")["properties"]["object"]["properties"]["member"]
    assert set(member["properties"]) == {"member_type", "id", "type", "connection_id"}
    for event_type in ("group.role.deleted", "organization.group.role.deleted"):
        props = load_schema(event_type)["properties"]
        assert "deleted_at" in props["object"]["properties"]
        assert "created_at" in props["previous_object"]["properties"]
        assert props["object"]["properties"]["role"]["properties"].keys() == {"id"}


def test_connection_schemas_keep_options_metadata_and_unknown_keys_open() -> None:
    for event_type in ("connection.created", "connection.updated", "connection.deleted"):
        props = load_schema(event_type)["properties"]
        connection = props["object"]
        assert connection["additionalProperties"] is True
        assert props["previous_object"]["properties"] == connection["properties"]
        fields = connection["properties"]
        assert {"id", "name", "strategy", "display_name", "enabled_clients", "realms", "show_as_button"} <= set(fields)
        assert fields["strategy"]["type"] == ["string", "null"] and "enum" not in fields["strategy"]
        for name in ("options", "metadata", "authentication", "connected_accounts"):
            assert fields[name]["additionalProperties"] is True, name
        assert fields["enabled_clients"]["items"]["type"] == ["string", "null"]
        assert set(props["context"]["properties"]["tenant"]["properties"]) == {"id", "tenant_id"}


@pytest.mark.parametrize("event_type", ["connection.created", "connection.updated", "connection.deleted"])
def test_connection_events_of_any_strategy_and_either_sdk_shape_lose_nothing(event_type: str) -> None:
    message = json.loads(json.dumps(EXAMPLE_CONNECTION_UPDATED))
    event = message["event"]
    event["type"] = event_type
    data = event["data"]
    connection = data["object"]
    connection["strategy"] = "office365"  # enterprise, but none of the 8 variants the SDKs know
    connection["provisioning_ticket_url"] = "https://example.org/p/1"  # a key no SDK lists
    connection["options"]["fieldsMap"] = {"email": "mail", "groups": ["memberOf", "roles"]}
    connection["options"]["new_option"] = {"nested": {"deeper": [1, "two", None]}}
    connection["metadata"]["added_later"] = "kept"
    del data["previous_object"]  # v6.1.0-era SDKs: no previous_object, tenant_id instead of id
    data["context"] = {"tenant": {"tenant_id": "ten_AbCdEfGh12345678"}}
    event["a0purpose"] = "test"
    record = to_record(message)
    assert record["a0purpose"] == "test" and "previous_object" not in record
    validator(event_type).validate(record)
    assert dropped_by_sdk(record, event_type) == record


def test_a_connection_with_only_the_required_fields_validates() -> None:
    message = json.loads(json.dumps(EXAMPLE_CONNECTION_UPDATED))
    message["event"]["type"] = "connection.created"
    message["event"]["data"] = {"object": {"id": "con_Qw8Er5Ty2Ui9Op3A", "name": "corp-ad", "strategy": "ad"}}
    record = to_record(message)
    validator("connection.created").validate(record)
    assert dropped_by_sdk(record, "connection.created") == record
    bad = json.loads(json.dumps(record))
    bad["object"]["enabled_clients"] = "not-a-list"
    assert not validator("connection.created").is_valid(bad)


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: m["event"]["type"])
def test_reference_examples_validate_and_lose_nothing(message: dict[str, Any]) -> None:
    record = to_record(message)
    event_type = record["event_type"]
    errors = list(validator(event_type).iter_errors(record))
    assert errors == []
    assert dropped_by_sdk(record, event_type) == record


def test_old_sdk_shape_validates() -> None:
    message = json.loads(json.dumps(EXAMPLE_USER_UPDATED))
    data = message["event"]["data"]
    del data["previous_object"]
    data["context"]["tenant"] = {"tenant_id": "ten_AbCdEfGh12345678"}
    message["event"]["a0purpose"] = "test"
    record = to_record(message)
    assert "previous_object" not in record
    validator("user.updated").validate(record)
    assert dropped_by_sdk(record, "user.updated") == record


def test_unknown_keys_survive_in_open_objects_and_extensions() -> None:
    message = json.loads(json.dumps(EXAMPLE_USER_UPDATED))
    message["event"]["traceparent"] = "00-abc-def-01"
    message["event"]["data"]["object"]["locale"] = "it-IT"  # the user object is open
    record = to_record(message)
    assert record["extensions"] == {"traceparent": "00-abc-def-01"}
    validator("user.updated").validate(record)
    assert dropped_by_sdk(record, "user.updated") == record


def test_nulls_are_accepted_in_optional_fields() -> None:
    record = to_record(EXAMPLE_GROUP_MEMBER_ADDED)
    record["object"]["group"]["external_id"] = None
    record["context"] = None
    record["source"] = None
    validator("group.member.added").validate(record)


@pytest.mark.parametrize("missing", REQUIRED)
def test_record_missing_a_required_field_fails(missing: str) -> None:
    record = to_record(EXAMPLE_USER_UPDATED)
    del record[missing]
    errors = list(validator("user.updated").iter_errors(record))
    assert [error.validator for error in errors] == ["required"]


def test_bad_values_fail() -> None:
    record = to_record(EXAMPLE_USER_UPDATED)
    check = validator("user.updated")
    assert not check.is_valid({**record, "event_time": "yesterday"})
    assert not check.is_valid({**record, "event_id": None})
    bad_count = json.loads(json.dumps(record))
    bad_count["object"]["logins_count"] = "twelve"
    assert not check.is_valid(bad_count)


def test_load_schema_returns_an_independent_copy() -> None:
    first = load_schema("user.created")
    first["properties"].clear()
    assert load_schema("user.created")["properties"]


def test_load_schema_rejects_unknown_types() -> None:
    with pytest.raises(ValueError, match=r"user\.exploded"):
        load_schema("user.exploded")


def _copy_package(target: Path, with_schemas: bool) -> None:
    """Lay out the package as a wheel installs it: schemas inside tap_auth0_events/."""
    package = target / "tap_auth0_events"
    package.mkdir()
    for name in ("__init__.py", "event_types.py", "baseline_streams.py", "schemas.py"):
        shutil.copy(REPO / "tap_auth0_events" / name, package / name)
    if with_schemas:
        shutil.copytree(REPO / "schemas", package / "schemas")


def _run_isolated(code: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(path)!r}); {code}"],
        capture_output=True,
        text=True,
        cwd=path,
        check=False,
    )


@pytest.mark.integration
def test_installed_layout_finds_the_package_internal_schemas(tmp_path: Path) -> None:
    # The data directory tap_auth0_events/schemas/ sits next to the module schemas.py: the module must win.
    _copy_package(tmp_path, with_schemas=True)
    code = (
        "from tap_auth0_events.schemas import schema_dir, load_schema; "
        "print(schema_dir()); print(len(load_schema('group.role.deleted')['properties']))"
    )
    result = _run_isolated(code, tmp_path)
    assert result.returncode == 0, result.stderr
    found, count = result.stdout.split()
    assert Path(found) == (tmp_path / "tap_auth0_events" / "schemas").resolve()
    assert int(count) == 13


@pytest.mark.integration
def test_missing_schema_directory_names_both_places(tmp_path: Path) -> None:
    _copy_package(tmp_path, with_schemas=False)
    result = _run_isolated("from tap_auth0_events.schemas import schema_dir; schema_dir()", tmp_path)
    assert result.returncode != 0
    assert "SchemaDirNotFoundError" in result.stderr
    assert str((tmp_path / "tap_auth0_events" / "schemas").resolve()) in result.stderr
    assert str((tmp_path / "schemas").resolve()) in result.stderr
