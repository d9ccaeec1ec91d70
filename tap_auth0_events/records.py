"""Turn one Events API message into one Singer record.

The record keeps every field of the event: known envelope keys become columns, the payload
keeps its shape, and any envelope key this version does not know lands in `extensions`.

Two codecs `decode` a message's `data:` bytes into its record:

- `DictCodec`: the event as Python dicts (orjson), the record as a dict. Stream maps, flattening
  and field selection need that; it is the reference for what a record holds.
- `RawCodec` (the fast path): the record as encoded JSON, made without turning the payload into
  Python objects. msgspec checks the whole message's JSON syntax, reads the envelope, and keeps
  `object`, `previous_object`, `context` and the envelope columns as raw JSON text, written into the
  record as they came. A message of any other shape (an unknown key, which goes to `extensions`, a
  missing field, a wrong type, broken JSON, text that is not UTF-8) goes through `DictCodec`, so
  the result and the error are always the ones `DictCodec` gives.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson

from tap_auth0_events.vocabulary import DecodedEvent

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
        if KNOWN_PAYLOAD_KEYS.issuperset(data) and KNOWN_ENVELOPE_KEYS.issuperset(event):
            return record  # the usual case: nothing this version does not know
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


def load_json(data: bytes | str) -> Any:
    """`orjson.loads`, where bytes that are not valid UTF-8 read as an SSE client decodes them.

    An SSE stream is UTF-8 text; a client decodes it with replacement characters for invalid
    bytes. Parsing the bytes directly skips that decoding, so only when orjson refuses the bytes,
    and they are not valid UTF-8, are they decoded with replacement and parsed again.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        if isinstance(data, str):
            raise
        text = bytes(data).decode("utf-8", "replace")
        if text.encode("utf-8") == data:
            raise  # valid UTF-8: the JSON itself is broken
        return orjson.loads(text)


class DictCodec:
    """Records as dicts: what stream maps and the SDK's record pipeline take."""

    __slots__ = ()

    @staticmethod
    def json_value(text: bytes) -> Any:
        """A JSON text (a baseline's exported user) as Python values."""
        return orjson.loads(text)

    @staticmethod
    def decode(data: bytes | str, sse_id: str | None) -> DecodedEvent:
        offset, event = parse_message(load_json(data))
        offset = offset or sse_id
        return offset, event["type"], event["time"], build_record(event, offset)  # type: ignore[arg-type]


class _Payload(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    object: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    previous_object: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    context: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


class _Event(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    id: str
    type: str
    time: str
    specversion: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    source: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    a0tenant: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    a0stream: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    a0purpose: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    data: _Payload | msgspec.UnsetType = msgspec.UNSET


class _Message(msgspec.Struct, gc=False):
    offset: str | None = None
    event: _Event | None = None


class _Record(msgspec.Struct, omit_defaults=True, gc=False):
    """`build_record`'s keys, in its order; UNSET fields are left out."""

    event_id: str
    event_type: str
    event_time: str
    event_offset: str | None
    source: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    specversion: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    a0tenant: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    a0stream: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    a0purpose: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    object: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    previous_object: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    context: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_decode_message = msgspec.json.Decoder(_Message).decode
_UNSET = msgspec.UNSET
_DecodeError = msgspec.DecodeError  # ValidationError is one too


class RawCodec:
    """The fast path: records ready to write as JSON, the payload kept as the raw JSON it came as.

    A record is a msgspec struct (encoded by msgspec where it is written) or, for a message of
    unusual shape, its JSON as `msgspec.Raw`. Either way its JSON is `orjson.dumps` of
    `DictCodec`'s record, up to how the JSON is spelled (`1.0` stays `1.0`, an escaped `\\u00e9`
    stays escaped, and so on).
    """

    __slots__ = ()

    @staticmethod
    def json_value(text: bytes) -> Any:
        """A JSON text (checked by its reader) kept as it came, written into the record verbatim."""
        return msgspec.Raw(text)

    @staticmethod
    def decode(data: bytes, sse_id: str | None) -> DecodedEvent:
        if type(data) is bytes:  # a memoryview or str goes through DictCodec
            try:
                message = _decode_message(data)
                if not data.isascii():
                    # msgspec checks UTF-8 only where it makes strings; the raw parts must be valid too.
                    data.decode("utf-8")
            except (_DecodeError, UnicodeDecodeError):
                pass  # not the usual shape, not JSON, or not UTF-8: DictCodec decides, and words any error
            else:
                event = message.event
                if event is not None:
                    offset = message.offset or sse_id
                    payload = event.data
                    if payload is _UNSET:
                        record = _Record(
                            event.id, event.type, event.time, offset,
                            event.source, event.specversion, event.a0tenant, event.a0stream, event.a0purpose,
                        )  # fmt: skip
                    else:
                        record = _Record(
                            event.id, event.type, event.time, offset,
                            event.source, event.specversion, event.a0tenant, event.a0stream, event.a0purpose,
                            payload.object, payload.previous_object, payload.context,
                        )  # fmt: skip
                    return offset, event.type, event.time, record
        offset, event_type, event_time, record = DictCodec.decode(data, sse_id)
        return offset, event_type, event_time, msgspec.Raw(orjson.dumps(record))
