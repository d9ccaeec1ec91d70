"""The emulator's tenant before its events and its Management API v2, spoken to over HTTP as a
client would: checkpoint paging (also while the tenant changes), scopes before ids, rate limits,
the users export job, the deletion cascade, and that none of it changes the events stream."""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import emulator_command, management_config

from tap_auth0_events.emulator.management import READ_SCOPES
from tap_auth0_events.emulator.server import Emulator, EmulatorConfig

AUTH = {"Authorization": "Bearer emulator-token"}


small = management_config


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(small()) as running:
        yield running


def get(emulator: Emulator, path: str, **params: Any) -> requests.Response:
    return requests.get(emulator.url + "/api/v2" + path, headers=AUTH, params=params, timeout=10)


def page_all(emulator: Emulator, path: str, key: str, take: int = 7) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"take": take}
        if cursor:
            params["from"] = cursor
        answer = get(emulator, path, **params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        rows.extend(body[key])
        cursor = body.get("next")
        if cursor is None:
            return rows


def test_paging_to_the_end_equals_the_world(emulator: Emulator) -> None:
    tenant = emulator.tenant()
    organizations = page_all(emulator, "/organizations", "organizations")
    assert organizations == tenant["organizations"]
    assert [o["id"] for o in organizations] == sorted(o["id"] for o in organizations)
    prelog = sum(
        1 for o in organizations if o["id"] in {p["id"] for p in emulator.tenant_before_log()["organizations"]}
    )
    assert prelog == 12 and len(organizations) > 12, "pre-log organizations plus the events' ones"
    for org in organizations[:6]:
        members = page_all(emulator, f"/organizations/{org['id']}/members", "members", take=3)
        assert [m["user_id"] for m in members] == [m["user_id"] for m in tenant["organization_members"][org["id"]]]
        connections = get(emulator, f"/organizations/{org['id']}/enabled_connections").json()
        assert connections["enabled_connections"] == tenant["organization_connections"][org["id"]]
        assert connections["total"] == len(connections["enabled_connections"])
    assert page_all(emulator, "/groups", "groups", take=4) == tenant["groups"]
    for group in tenant["groups"][:4]:
        assert (
            page_all(emulator, f"/groups/{group['id']}/members", "members", 2) == tenant["group_members"][group["id"]]
        )
        assert page_all(emulator, f"/groups/{group['id']}/roles", "roles", 2) == tenant["group_roles"][group["id"]]
    assert page_all(emulator, "/connections", "connections", 3) == tenant["connections"]
    roles = get(emulator, "/roles").json()
    assert roles["roles"] == tenant["roles"] and roles["total"] == len(tenant["roles"])


def test_members_with_roles_need_the_member_roles_scope() -> None:
    scopes = [s for s in READ_SCOPES if s != "read:organization_member_roles"]
    config = small(grant_read_scopes=False, api_tokens={"emulator-token": scopes})
    with Emulator(config) as emulator:
        org = get(emulator, "/organizations").json()["organizations"][0]["id"]
        assert get(emulator, f"/organizations/{org}/members").status_code == 200
        refused = get(emulator, f"/organizations/{org}/members", fields="roles")
        assert refused.status_code == 403
        assert "read:organization_member_roles" in refused.json()["message"]
    with Emulator(small()) as emulator:
        org = get(emulator, "/organizations").json()["organizations"][0]["id"]
        members = get(emulator, f"/organizations/{org}/members", fields="roles").json()["members"]
        assert members and all("roles" in member for member in members)
        assert members == emulator.tenant()["organization_members"][org]


def test_changes_while_paging_behave_like_checkpoints() -> None:
    with Emulator(small(initial_events=0, organizations_before=10)) as emulator:
        first = get(emulator, "/organizations", take=5).json()
        cursor = first["next"]
        last_seen = first["organizations"][-1]["id"]
        added = emulator.append(40, "organization.created")
        new_ids = {json.loads(a.frame.split(b"data: ", 1)[1])["event"]["data"]["object"]["id"] for a in added}
        rest = page_all_from(emulator, cursor)
        ids = [o["id"] for o in first["organizations"] + rest]
        assert ids == sorted(ids) and len(ids) == len(set(ids))
        after = {i for i in new_ids if i > last_seen}
        before = new_ids - after
        assert after <= set(ids), "an organization added after the cursor appears"
        assert not (before & set(ids)), "one added before the cursor is not listed"
        # One deleted after the cursor disappears.
        cursor = get(emulator, "/organizations", take=2).json()["next"]
        emulator.append(1, "organization.deleted")
        everything = {o["id"] for o in page_all_from(emulator, cursor)}
        assert everything == {o["id"] for o in emulator.tenant()["organizations"][2:]} - set()


def page_all_from(emulator: Emulator, cursor: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while cursor:
        body = get(emulator, "/organizations", take=6, **{"from": cursor}).json()
        rows.extend(body["organizations"])
        cursor = body.get("next")
    return rows


def test_offset_paging_stops_at_1000() -> None:
    with Emulator(small(initial_events=0, organizations_before=1100)) as emulator:
        assert len(get(emulator, "/organizations", page=9, per_page=100).json()["organizations"]) == 100
        refused = get(emulator, "/organizations", page=10, per_page=100)
        assert refused.status_code == 400 and refused.json()["errorCode"] == "invalid_paging"
        assert len(page_all(emulator, "/organizations", "organizations", take=100)) == 1100


def test_scope_is_checked_before_the_id() -> None:
    with Emulator(small(grant_read_scopes=False)) as emulator:
        for path in ("/organizations", "/organizations/org_missing/members", "/groups/grp_missing/roles"):
            answer = get(emulator, path)
            assert answer.status_code == 403, path
            body = answer.json()
            assert body["errorCode"] == "insufficient_scope" and body["error"] == "Forbidden"
            assert body["message"].startswith("Insufficient scope, expected any of: read:")
        assert get(emulator, "/organizations").json()["message"].endswith("read:organizations")
        assert requests.get(emulator.url + "/api/v2/roles", timeout=5).status_code == 401
    with Emulator(small()) as emulator:
        assert get(emulator, "/organizations/org_missing/members").status_code == 404
        assert get(emulator, "/groups/grp_missing/members").status_code == 404


def test_rate_limit_headers_and_a_429() -> None:
    with Emulator(small(rate_limit_plan="essentials", rate_limit_scale=1.0)) as emulator:
        answers = [get(emulator, "/organizations") for _ in range(7)]
        statuses = [a.status_code for a in answers]
        assert statuses[:5] == [200] * 5 and 429 in statuses[5:], statuses
        for answer in answers:
            assert answer.headers["x-ratelimit-limit"] == "5"
            assert int(answer.headers["x-ratelimit-reset"]) >= int(time.time())
            assert "Date" in answer.headers
        assert [a.headers["x-ratelimit-remaining"] for a in answers[:5]] == ["4", "3", "2", "1", "0"]
        assert get(emulator, "/roles").status_code == 200, "another family has its own bucket"
        assert emulator.management.limited["organizations"] >= 1
        assert emulator.management.calls["organizations"] == 7
    with Emulator(small(rate_limit_plan="essentials", rate_limit_scale=100)) as emulator:
        assert all(get(emulator, "/organizations").status_code == 200 for _ in range(20))


def test_no_limit_by_default_and_date_on_every_answer(emulator: Emulator) -> None:
    answers = [get(emulator, "/organizations") for _ in range(12)]
    assert all(a.status_code == 200 and "x-ratelimit-limit" not in a.headers for a in answers)
    assert all(a.headers["Date"].endswith(" GMT") for a in answers)


def export(emulator: Emulator, fields: list[str]) -> str:
    body = {"format": "json", "fields": [{"name": name} for name in fields]}
    created = requests.post(emulator.url + "/api/v2/jobs/users-exports", headers=AUTH, json=body, timeout=5)
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["type"] == "users_export" and job["status"] == "pending" and job["format"] == "json"
    return str(job["id"])


def wait_job(emulator: Emulator, job_id: str) -> dict[str, Any]:
    for _ in range(100):
        job = get(emulator, f"/jobs/{job_id}").json()
        if job["status"] != "pending":
            return dict(job)
        time.sleep(0.02)
    raise AssertionError("job stayed pending")


def test_export_job_life(emulator: Emulator) -> None:
    fields = ["user_id", "email", "identities", "app_metadata", "user_metadata"]
    job_id = export(emulator, fields)
    assert get(emulator, f"/jobs/{job_id}").json()["status"] == "pending"
    before = emulator.tenant()["users"]
    emulator.append(20, "user.created")  # after job creation: not in the file
    job = wait_job(emulator, job_id)
    assert job["status"] == "completed"
    assert requests.get(job["location"].split("?")[0], timeout=5).status_code == 403, "unsigned"
    download = requests.get(job["location"], timeout=10)
    assert download.status_code == 200
    lines = gzip.decompress(download.content).splitlines()
    users = [json.loads(line) for line in lines]
    assert sorted(u["user_id"] for u in users) == [u["user_id"] for u in before]
    by_id = {u["user_id"]: u for u in before}
    assert all(u == {name: by_id[u["user_id"]][name] for name in fields if name in by_id[u["user_id"]]} for u in users)
    assert len(users) >= 300


def test_export_failed_and_expired_links() -> None:
    with Emulator(small(export_fails=True)) as emulator:
        job = wait_job(emulator, export(emulator, ["user_id"]))
        assert job["status"] == "failed" and job["status_details"] and "location" not in job
    with Emulator(small(export_link_seconds=0)) as emulator:
        job_id = export(emulator, ["user_id"])
        stale = wait_job(emulator, job_id)["location"]
        time.sleep(1.05)
        refused = requests.get(stale, timeout=5)
        assert refused.status_code == 403 and b"AccessDenied" in refused.content
        emulator.config.export_link_seconds = 30
        fresh = wait_job(emulator, job_id)["location"]
        assert fresh != stale and requests.get(fresh, timeout=5).status_code == 200


def test_deletion_cascades_silently() -> None:
    with Emulator(small(initial_events=600, seed=11)) as emulator:
        world = emulator.world
        tenant = emulator.tenant()
        users = {u["user_id"] for u in tenant["users"]}
        listed_orgs = {o["id"] for o in tenant["organizations"]}
        for org_id, members in tenant["organization_members"].items():
            assert org_id in listed_orgs and all(m["user_id"] in users for m in members)
        groups = {g["id"] for g in tenant["groups"]}
        assert set(tenant["group_members"]) == groups
        for members in tenant["group_members"].values():
            for member in members:
                assert member["id"] in users or member["type"] == "connection"
        # The World keeps relations of deleted entities; the Management API does not list them.
        stale_members = [key for key in world.organization_members if not world.listed("organization_members", key)]
        assert stale_members, "some deletion left a membership behind in the World"
        for org_id, user_id in stale_members:
            assert org_id not in tenant["organization_members"] or user_id not in {
                m["user_id"] for m in tenant["organization_members"][org_id]
            }


def test_world_before_of_a_given_size() -> None:
    with Emulator(small(initial_events=0, users_before=1234, organizations_before=17, groups_before=5)) as emulator:
        before = emulator.tenant_before_log()
        assert len(before["users"]) == 1234 and len(before["organizations"]) == 17 and len(before["groups"]) == 5
        assert emulator.tenant() == before
        assert {c["strategy"] for c in before["connections"]} >= {"auth0", "google-oauth2", "email"}
        assert any(before["organization_members"].values()) and any(before["group_members"].values())
    with Emulator(small(initial_events=0, users_before=1234, organizations_before=17, groups_before=5)) as again:
        assert again.tenant_before_log() == before, "derived from the seed alone"


def test_a_large_tenant_starts_in_seconds() -> None:
    started = time.monotonic()
    with Emulator(small(initial_events=50, users_before=1_000_000, organizations_before=16_000)) as emulator:
        assert time.monotonic() - started < 3
        last = get(emulator, "/organizations", take=100, **{"from": _cursor("org_zzzz")}).json()
        assert last == {"organizations": []} or "next" not in last
        first = get(emulator, "/organizations", take=100).json()
        org = first["organizations"][0]["id"]
        assert get(emulator, f"/organizations/{org}/members", take=100).status_code == 200


def _cursor(after_id: str) -> str:
    return base64.urlsafe_b64encode(after_id.encode()).decode().rstrip("=")


def test_default_config_changes_nothing_for_the_events_stream() -> None:
    config = EmulatorConfig(initial_events=150)
    assert (config.users_before, config.organizations_before, config.groups_before) == (0, 0, 0)
    assert config.api_tokens == {"emulator-token": ["read:events"]} and config.client_scopes == ["read:events"]
    assert not config.grant_read_scopes and config.rate_limit_plan is None
    managed_config = EmulatorConfig(initial_events=150, grant_read_scopes=True, rate_limit_plan="free")
    with Emulator(config) as emulator, Emulator(managed_config) as managed:
        assert [(e.event_type, e.event_id) for e in emulator.log.events] == [
            (e.event_type, e.event_id) for e in managed.log.events
        ]
        assert emulator.scopes_for("Bearer emulator-token") == ["read:events"]
        assert emulator.tenant_before_log()["users"] == [] and emulator.tenant_before_log()["organizations"] == []


MANAGEMENT_FLAGS = (
    *("--users-before", "150", "--organizations-before", "9", "--groups-before", "4"),
    *("--members-per-organization", "5", "--grant-read-scopes", "--rate-limit-plan", "essentials"),
    *("--rate-limit-scale", "10", "--export-pending-seconds", "0.01", "--export-link-seconds", "30"),
)


def test_the_command_line_sets_the_world_before_and_the_management_api() -> None:
    from tap_auth0_events.emulator.__main__ import _config, _parser

    config = _config(_parser().parse_args(["--events", "0", "--live-rate", "0", *MANAGEMENT_FLAGS, "--export-fails"]))
    assert (config.users_before, config.organizations_before, config.groups_before) == (150, 9, 4)
    assert config.members_per_organization == 5 and config.grant_read_scopes and config.export_fails
    assert (config.rate_limit_plan, config.rate_limit_scale) == ("essentials", 10.0)
    assert (config.export_pending_seconds, config.export_link_seconds) == (0.01, 30.0)
    defaults = _config(_parser().parse_args([]))
    assert (defaults.users_before, defaults.rate_limit_plan, defaults.grant_read_scopes) == (0, None, False)
    assert not defaults.export_fails and defaults.export_pending_seconds == EmulatorConfig().export_pending_seconds


@pytest.mark.integration
def test_the_command_serves_the_world_before(tmp_path: Path) -> None:
    arguments = ("--events", "0", "--live-rate", "0", *MANAGEMENT_FLAGS)
    with emulator_command(*arguments, port_file=tmp_path / "port") as (_, root):
        url = f"{root}/api/v2"
        answer = requests.get(f"{url}/organizations", headers=AUTH, params={"take": 100}, timeout=10)
        assert answer.status_code == 200 and len(answer.json()["organizations"]) == 9
        assert answer.headers["x-ratelimit-limit"] == "50", "Essentials' organizations burst 5, times 10"
        assert len(requests.get(f"{url}/groups", headers=AUTH, timeout=10).json()["groups"]) == 4
        job = requests.post(f"{url}/jobs/users-exports", headers=AUTH, json={"format": "json"}, timeout=10).json()
        time.sleep(0.05)
        done = requests.get(f"{url}/jobs/{job['id']}", headers=AUTH, timeout=10).json()
        assert done["status"] == "completed" and done["summary"]["total"] == 150
        users = gzip.decompress(requests.get(done["location"], timeout=10).content).splitlines()
        assert len(users) == 150
