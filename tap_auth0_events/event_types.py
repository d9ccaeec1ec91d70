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


# Events of a type this version has no stream for are not dropped: they go to one catch-all
# stream, which the engine knows by this key in place of an event type.
OTHER_EVENTS_KEY = "*"
OTHER_EVENTS_STREAM = "other_events"
# Every stream's key: one per event type, and the catch-all.
STREAM_KEYS: tuple[str, ...] = (*EVENT_TYPES, OTHER_EVENTS_KEY)


def stream_name(event_type: str) -> str:
    """`user.created` -> `user_created` (Meltano select patterns split on dots); the catch-all key -> other_events."""
    if event_type == OTHER_EVENTS_KEY:
        return OTHER_EVENTS_STREAM
    return event_type.replace(".", "_")
