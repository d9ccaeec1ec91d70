"""The emulator's invariant: at any instant, every Management API list answer (over HTTP, paged to
the end) equals the world before the log replayed with the log's events up to that instant.

The replay here is independent of the emulator's `World`: it starts from `tenant_before_log()` and
applies each event's payload, with Auth0's silent cascade (a deleted user leaves no memberships, an
organization no members, connections or group roles, a group no members or roles, a connection no
organization connections or group memberships)."""

from __future__ import annotations

import gzip
import json
import random
import time
from typing import Any

import pytest
import requests
from conftest import management_config

from tap_auth0_events.emulator.server import Emulator, EmulatorConfig, StoredEvent
from tap_auth0_events.event_types import EVENT_TYPES

AUTH = {"Authorization": "Bearer emulator-token"}
Obj = dict[str, Any]


def small(seed: int, **overrides: Any) -> EmulatorConfig:
    sizes = {"initial_events": 0, "users_before": 60, "organizations_before": 8, "members_per_organization": 6}
    return management_config(**{"seed": seed, **sizes, "export_pending_seconds": 0.0, **overrides})


# --- the replay ------------------------------------------------------------------------------------


class Replay:
    """The tenant as the events say it is, from the world before the log."""

    def __init__(self, before: dict[str, Any]) -> None:
        self.roles = {role["id"]: role["name"] for role in before["roles"]}
        self.users = {user["user_id"]: user for user in before["users"]}
        self.organizations = {org["id"]: org for org in before["organizations"]}
        self.members: dict[str, dict[str, set[str]]] = {
            org: {row["user_id"]: {role["id"] for role in row["roles"]} for row in rows}
            for org, rows in before["organization_members"].items()
        }
        self.org_connections: dict[str, dict[str, Obj]] = {
            org: {row["connection_id"]: row for row in rows} for org, rows in before["organization_connections"].items()
        }
        self.groups = {group["id"]: group for group in before["groups"]}
        self.group_members: dict[str, dict[str, Obj]] = {
            group: {row["id"]: row for row in rows} for group, rows in before["group_members"].items()
        }
        self.group_roles: dict[str, set[str]] = {
            group: {role["id"] for role in rows} for group, rows in before["group_roles"].items()
        }
        self.org_group_roles: dict[tuple[str, str], set[str]] = {
            key: {role["id"] for role in rows} for key, rows in before["organization_group_roles"].items()
        }
        self.connections = {connection["id"]: connection for connection in before["connections"]}

    def apply(self, event: Obj) -> None:
        event_type = event["type"]
        if event.get("a0purpose") == "test" or event_type not in EVENT_TYPES:
            return
        obj = event["data"]["object"]
        family, _, action = event_type.rpartition(".")
        if family == "user":
            if action == "deleted":
                self._delete_user(obj["user_id"])
            else:
                self.users[obj["user_id"]] = obj
        elif family == "organization":
            if action == "deleted":
                self._delete_organization(obj["id"])
            else:
                self.organizations[obj["id"]] = obj
                self.members.setdefault(obj["id"], {})
                self.org_connections.setdefault(obj["id"], {})
        elif family == "organization.connection":
            org, con = obj["organization"]["id"], obj["connection"]["id"]
            if action == "removed":
                del self.org_connections[org][con]
            else:
                connection = self.connections[con]
                self.org_connections[org][con] = {
                    "connection_id": con,
                    "assign_membership_on_login": bool(obj.get("assign_membership_on_login", False)),
                    "show_as_button": bool(obj.get("show_as_button", True)),
                    "is_signup_enabled": bool(obj.get("is_signup_enabled", False)),
                    "connection": {"name": connection["name"], "strategy": connection["strategy"]},
                }
        elif family == "organization.member":
            org, user = obj["organization"]["id"], obj["user"]["user_id"]
            if action == "added":
                assert user not in self.members[org], f"{user} is already a member of {org}"
                self.members[org][user] = set()
            else:
                del self.members[org][user]
        elif family == "organization.member.role":
            roles = self.members[obj["organization"]["id"]][obj["user"]["user_id"]]
            (roles.add if action == "assigned" else roles.remove)(obj["role"]["id"])
        elif family == "organization.group.role":
            key = (obj["organization"]["id"], obj["group"]["id"])
            roles = self.org_group_roles.setdefault(key, set())
            (roles.add if action == "assigned" else roles.remove)(obj["role"]["id"])
        elif family == "group":
            if action == "deleted":
                self._delete_group(obj["id"])
            else:
                self.groups[obj["id"]] = obj
                self.group_members.setdefault(obj["id"], {})
                self.group_roles.setdefault(obj["id"], set())
        elif family == "group.member":
            group, member = obj["group"]["id"], obj["member"]
            if action == "added":
                kind = member["member_type"]
                row = {"id": member["id"], "member_type": kind, "type": kind, "created_at": event["time"]}
                self.group_members[group][member["id"]] = row
            else:
                del self.group_members[group][member["id"]]
        elif family == "group.role":
            roles = self.group_roles[obj["group"]["id"]]
            (roles.add if action == "assigned" else roles.remove)(obj["role"]["id"])
        elif family == "connection":
            if action == "deleted":
                self._delete_connection(obj["id"])
            else:
                self.connections[obj["id"]] = {
                    "id": obj["id"],
                    "name": obj["name"],
                    "strategy": obj["strategy"],
                    "display_name": obj.get("display_name", obj["name"]),
                    "is_domain_connection": False,
                    "realms": [obj["name"]],
                }
                for settings in self.org_connections.values():  # rows name the connection
                    if obj["id"] in settings:
                        settings[obj["id"]]["connection"] = {"name": obj["name"], "strategy": obj["strategy"]}

    def _delete_user(self, user_id: str) -> None:
        del self.users[user_id]
        for members in self.members.values():
            members.pop(user_id, None)
        for members in self.group_members.values():
            members.pop(user_id, None)

    def _delete_organization(self, org_id: str) -> None:
        del self.organizations[org_id]
        self.members.pop(org_id, None)
        self.org_connections.pop(org_id, None)
        for key in [key for key in self.org_group_roles if key[0] == org_id]:
            del self.org_group_roles[key]

    def _delete_group(self, group_id: str) -> None:
        del self.groups[group_id]
        self.group_members.pop(group_id, None)
        self.group_roles.pop(group_id, None)
        for key in [key for key in self.org_group_roles if key[1] == group_id]:
            del self.org_group_roles[key]

    def _delete_connection(self, con_id: str) -> None:
        del self.connections[con_id]
        for settings in self.org_connections.values():
            settings.pop(con_id, None)
        for members in self.group_members.values():
            members.pop(con_id, None)

    # -- the Management API's answers, as the replay says they must be ------------------------------

    def member_rows(self, org_id: str) -> list[Obj]:
        rows = []
        for user_id in sorted(self.members[org_id]):
            user = self.users[user_id]
            row = {key: user.get(key) for key in ("user_id", "email", "picture", "name")}
            row["roles"] = [{"id": r, "name": self.roles[r]} for r in sorted(self.members[org_id][user_id])]
            rows.append(row)
        return rows

    def organization_groups(self, org_id: str) -> list[Obj]:
        return [self.groups[g] for g in sorted(self.groups) if self.groups[g].get("organization_id") == org_id]

    def role_rows(self, role_ids: set[str]) -> list[Obj]:
        return [{"id": r, "name": self.roles[r]} for r in sorted(role_ids)]


# --- the client ------------------------------------------------------------------------------------


def get(emulator: Emulator, path: str, **params: Any) -> Any:
    answer = requests.get(emulator.url + "/api/v2" + path, headers=AUTH, params=params, timeout=10)
    assert answer.status_code == 200, (path, answer.text)
    return answer.json()


def page_all(emulator: Emulator, path: str, key: str, take: int = 4, **params: Any) -> list[Obj]:
    rows: list[Obj] = []
    cursor = None
    while True:
        body = get(emulator, path, take=take, **params, **({"from": cursor} if cursor else {}))
        rows.extend(body[key])
        cursor = body.get("next")
        if cursor is None:
            return rows


def exported_users(emulator: Emulator) -> list[Obj]:
    job = requests.post(emulator.url + "/api/v2/jobs/users-exports", headers=AUTH, json={"format": "json"}, timeout=10)
    job_id = job.json()["id"]
    for _ in range(100):
        status = get(emulator, f"/jobs/{job_id}")
        if status["status"] == "completed":
            break
        time.sleep(0.01)
    body = requests.get(status["location"], timeout=10).content
    users = [json.loads(line) for line in gzip.decompress(body).splitlines()]
    assert status["summary"]["total"] == len(users)
    return sorted(users, key=lambda user: user["user_id"])


def assert_answers_equal_the_replay(emulator: Emulator, replay: Replay) -> None:
    organizations = page_all(emulator, "/organizations", "organizations")
    assert organizations == [replay.organizations[key] for key in sorted(replay.organizations)]
    for org_id in sorted(replay.organizations):
        members = page_all(emulator, f"/organizations/{org_id}/members", "members", fields="roles")
        assert members == replay.member_rows(org_id), org_id
        connections = get(emulator, f"/organizations/{org_id}/enabled_connections")["enabled_connections"]
        assert connections == [replay.org_connections[org_id][c] for c in sorted(replay.org_connections[org_id])]
        groups = page_all(emulator, f"/organizations/{org_id}/groups", "groups")
        assert groups == replay.organization_groups(org_id)
        for group in groups:
            roles = page_all(emulator, f"/organizations/{org_id}/groups/{group['id']}/roles", "roles")
            assert roles == replay.role_rows(replay.org_group_roles.get((org_id, group["id"]), set()))
    assert page_all(emulator, "/groups", "groups") == [replay.groups[key] for key in sorted(replay.groups)]
    for group_id in sorted(replay.groups):
        members = page_all(emulator, f"/groups/{group_id}/members", "members")
        assert members == [replay.group_members[group_id][m] for m in sorted(replay.group_members[group_id])]
        roles = page_all(emulator, f"/groups/{group_id}/roles", "roles")
        assert roles == replay.role_rows(replay.group_roles[group_id])
    connections = page_all(emulator, "/connections", "connections", take=5)
    assert connections == [replay.connections[key] for key in sorted(replay.connections)]
    assert exported_users(emulator) == [replay.users[key] for key in sorted(replay.users)]


def event_of(stored: StoredEvent) -> Obj:
    return json.loads(stored.frame.split(b"data: ", 1)[1])["event"]  # type: ignore[no-any-return]


# --- the tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "users", "organizations", "groups"),
    [
        (3, 60, 8, 6),
        (8, 60, 24, 6),  # many untouched organizations when pre-log users are deleted
        (4, 2, 1, 1),  # one pre-log membership, deleted and added again and again
    ],
)
def test_every_answer_equals_the_world_before_replayed_with_the_events_so_far(
    seed: int, users: int, organizations: int, groups: int
) -> None:
    sizes = {"users_before": users, "organizations_before": organizations, "groups_before": groups}
    with Emulator(small(seed, **sizes)) as emulator:
        replay = Replay(emulator.tenant_before_log())
        assert_answers_equal_the_replay(emulator, replay)  # no event yet: the world before itself
        steps = random.Random(seed)
        for _ in range(4):
            for stored in emulator.append(steps.randint(20, 160)):
                replay.apply(event_of(stored))
            assert_answers_equal_the_replay(emulator, replay)


def test_events_appended_while_a_client_pages_lose_no_entity_that_existed_throughout() -> None:
    with Emulator(small(5, organizations_before=30, groups_before=20, users_before=200)) as emulator:
        changed: list[bool] = []
        for path, key, id_key in (
            ("/organizations", "organizations", "id"),
            ("/groups", "groups", "id"),
            (None, "members", "user_id"),
        ):
            if path is None:  # the members of the largest organization
                orgs = page_all(emulator, "/organizations", "organizations", take=50)
                sizes = {o["id"]: len(page_all(emulator, f"/organizations/{o['id']}/members", "members")) for o in orgs}
                path = f"/organizations/{max(sizes, key=lambda org: sizes[org])}/members"
            before = {row[id_key] for row in page_all(emulator, path, key, take=50)}
            seen: list[str] = []
            cursor = None
            while True:
                body = get(emulator, path, take=3, **({"from": cursor} if cursor else {}))
                seen.extend(row[id_key] for row in body[key])
                cursor = body.get("next")
                if cursor is None:
                    break
                emulator.append(15)  # live events arrive between two pages
            after = {row[id_key] for row in page_all(emulator, path, key, take=50)}
            assert seen == sorted(seen) and len(seen) == len(set(seen)), f"{path}: in id order, none twice"
            assert before & after <= set(seen), f"{path}: every entity that existed throughout is listed"
            changed.append(before != after)
        assert changed[:2] == [True, True] and len(changed) == 3, "the events changed what is listed"
