"""The 25 Auth0 event types and the Singer stream name of each.

One table, used by the streams, the schemas, the emulator and the tests, so that a type
is never spelled twice.
"""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "user.created",
    "user.updated",
    "user.deleted",
    "organization.created",
    "organization.updated",
    "organization.deleted",
    "organization.connection.added",
    "organization.connection.updated",
    "organization.connection.removed",
    "organization.member.added",
    "organization.member.deleted",
    "organization.member.role.assigned",
    "organization.member.role.deleted",
    "organization.group.role.assigned",
    "organization.group.role.deleted",
    "group.created",
    "group.updated",
    "group.deleted",
    "group.member.added",
    "group.member.deleted",
    "group.role.assigned",
    "group.role.deleted",
    "connection.created",
    "connection.updated",
    "connection.deleted",
)


def stream_name(event_type: str) -> str:
    """`user.created` -> `user_created` (Meltano select patterns split on dots)."""
    return event_type.replace(".", "_")


STREAM_NAMES: dict[str, str] = {event_type: stream_name(event_type) for event_type in EVENT_TYPES}
EVENT_TYPE_BY_STREAM: dict[str, str] = {name: event_type for event_type, name in STREAM_NAMES.items()}
