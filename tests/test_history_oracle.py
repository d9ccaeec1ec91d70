"""The history oracle (tests/history_oracle.py) itself, in process: it must agree with the
generator's world at every instant the world was copied, whatever the arrival order, and follow
the ordering rules on hand-made ties. The warehouse tests then hold the models to it.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from history_oracle import FAMILIES, Oracle, check_oracle_against_world, parse_time
from tenant_life import Tenant

T0 = datetime(2026, 3, 1, 12, 0, 0)


def _event(event_id: str, event_type: str, moment: datetime, obj: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return {"id": event_id, "type": event_type, "time": stamp, "data": {"object": obj}, **envelope}


def _user(updated: datetime, email: str = "a@example.org") -> dict[str, Any]:
    stamp = updated.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {"user_id": "auth0|a", "email": email, "created_at": stamp, "updated_at": stamp}


def test_the_oracle_replays_the_world_at_every_copied_instant_whatever_the_arrival_order() -> None:
    rng = random.Random(16)
    tenant = Tenant(rng, "acme-demo")
    events = tenant.events(2500)
    assert len(tenant.snapshots) >= 20
    # Delivered shuffled, some twice: the same history.
    arrived = [*events, *rng.sample(events, 200)]
    rng.shuffle(arrived)
    ordered, shuffled = Oracle(events), Oracle(arrived)
    for family in FAMILIES:
        assert ordered.versions(family.name) == shuffled.versions(family.name), family.name
    for shot in tenant.snapshots:
        check_oracle_against_world(shuffled, shot)
    # The world at the end is the state after the newest event.
    assert set(shuffled.state_at("users", shuffled.newest_time)) == {(key,) for key in tenant.world.users}
    kinds = {family.name: len(shuffled.versions(family.name)) for family in FAMILIES}
    assert all(kinds.values()), f"every family has versions: {kinds}"
    assert tenant.recreated >= 1 and tenant.test_events >= 1


def test_versions_follow_time_then_updated_at_then_the_life_cycle_step() -> None:
    t = [T0 + timedelta(minutes=minute) for minute in range(6)]
    events = [
        _event("evt_1", "user.created", t[0], _user(t[0])),
        # Two updates stamped with the same time: the newer updated_at wins, whatever the ids say.
        _event("evt_9", "user.updated", t[1], _user(t[1], "old@example.org")),
        _event("evt_2", "user.updated", t[1], _user(t[1] + timedelta(seconds=1), "new@example.org")),
        _event("evt_3", "user.deleted", t[2], _user(t[1])),
        # Created again with the same id, and deleted in the same millisecond: the deletion wins.
        _event("evt_4", "user.created", t[3], _user(t[3])),
        _event("evt_5", "user.deleted", t[3], _user(t[3])),
        _event("evt_6", "user.created", t[4], _user(t[4], "back@example.org")),
        # A test event says nothing.
        _event("evt_7", "user.deleted", t[5], _user(t[4]), a0purpose="test"),
    ]
    oracle = Oracle([*reversed(events), events[1]])
    versions = [(v.valid_from, v.valid_to, v.event_id) for v in oracle.versions("users")]
    assert versions == [(t[0], t[1], "evt_1"), (t[1], t[2], "evt_2"), (t[4], None, "evt_6")]
    emails = {
        moment: oracle.state_at("users", moment).get(("auth0|a",), {}).get("email")
        for moment in (t[1] - timedelta(milliseconds=1), t[1], t[2] - timedelta(milliseconds=1), t[2], t[3], t[4])
    }
    assert list(emails.values()) == [
        "a@example.org",
        "new@example.org",
        "new@example.org",
        None,
        None,
        "back@example.org",
    ]
    day = t[0].date()
    assert oracle.transitions_on("users", day) == (2, 1), "a life within one instant is no life"
    assert oracle.newest_time == t[4], "the test event is not a loaded change"
    assert parse_time("2026-03-01T12:00:00.250Z") == T0 + timedelta(milliseconds=250)
    assert oracle.transitions_on("users", date(2026, 3, 2)) == (0, 0)
