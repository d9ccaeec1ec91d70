"""Turn one Events API message into one Singer record.

The record keeps every field of the event: known envelope keys become columns, the payload
keeps its shape, and any envelope key this version does not know lands in `extensions`.
"""

from __future__ import annotations

from typing import Any

ENVELOPE_COLUMNS = ("source", "specversion", "a0tenant", "a0stream", "a0purpose")
KNOWN_ENVELOPE_KEYS = frozenset(("id", "type", "time", "data", *ENVELOPE_COLUMNS))
PAYLOAD_COLUMNS = ("object", "previous_object", "context")
KNOWN_PAYLOAD_KEYS = frozenset(PAYLOAD_COLUMNS)


class MalformedEventError(ValueError):
    """The message parsed as JSON but is not an Auth0 event (no event id, type or time)."""


def parse_message(payload: Any) -> tuple[str | None, dict[str, Any]]:
    """Split a decoded `data:` JSON into (offset, CloudEvent)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), dict):
        raise MalformedEventError("message has no `event` object")
    event = payload["event"]
    for key in ("id", "type", "time"):
        if not isinstance(event.get(key), str):
            raise MalformedEventError(f"event has no string `{key}`")
    offset = payload.get("offset")
    return (offset if isinstance(offset, str) else None), event


def build_record(event: dict[str, Any], offset: str) -> dict[str, Any]:
    """The Singer record for a CloudEvent delivered at `offset`."""
    record: dict[str, Any] = {
        "event_id": event["id"],
        "event_type": event["type"],
        "event_time": event["time"],
        "event_offset": offset,
    }
    for key in ENVELOPE_COLUMNS:
        if key in event:
            record[key] = event[key]
    data = event.get("data")
    if isinstance(data, dict):
        for key in PAYLOAD_COLUMNS:
            if key in data:
                record[key] = data[key]
    extensions = _unknown_keys(event, data)
    if extensions:
        record["extensions"] = extensions
    return record


def _unknown_keys(event: dict[str, Any], data: Any) -> dict[str, Any] | None:
    """Envelope and payload keys this version does not model, kept verbatim instead of dropped."""
    extra: dict[str, Any] = {}
    if len(event) > len(KNOWN_ENVELOPE_KEYS) or not KNOWN_ENVELOPE_KEYS.issuperset(event):
        extra.update({key: value for key, value in event.items() if key not in KNOWN_ENVELOPE_KEYS})
    if isinstance(data, dict):
        if not KNOWN_PAYLOAD_KEYS.issuperset(data):
            extra["data"] = {key: value for key, value in data.items() if key not in KNOWN_PAYLOAD_KEYS}
    elif data is not None:
        extra["data"] = data
    return extra or None
