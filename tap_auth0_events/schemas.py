"""Load the per-event-type JSON schemas, with every `$ref` inlined.

The files live in `schemas/` at the repository top (one `<stream_name>.json` per event type plus the
shared `common.json`). A wheel carries them inside the package as `tap_auth0_events/schemas/`
(hatchling `force-include`), which is why both places are searched.

Targets need self-contained schemas, so `load_schema` returns a schema without `$ref`, `definitions`
or `$comment`. A `$ref` may have sibling keys (we only use `description`); they override the keys of
the referenced schema, as in JSON Schema 2019-09 and later.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, cast

from tap_auth0_events.baseline_streams import BASELINE_BY_NAME, BASELINES_STREAM
from tap_auth0_events.event_types import EVENT_TYPES, OTHER_EVENTS_KEY, stream_name

COMMON_FILE = "common.json"

# Keywords whose value maps names to subschemas / holds one or more subschemas.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties"})
_SCHEMA_VALUES = frozenset({"items", "additionalProperties", "not", "additionalItems"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf"})
# Dropped from the output: only meaningful inside the source files.
_DROPPED = frozenset({"definitions", "$comment"})


class SchemaDirNotFoundError(FileNotFoundError):
    """Neither the package-internal nor the source-checkout schema directory exists."""


def _candidate_dirs() -> tuple[Path, Path]:
    """Installed wheel first (package-internal copy), then the source checkout."""
    here = Path(__file__).resolve().parent
    return here / "schemas", here.parent / "schemas"


def schema_dir() -> Path:
    """Return the directory holding the schema files (the first candidate with `common.json`)."""
    candidates = _candidate_dirs()
    for candidate in candidates:
        if (candidate / COMMON_FILE).is_file():
            return candidate
    names = " nor ".join(str(c) for c in candidates)
    raise SchemaDirNotFoundError(f"No schema directory found: neither {names} contains {COMMON_FILE}.")


def load_schema(event_type: str) -> dict[str, Any]:
    """Return the self-contained JSON schema of one event type's stream.

    Results are cached; each call returns a fresh deep copy, so callers may mutate it.
    """
    if event_type not in EVENT_TYPES and event_type != OTHER_EVENTS_KEY:
        raise ValueError(f"Unknown event type {event_type!r}; expected one of {', '.join(EVENT_TYPES)}.")
    return cast(dict[str, Any], _copy_json(_resolved_schema(stream_name(event_type))))


def load_baseline_schema(name: str) -> dict[str, Any]:
    """Return the self-contained JSON schema of a baseline stream (or of `baselines`), as `load_schema`."""
    if name not in BASELINE_BY_NAME and name != BASELINES_STREAM:
        raise ValueError(f"Unknown baseline stream {name!r}; expected one of {', '.join(BASELINE_BY_NAME)}.")
    return cast(dict[str, Any], _copy_json(_resolved_schema(name)))


@functools.cache
def _resolved_schema(stream: str) -> dict[str, Any]:
    resolver = _Resolver(schema_dir())
    file_name = f"{stream}.json"
    return cast(dict[str, Any], resolver.schema(resolver.document(file_name), file_name, ()))


class _Resolver:
    """Inlines `$ref`s of the form `[file.json]#/json/pointer`, relative to the schema directory."""

    def __init__(self, base: Path) -> None:
        self._base = base
        self._documents: dict[str, Any] = {}

    def document(self, file_name: str) -> Any:
        if file_name not in self._documents:
            path = self._base / file_name
            if not path.is_file():
                raise FileNotFoundError(f"Schema file {path} does not exist.")
            self._documents[file_name] = json.loads(path.read_text(encoding="utf-8"))
        return self._documents[file_name]

    def schema(self, node: Any, file_name: str, seen: tuple[tuple[str, str], ...]) -> Any:
        """Resolve one schema node; `seen` holds the refs being expanded, to report cycles."""
        if not isinstance(node, dict):
            return _copy_json(node)  # boolean schemas, or literal values
        if "$ref" in node:
            return self._ref(node, file_name, seen)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED:
                continue
            if key in _SCHEMA_MAPS:
                out[key] = {name: self.schema(sub, file_name, seen) for name, sub in value.items()}
            elif key in _SCHEMA_LISTS or (key in _SCHEMA_VALUES and isinstance(value, list)):
                out[key] = [self.schema(sub, file_name, seen) for sub in value]
            elif key in _SCHEMA_VALUES:
                out[key] = self.schema(value, file_name, seen)
            else:
                out[key] = _copy_json(value)
        return out

    def _ref(self, node: dict[str, Any], file_name: str, seen: tuple[tuple[str, str], ...]) -> Any:
        target_file, _, pointer = node["$ref"].partition("#")
        target_file = target_file or file_name
        key = (target_file, pointer)
        if key in seen:
            raise ValueError(f"Cyclic $ref {node['$ref']!r} in {file_name}.")
        target = _follow_pointer(self.document(target_file), pointer, node["$ref"])
        resolved = self.schema(target, target_file, (*seen, key))
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        if siblings:
            resolved = {**resolved, **self.schema(siblings, file_name, seen)}
        return resolved


def _follow_pointer(document: Any, pointer: str, ref: str) -> Any:
    """Follow a JSON pointer (RFC 6901) such as `/definitions/user`."""
    node = document
    for raw in pointer.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"$ref {ref!r} points to nothing.") from exc
    return node


def _copy_json(value: Any) -> Any:
    """A copy of parsed JSON (dicts and lists rebuilt, the rest shared): deepcopy's result at a fifth
    of its cost, which was most of loading the schemas at start-up."""
    if type(value) is dict:
        return {key: _copy_json(item) for key, item in value.items()}
    if type(value) is list:
        return [_copy_json(item) for item in value]
    return value
