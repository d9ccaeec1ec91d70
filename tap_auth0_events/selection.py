"""Which streams a Singer catalog selects, read the way the Singer SDK reads it, without the SDK.

Only for catalogs the plain sync can run unchanged: every stream of the tap listed once, default
keys, and no field deselected in a selected stream. For anything else `plain_selection` answers
None and the caller hands the run to the SDK, which then also gives its own messages.
"""

from __future__ import annotations

from typing import Any

from tap_auth0_events.event_types import EVENT_TYPES, stream_name

KEY_PROPERTIES = ["event_id"]
REPLICATION_KEY = "event_time"
STREAM_NAMES = tuple(stream_name(event_type) for event_type in EVENT_TYPES)

Breadcrumb = tuple[str, ...]


def plain_selection(catalog: Any) -> list[str] | None:
    """The selected stream names in the tap's order, or None when the catalog needs the SDK."""
    entries: dict[str, dict[str, Any]] = {}
    for entry in catalog.get("streams", ()) if isinstance(catalog, dict) else ():
        stream_id = entry.get("tap_stream_id") if isinstance(entry, dict) else None
        if stream_id not in STREAM_NAMES or stream_id in entries:
            return None
        entries[stream_id] = entry
    if len(entries) != len(STREAM_NAMES):
        return None
    selected = []
    for name in STREAM_NAMES:
        entry = entries[name]
        metadata = _metadata(entry.get("metadata", []))
        if metadata is None or not _default_keys(entry, metadata.get((), {})):
            return None
        mask = {breadcrumb: _is_selected(metadata, breadcrumb) for breadcrumb in metadata}
        if mask.get((), True):  # a stream without stream-level metadata is selected
            if not all(mask.values()):
                return None  # a deselected field: the SDK drops it from each record
            selected.append(name)
    return selected


def _metadata(items: Any) -> dict[Breadcrumb, dict[str, Any]] | None:
    """Breadcrumb -> metadata, or None when anything is not in the shape the SDK reads."""
    if not isinstance(items, list):
        return None
    metadata: dict[Breadcrumb, dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("breadcrumb"), list):
            return None
        values = item.get("metadata", {})
        if not isinstance(values, dict):
            return None
        for key in ("selected", "selected-by-default"):
            if values.get(key) not in (None, True, False):
                return None
        metadata[tuple(item["breadcrumb"])] = values
    return metadata


def _default_keys(entry: dict[str, Any], root: dict[str, Any]) -> bool:
    """True when the catalog leaves the SCHEMA message's keys as discovered (as the SDK resolves them)."""
    keys = entry.get("key_properties") or root.get("table-key-properties") or []
    replication_key = entry.get("replication_key") or root.get("replication-key")
    return list(keys) == KEY_PROPERTIES and replication_key == REPLICATION_KEY


def _is_selected(metadata: dict[Breadcrumb, dict[str, Any]], breadcrumb: Breadcrumb) -> bool:
    """Selection of one breadcrumb: the rules of singer_sdk's MetadataMapping._breadcrumb_is_selected."""
    if not metadata:
        return True
    entry = metadata.get(breadcrumb, {})
    parent = None
    if breadcrumb:
        parent = _is_selected(metadata, breadcrumb[:-2])
    if parent is False:
        return False
    inclusion = entry.get("inclusion")
    if inclusion == "unsupported":
        return False
    if inclusion == "automatic":
        return True
    if entry.get("selected") is not None:
        return entry["selected"]
    if entry.get("selected-by-default") is not None:
        return entry["selected-by-default"]
    return parent or False
