"""The random life of a tenant, for the warehouse tests: events in time order from a generator whose
world is the truth, plus entities deleted and created again with the same id and forged test
events; and copies of that world taken now and then (`snapshots`), to compare the history models
with what was true at an instant.
"""

from __future__ import annotations

import copy
import random
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from history_oracle import Snapshot, snapshot

from tap_auth0_events.emulator.generator import EventGenerator, World

# How often the world is copied: about once every SNAPSHOT_EVERY events.
SNAPSHOT_EVERY = 60

# Deletions forced now and then (the generator alone deletes rarely in a young tenant), with
# what must exist for them (so the generator never invents a prerequisite without an event).
FORCED = {
    "user.deleted": "users",
    "organization.deleted": "organizations",
    "group.deleted": "groups",
    "organization.member.deleted": "organization_members",
    "group.member.deleted": "group_members",
    "organization.member.role.deleted": "member_roles",
    "connection.deleted": "enterprise_connections",
}


class Tenant:
    """Events in time order from a generator whose world is the truth, plus re-creations."""

    def __init__(self, rng: random.Random, tenant: str) -> None:
        self.rng = rng
        # Test events ("a0purpose": "test") at 5 % of the generator's own events, plus forged ones below.
        self.generator = EventGenerator(seed=rng.randrange(1 << 30), tenant=tenant, test_event_share=0.05)
        self.moment = datetime.now(timezone.utc) - timedelta(days=60)
        self.deleted_users: list[dict[str, Any]] = []
        self.deleted_organizations: list[dict[str, Any]] = []
        self.recreated = 0
        self.test_events = 0  # forged test deletions of existing users
        self.ties = 0  # pairs of updates of one user at the same instant
        # The world now and then, half a second after an event (the next comes a second or more
        # later): what was true at that instant. Its own random source, so that the events are
        # the same as without it.
        self.snapshots: list[Snapshot] = []
        self._snapshot_rng = random.Random(f"snapshots of {tenant}")

    @property
    def world(self) -> World:
        return self.generator.world

    def _stamp(self) -> datetime:
        self.moment += timedelta(seconds=self.rng.choice([1, 5, 30, 60, 600]))
        return self.moment

    def events(self, count: int) -> list[dict[str, Any]]:
        made = []
        for _ in range(count):
            made.extend(self._events())
            if self._snapshot_rng.random() < 1 / SNAPSHOT_EVERY:
                moment = self.moment.astimezone(timezone.utc).replace(tzinfo=None) + timedelta(milliseconds=500)
                self.snapshots.append(snapshot(self.world, moment))
        assert self.world.unannounced == [], "every entity came with an event"
        return made

    def _events(self) -> list[dict[str, Any]]:
        if self.rng.random() < 0.02 and self.world.users:
            return self._same_instant_updates()
        return [self._event()]

    def _same_instant_updates(self) -> list[dict[str, Any]]:
        """Two updates of one user stamped with the same millisecond: the newer updated_at wins,
        or with the same updated_at the larger event id (the other is in effect at no instant)."""
        user_id = self.world.user_ids.choice(self.rng)
        moment = self._stamp()
        when = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        earlier = (moment - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        same_updated_at = self.rng.random() < 0.5
        made: list[dict[str, Any]] = []
        for number in range(2):
            obj = copy.deepcopy(self.world.users[user_id])
            obj["email"] = f"tie-{number}-{secrets.token_hex(3)}@example.org"
            obj["updated_at"] = when if same_updated_at or number == 1 else earlier
            made.append(
                {
                    "specversion": "1.0",
                    "type": "user.updated",
                    "source": "urn:auth0:tie",
                    "id": "evt_" + secrets.token_hex(11),
                    "a0tenant": "acme-demo",
                    "a0stream": "est_test",
                    "time": when,
                    "data": {"object": obj},
                }
            )
        winner = max(made, key=lambda event: event["id"]) if same_updated_at else made[1]
        self.world.users[user_id] = copy.deepcopy(winner["data"]["object"])
        self.ties += 1
        return made

    def _event(self) -> dict[str, Any]:
        choice = self.rng.random()
        if choice < 0.04 and self.deleted_users:
            return self._recreate(self.deleted_users, "user.created", "user_id", "users", "user_ids")
        if choice < 0.06 and self.deleted_organizations:
            return self._recreate(
                self.deleted_organizations, "organization.created", "id", "organizations", "organization_ids"
            )
        if choice < 0.09 and self.world.users:
            return self._test_deletion()
        forced = None
        if choice > 0.88:
            event_type = self.rng.choice(sorted(FORCED))
            if len(getattr(self.world, FORCED[event_type])):
                forced = event_type
        event = self.generator.next_event(time=self._stamp(), event_type=forced)
        cascade(self.world, event)
        if event["type"] == "user.deleted":
            self.deleted_users.append(event)
        elif event["type"] == "organization.deleted":
            self.deleted_organizations.append(event)
        return event

    def _test_deletion(self) -> dict[str, Any]:
        """A test event that, were it taken for real, would delete an existing user: the models ignore it."""
        user_id = self.world.user_ids.choice(self.rng)
        moment = self._stamp()
        self.test_events += 1
        return {
            "specversion": "1.0",
            "type": "user.deleted",
            "source": "urn:auth0:test",
            "a0purpose": "test",
            "id": "evt_" + secrets.token_hex(11),
            "a0tenant": "acme-demo",
            "a0stream": "est_test",
            "time": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
            "data": {"object": {**copy.deepcopy(self.world.users[user_id]), "deleted_at": "2026-01-01T00:00:00.000Z"}},
        }

    def _recreate(
        self, deleted: list[dict[str, Any]], event_type: str, key: str, table: str, index: str
    ) -> dict[str, Any]:
        """An entity deleted earlier is created again with the same id (and joins the world again)."""
        gone = deleted.pop(self.rng.randrange(len(deleted)))
        obj = copy.deepcopy(gone["data"]["object"])
        obj.pop("deleted_at", None)
        if event_type == "organization.created":  # organization.deleted leaves branding out
            colors = {"primary": "#000000", "page_background": "#ffffff"}
            obj["branding"] = {"logo_url": "https://cdn.example.org/again.png", "colors": colors}
        moment = self._stamp()
        when = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        if "updated_at" in obj:
            obj["updated_at"] = when
        if obj[key] in getattr(self.world, table):  # created again meanwhile by the generator: skip
            return self.generator.next_event(time=moment)
        getattr(self.world, table)[obj[key]] = obj
        getattr(self.world, index).add(obj[key])
        self.recreated += 1
        event = copy.deepcopy(gone)
        event.update(
            {
                "type": event_type,
                "id": "evt_" + secrets.token_hex(11),
                "time": when,
                "data": {"object": copy.deepcopy(obj)},
            }
        )
        return event


def cascade(world: World, event: dict[str, Any]) -> None:
    """What Auth0 removes with a deleted user, organization, group or connection (the generator's
    world keeps it): a user's memberships, member roles and group memberships; an organization's
    members, member roles, connections and group roles; a group's members, roles and organization
    roles; a connection's organization connections and group memberships."""
    obj = event["data"]["object"]
    removed: list[tuple[Any, int, str]] = []
    if event["type"] == "user.deleted":
        removed = [(world.organization_members, 1, obj["user_id"]), (world.member_roles, 1, obj["user_id"])]
        removed.append((world.group_members, 1, obj["user_id"]))
    elif event["type"] == "organization.deleted":
        removed = [(world.organization_members, 0, obj["id"]), (world.member_roles, 0, obj["id"])]
        removed += [(world.organization_group_roles, 0, obj["id"]), (world.organization_connection_keys, 0, obj["id"])]
        for key in [key for key in world.organization_connections if key[0] == obj["id"]]:
            del world.organization_connections[key]
    elif event["type"] == "group.deleted":
        removed = [(world.group_members, 0, obj["id"]), (world.group_roles, 0, obj["id"])]
        removed.append((world.organization_group_roles, 1, obj["id"]))
    elif event["type"] == "connection.deleted":
        removed = [(world.group_members, 1, obj["id"]), (world.organization_connection_keys, 1, obj["id"])]
        for key in [key for key in world.organization_connections if key[1] == obj["id"]]:
            del world.organization_connections[key]
    for relation, index, entity_id in removed:
        for key in [key for key in relation if key[index] == entity_id]:
            relation.discard(key)
