"""The tap's settings, and their validation with messages that never echo a value."""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

START_DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
ON_EXPIRED_OFFSET = ("fail", "restart_from_time")


def _setting(kind: str, title: str, description: str, **extra: Any) -> dict[str, Any]:
    """One setting in the shape the Singer SDK's typing helpers give (`--about` shows these)."""
    schema: dict[str, Any] = {"type": [kind, "null"], "title": title, "description": description}
    if extra.pop("secret", False):
        schema.update(secret=True, writeOnly=True)
    schema.update(extra)
    return schema


# A plain dict, not built with `singer_sdk.typing`: the plain-sync entry point (cli.py) validates
# settings without importing the SDK.
CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "domain": _setting(
            "string", "Tenant domain", "The tenant's domain, e.g. acme.us.auth0.com. The API lives at https://{domain}."
        ),
        "api_url": _setting(
            "string",
            "API base URL",
            "Replaces https://{domain} (for the emulator, proxies and tests). "
            "Plain http:// is accepted only for loopback hosts.",
        ),
        "api_token": _setting(
            "string",
            "Management API token",
            "A Management API token with the read:events scope. Or set client_id and client_secret.",
            secret=True,
        ),
        "client_id": _setting(
            "string", "Client ID", "Machine-to-machine application's client id (client-credentials grant)."
        ),
        "client_secret": _setting(
            "string", "Client secret", "Machine-to-machine application's client secret.", secret=True
        ),
        "audience": _setting(
            "string", "Token audience", "Audience for the client-credentials grant. Default: https://{domain}/api/v2/."
        ),
        "start_date": _setting(
            "string",
            "Start date",
            "Where a first run starts, as YYYY-MM-DDTHH:MM:SSZ (sent as from_timestamp). Without it a "
            "first run starts at the moment it runs and records that moment in STATE.",
        ),
        "max_run_seconds": _setting(
            "integer",
            "Maximum run time (seconds)",
            "A run ends after this long even if the feed still has events.",
            default=3600,
        ),
        "idle_timeout_seconds": _setting(
            "integer",
            "Idle timeout (seconds)",
            "A run ends when no new event has arrived for this long on a live connection.",
            default=60,
        ),
        "read_timeout_seconds": _setting(
            "integer",
            "Read timeout (seconds)",
            "A connection silent for this long (no bytes, no heartbeat) is dead and is reopened.",
            default=20,
        ),
        "max_backoff_seconds": _setting(
            "integer",  # like the other *_seconds; the SDK reads no "number" from environment variables
            "Maximum backoff (seconds)",
            "Longest wait between reconnects after repeated faults (exponential backoff with jitter).",
            default=30,
        ),
        "on_expired_offset": _setting(
            "string",
            "On expired offset",
            "fail (default): stop with a message when the stored offset has expired. restart_from_time: "
            "restart from just before the last event time kept in STATE, with a warning.",
            default="fail",
            enum=list(ON_EXPIRED_OFFSET),
        ),
    },
    "$schema": "https://json-schema.org/draft/2020-12/schema",
}
# What `schema_errors` checks, by JSON Schema type name (as Draft 7 defines them).
_JSON_TYPES: dict[str, Any] = {
    "string": lambda value: isinstance(value, str),
    "integer": lambda value: (
        (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())
    ),
    "number": lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
    "boolean": lambda value: isinstance(value, bool),
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "null": lambda value: value is None,
}


def config_errors(config: dict[str, Any], schema: dict[str, Any] = CONFIG_SCHEMA) -> list[str]:
    """Every problem with the settings, each naming the setting and never quoting its value.

    `schema`: CONFIG_SCHEMA, or the SDK tap's copy of it with the SDK's own settings added.
    """
    errors = schema_errors(config, schema)
    if errors:
        return errors
    if not config.get("domain") and not config.get("api_url"):
        errors.append("domain: required (e.g. acme.us.auth0.com), unless api_url is set")
    if config.get("api_url"):
        problem = _api_url_problem(config["api_url"])
        if problem:
            errors.append(f"api_url: {problem}")
    if config.get("domain") and not re.fullmatch(r"[A-Za-z0-9.-]+(:\d+)?", config["domain"]):
        errors.append("domain: must be a host name such as acme.us.auth0.com, without https:// or a path")
    if not config.get("api_token") and not (config.get("client_id") and config.get("client_secret")):
        errors.append("api_token: required, or both client_id and client_secret")
    if config.get("start_date"):
        if not re.fullmatch(START_DATE_PATTERN, config["start_date"]):
            errors.append("start_date: must look like 2026-01-31T00:00:00Z (UTC, seconds, a Z at the end)")
        else:
            try:
                datetime.strptime(config["start_date"], "%Y-%m-%dT%H:%M:%SZ")
            except ValueError:
                errors.append("start_date: not a real date and time")
    for key in ("max_run_seconds", "idle_timeout_seconds", "read_timeout_seconds", "max_backoff_seconds"):
        if key in config and config[key] is not None and config[key] <= 0:
            errors.append(f"{key}: must be a positive number of seconds")
    return errors


def read_state(text: str) -> tuple[Any, str | None]:
    """A STATE file's value, and what is wrong with it (None: nothing). Never quotes the content."""
    state, problem = _read_json(text, ": fix it or clear the state (meltano state clear)")
    if problem is None:
        problem = _state_shape_problem(state)
    return state, problem


def read_catalog(text: str) -> tuple[Any, str | None]:
    """A catalog file's value, and what is wrong with it (None: nothing)."""
    catalog, problem = _read_json(text)
    if problem is None and (not isinstance(catalog, dict) or not isinstance(catalog.get("streams"), list)):
        problem = "must be a JSON object with a `streams` list (run --discover to get one)"
    return catalog, problem


def _read_json(text: str, advice: str = "") -> tuple[Any, str | None]:
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, f"not valid JSON (line {getattr(exc, 'lineno', '?')}){advice}"


def _state_shape_problem(state: Any) -> str | None:
    if not isinstance(state, dict):
        return "must be a JSON object"
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        return "bookmarks must be an object of stream name -> bookmark"
    for name, bookmark in bookmarks.items():
        if not isinstance(bookmark, dict):
            return f"bookmarks.{name} must be an object"
        for key in ("offset", "from_timestamp", "newest_event_time"):
            if key in bookmark and bookmark[key] is not None and not isinstance(bookmark[key], str):
                return f"bookmarks.{name}.{key} must be a string"
    return None


def base_url(config: dict[str, Any]) -> str:
    """Where the API lives: `api_url` if set, else https://{domain}."""
    return (config.get("api_url") or f"https://{config['domain']}").rstrip("/")


def _api_url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) URL such as https://acme.us.auth0.com"
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        return "plain http:// is accepted only for loopback hosts (127.0.0.1, ::1, localhost); use https://"
    if parts.query or parts.fragment:
        return "must not carry a query string or fragment"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def schema_errors(config: dict[str, Any], schema: dict[str, Any] = CONFIG_SCHEMA) -> list[str]:
    """`type` and `enum` errors of the settings `schema` declares (other keys and keywords pass).

    CONFIG_SCHEMA uses no other keyword; the SDK's own settings (stream maps, flattening) are
    checked in depth where the SDK reads them.
    """
    errors = []
    for name, setting in schema.get("properties", {}).items():
        if name not in config:
            continue
        value = config[name]
        kinds = setting.get("type")
        kinds = [kinds] if isinstance(kinds, str) else kinds or []
        if kinds and not any(_JSON_TYPES.get(kind, lambda _: True)(value) for kind in kinds):
            errors.append(f"{name}: must be of type {kinds}")
        elif "enum" in setting and value is not None and value not in setting["enum"]:
            errors.append(f"{name}: must be one of {', '.join(map(str, setting['enum']))}")
    return errors
