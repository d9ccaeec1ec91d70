"""The baseline streams: the tenant as the Management API shows it, one stream per entity and relation.

Events exist only from the moment a tenant enabled them; a baseline reads what existed before from
the Management API v2, and the models order its records against the events by time. One table,
used by the streams, the schemas, the emulator, the models' tests and the docs, so that a baseline
stream is never spelled twice (as `event_types.py` is for the event streams).

The shape of every baseline record (docs/baseline.md says it for the models):

- `event_id`: `bl_` and a hash of the baseline's id, the stream and the entity's key values
  (`baseline_event_id`): the same entity read twice in one baseline (a page read again after a
  kill) is the same row, and each baseline gives it a new one. The primary key, as for events.
- `event_type`: the stream's `<kind>.baseline` type (`user.baseline`, `organization.member.baseline`).
- `event_time`: the moment the record was read, in Auth0's clock: the `Date` header of the answer
  it came in (for users, of the `POST /jobs/users-exports` answer that created the export, the
  earliest moment the file can show). An event at or after it wins over it.
- `baseline_id`: which baseline it belongs to (`bsl_` and the UTC time the baseline started).
- `object`: the entity in the shape of its event's `data.object` (`mirrors`): the key at the same
  JSON paths (`key_paths`), so the models read both with one expression.

When a stream's read is complete, the `baselines` stream gets one record for it (`BASELINES_STREAM`):
a baseline stream without that record is unfinished, and a model must not read absence into it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

BASELINE_TYPE_SUFFIX = ".baseline"
# The completion record of each baseline stream: key (baseline_id, stream).
BASELINES_STREAM = "baselines"
BASELINES_KEY_PROPERTIES: tuple[str, ...] = ("baseline_id", "stream")


@dataclass(frozen=True, slots=True)
class BaselineStream:
    """One baseline stream: its Singer name, its record type, the event type whose `data.object`
    shape its `object` copies, its key (name, JSON path in `object`), and the scopes its read needs."""

    name: str
    kind: str
    mirrors: str
    key_paths: tuple[tuple[str, tuple[str, ...]], ...]
    scopes: tuple[str, ...]

    @property
    def event_type(self) -> str:
        """`user.baseline`, `organization.member.baseline`, ...: the kind in the events' spelling."""
        return self.mirrors.rsplit(".", 1)[0] + BASELINE_TYPE_SUFFIX


BASELINE_STREAMS: tuple[BaselineStream, ...] = (
    BaselineStream("baseline_users", "user", "user.created", (("user_id", ("user_id",)),), ("read:users",)),
    BaselineStream(
        "baseline_organizations",
        "organization",
        "organization.created",
        (("organization_id", ("id",)),),
        ("read:organizations",),
    ),
    BaselineStream(
        "baseline_organization_members",
        "organization_member",
        "organization.member.added",
        (("organization_id", ("organization", "id")), ("user_id", ("user", "user_id"))),
        ("read:organizations", "read:organization_members"),
    ),
    BaselineStream(
        "baseline_organization_member_roles",
        "organization_member_role",
        "organization.member.role.assigned",
        (("organization_id", ("organization", "id")), ("user_id", ("user", "user_id")), ("role_id", ("role", "id"))),
        ("read:organizations", "read:organization_members", "read:organization_member_roles"),
    ),
    BaselineStream(
        "baseline_organization_connections",
        "organization_connection",
        "organization.connection.added",
        (("organization_id", ("organization", "id")), ("connection_id", ("connection", "id"))),
        ("read:organizations", "read:organization_connections"),
    ),
    BaselineStream(
        "baseline_organization_group_roles",
        "organization_group_role",
        "organization.group.role.assigned",
        (("organization_id", ("organization", "id")), ("group_id", ("group", "id")), ("role_id", ("role", "id"))),
        ("read:organizations", "read:organization_groups", "read:organization_group_roles"),
    ),
    BaselineStream("baseline_groups", "group", "group.created", (("group_id", ("id",)),), ("read:groups",)),
    BaselineStream(
        "baseline_group_members",
        "group_member",
        "group.member.added",
        (("group_id", ("group", "id")), ("member_id", ("member", "id"))),
        ("read:groups", "read:group_members"),
    ),
    BaselineStream(
        "baseline_group_roles",
        "group_role",
        "group.role.assigned",
        (("group_id", ("group", "id")), ("role_id", ("role", "id"))),
        ("read:groups", "read:group_roles"),
    ),
    BaselineStream(
        "baseline_connections", "connection", "connection.created", (("connection_id", ("id",)),), ("read:connections",)
    ),
)
BASELINE_BY_NAME = {stream.name: stream for stream in BASELINE_STREAMS}


def baseline_id_at(started_at: str) -> str:
    """The id of a baseline that started at `started_at` (ISO 8601 UTC): `bsl_20261207T053000Z`."""
    digits = started_at.replace("-", "").replace(":", "")
    return "bsl_" + digits[:15] + "Z"


def baseline_event_id(baseline_id: str, stream: str, key: tuple[str, ...]) -> str:
    """The record id of one entity in one baseline: the same for the same entity read twice."""
    text = "\x1f".join((baseline_id, stream, *key))
    return "bl_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
