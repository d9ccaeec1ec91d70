"""The baseline: the tenant as the Management API shows it, joined to the event stream.

Against the emulator's world before the log (issue 23): a first run's baseline equals the tenant,
its records have their schemas and no secret, the event position is noted before it; a missing
scope is one line and exit 4 before anything is emitted; a baseline larger than a run continues
over bounded runs while events keep arriving; kill -9 mid-baseline loses nothing; a failed export
or expired links are named failures that still read the events; an organization deleted while the
baseline reads it is skipped with its reason.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from conftest import TAP, TOKEN, assert_clean_failure, fast_config, run_tap, select_streams, tap_config

from tap_auth0_events.auth import StaticToken
from tap_auth0_events.baseline import SECRET_KEY, due
from tap_auth0_events.baseline_streams import BASELINE_BY_NAME, BASELINE_STREAMS, BASELINES_STREAM
from tap_auth0_events.emulator.server import Emulator
from tap_auth0_events.management import ManagementApi
from tap_auth0_events.output import FastOutput
from tap_auth0_events.schemas import load_baseline_schema
from tap_auth0_events.settings import parse_settings
from tap_auth0_events.sync import Syncer

Keys = dict[str, set[tuple[str, ...]]]

WORLD = {
    "initial_events": 300,
    "users_before": 150,
    "organizations_before": 8,
    "groups_before": 4,
    "members_per_organization": 10,
    "grant_read_scopes": True,
}


def tenant_keys(tables: dict[str, Any]) -> Keys:
    """The key of every entity and relation the Management API lists, per baseline stream."""
    members = tables["organization_members"]
    return {
        "baseline_users": {(user["user_id"],) for user in tables["users"]},
        "baseline_organizations": {(org["id"],) for org in tables["organizations"]},
        "baseline_organization_members": {(org, m["user_id"]) for org, rows in members.items() for m in rows},
        "baseline_organization_member_roles": {
            (org, m["user_id"], role["id"]) for org, rows in members.items() for m in rows for role in m["roles"]
        },
        "baseline_organization_connections": {
            (org, row["connection_id"]) for org, rows in tables["organization_connections"].items() for row in rows
        },
        "baseline_organization_group_roles": {
            (org, group, role["id"])
            for (org, group), roles in tables["organization_group_roles"].items()
            for role in roles
        },
        "baseline_groups": {(group["id"],) for group in tables["groups"]},
        "baseline_group_members": {(g, m["id"]) for g, rows in tables["group_members"].items() for m in rows},
        "baseline_group_roles": {(g, role["id"]) for g, roles in tables["group_roles"].items() for role in roles},
        "baseline_connections": {(connection["id"],) for connection in tables["connections"]},
    }


def record_keys(records_by_stream: dict[str, list[dict[str, Any]]]) -> Keys:
    """The key of every baseline record, per stream, read at the stream's key paths in `object`."""
    keys: Keys = {stream.name: set() for stream in BASELINE_STREAMS}
    for name, records in records_by_stream.items():
        stream = BASELINE_BY_NAME.get(name)
        if stream is None:
            continue
        for record in records:
            keys[name].add(tuple(str(_at(record["object"], path)) for _, path in stream.key_paths))
    return keys


def _at(obj: dict[str, Any], path: tuple[str, ...]) -> Any:
    for part in path:
        obj = obj[part]
    return obj


def _secret_keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for k in value if SECRET_KEY.search(k)] + [s for v in value.values() for s in _secret_keys(v)]
    if isinstance(value, list):
        return [s for item in value for s in _secret_keys(item)]
    return []


# -- the rules, in process ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "progress", "first_run", "expected"),
    [
        ("first_run", None, True, "start"),
        ("first_run", None, False, ""),  # a STATE from before baselines: `now` takes one
        ("first_run", {"baseline_id": "bsl_1", "completed_at": "2026-01-01T00:00:00Z"}, False, ""),
        ("first_run", {"baseline_id": "bsl_1", "completed_at": None}, False, "continue"),
        ("now", {"baseline_id": "bsl_1", "completed_at": "2026-01-01T00:00:00Z"}, False, "start"),
        ("now", {"baseline_id": "bsl_1", "completed_at": None}, False, "continue"),
        ("never", None, True, ""),
        ("never", {"baseline_id": "bsl_1", "completed_at": None}, False, ""),
    ],
)
def test_when_a_baseline_runs(mode: str, progress: Any, first_run: bool, expected: str) -> None:
    assert due(mode, progress, first_run) == expected


class _DeletesAnOrganization(requests.Session):
    """A session that, once the first page of organizations has been answered, has the emulator
    delete one of them: its members are then read after its deletion (Auth0's 404)."""

    def __init__(self, emulator: Emulator) -> None:
        super().__init__()
        self.emulator = emulator
        self.deleted: list[str] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        response = super().request(method, url, *args, **kwargs)
        listing = url.endswith("/api/v2/organizations") and ("take", "1") not in (kwargs.get("params") or [])
        if listing and not self.deleted:
            stored = self.emulator.append(1, event_type="organization.deleted")[0]
            self.deleted.append(stored.event_id)
        return response


def test_an_organization_deleted_while_the_baseline_reads_it_is_skipped_with_its_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Emulator(fast_config(**WORLD)) as emulator:
        settings = parse_settings(tap_config(emulator, baseline="first_run", idle_timeout_seconds=1))
        session = _DeletesAnOrganization(emulator)

        def management(settings: Any, logger: logging.Logger, deadline: float) -> ManagementApi:
            return ManagementApi(
                settings, StaticToken(TOKEN), logger, user_agent="test", deadline=deadline, session=session
            )

        streams = [_Ref(stream.name, stream.event_type) for stream in BASELINE_STREAMS]
        streams.append(_Ref(BASELINES_STREAM, BASELINES_STREAM))
        out = io.BytesIO()
        output = FastOutput({ref.event_type: ref for ref in streams}, out=out)
        syncer = Syncer(settings, {}, logging.getLogger("test-baseline"), management=management)
        with caplog.at_level(logging.INFO):
            for records in syncer.sync(streams, output):
                output.write_records(records)
        assert session.deleted, "an organization was deleted during the baseline"
        summary = [r.getMessage() for r in caplog.records if "Management API calls" in r.getMessage()]
        assert len(summary) == 1 and " complete " in summary[0]
        assert "skipped 1: organization org_" in summary[0] and "HTTP 404" in summary[0]
        deleted_org = summary[0].split("skipped 1: organization ", 1)[1].split(" ", 1)[0]
        messages = [json.loads(line) for line in out.getvalue().splitlines()]
        members = [
            m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "baseline_organization_members"
        ]
        assert members and not any(r["object"]["organization"]["id"] == deleted_org for r in members)
        # The organization itself was listed before its deletion: its record stays, its end is the event's.
        organizations = {m["record"]["object"]["id"] for m in messages if m.get("stream") == "baseline_organizations"}
        assert deleted_org in organizations
        completions = {m["record"]["stream"]: m["record"] for m in messages if m.get("stream") == BASELINES_STREAM}
        assert completions["baseline_organization_members"]["skipped"] == 1
        assert completions["baseline_groups"]["skipped"] is None


class _Ref:
    def __init__(self, name: str, event_type: str) -> None:
        self.name, self.event_type = name, event_type


# -- the tap, as Meltano runs it ------------------------------------------------------------------------


@pytest.mark.integration
def test_a_first_run_reads_the_tenant_then_its_events_from_the_position_noted_before(tmp_path: Path) -> None:
    with Emulator(fast_config(**WORLD)) as emulator:
        result = run_tap(tmp_path, tap_config(emulator, baseline="first_run"))
        assert result.returncode == 0, result.stderr[-3000:]
        by_stream = result.by_stream()
        truth = tenant_keys(emulator.tenant())
        assert record_keys(by_stream) == truth
        assert len(truth["baseline_users"]) > 150 and truth["baseline_organization_member_roles"]
        # Every record has its stream's schema; no connection option is a secret.
        for name in [stream.name for stream in BASELINE_STREAMS] + [BASELINES_STREAM]:
            validator = jsonschema.Draft202012Validator(load_baseline_schema(name))
            for record in by_stream[name]:
                validator.validate(record)
        assert not [key for r in by_stream["baseline_connections"] for key in _secret_keys(r["object"])]
        # One `baselines` record per stream, after its records, with their count.
        completions = {row["stream"]: row for row in by_stream[BASELINES_STREAM]}
        assert set(completions) == {stream.name for stream in BASELINE_STREAMS}
        for name, row in completions.items():
            assert row["records"] == len(by_stream[name]) and row["started_at"] <= row["completed_at"]
        # The events: all of them, after the baseline; the position was in STATE before the first record.
        assert {r["event_id"] for r in result.records_of_events()} == {e["event_id"] for e in emulator.summary()}
        kinds = [_kind(m) for m in result.messages]
        first_baseline_record = kinds.index("baseline")
        assert "event" not in kinds[:first_baseline_record]
        noted = next(m for m in result.messages[:first_baseline_record] if m["type"] == "STATE")
        assert noted["value"]["bookmarks"]["user_created"]["from_timestamp"] == "2000-01-01T00:00:00Z"
        assert kinds.index("event") > max(i for i, kind in enumerate(kinds) if kind == "baseline")
        final = result.final_state
        assert final is not None and final["bookmarks"][BASELINES_STREAM]["completed_at"]
        assert "baseline bsl_" in result.stderr and "complete (" in result.stderr
        assert TOKEN not in result.stdout + result.stderr, "the token never leaves"
        # A second run takes no new baseline.
        again = run_tap(tmp_path, tap_config(emulator, baseline="first_run"), state=final)
        assert again.returncode == 0 and not any(_kind(m) == "baseline" for m in again.messages)


def _kind(message: dict[str, Any]) -> str:
    if message["type"] != "RECORD":
        return message["type"]
    stream = message["stream"]
    return "baseline" if stream in BASELINE_BY_NAME or stream == BASELINES_STREAM else "event"


@pytest.mark.integration
def test_a_token_without_the_baselines_scopes_fails_before_anything_is_emitted(tmp_path: Path) -> None:
    tokens = {TOKEN: ["read:events", "read:users", "read:connections"]}
    with Emulator(fast_config(**{**WORLD, "grant_read_scopes": False}, api_tokens=tokens)) as emulator:
        result = run_tap(tmp_path, tap_config(emulator, baseline="first_run"))
        assert_clean_failure(
            result,
            4,
            "the token lacks the Management API scopes the selected baseline streams need: read:group_members, "
            "read:group_roles, read:groups, read:organization_connections, read:organization_group_roles, "
            "read:organization_groups, read:organization_members, "
            "read:organizations.",
            "set baseline to never, or deselect the baseline_* streams",
        )
        assert not result.records and not result.states


@pytest.mark.integration
def test_a_failed_export_is_named_and_the_events_are_still_read(tmp_path: Path) -> None:
    with Emulator(fast_config(**WORLD, export_fails=True)) as emulator:
        result = run_tap(tmp_path, tap_config(emulator, baseline="first_run"))
        assert_clean_failure(result, 9, "the users export job_", "failed: Export failed")
        assert "starting a new one" in result.stderr, "a failed job is retried once with a new one"
        assert {r["event_id"] for r in result.records_of_events()} == {e["event_id"] for e in emulator.summary()}
        progress = result.final_state["bookmarks"][BASELINES_STREAM]  # type: ignore[index]
        assert not progress["completed_at"] and not progress["reads"]["users"]["done"]
        assert all(progress["reads"][read]["done"] for read in ("connections", "organizations", "groups"))
        assert "unfinished, failed: " in result.stderr
        # Once Auth0's exports work again, the next run starts a new job and finishes the baseline.
        emulator.config.export_fails = False
        resumed = run_tap(tmp_path, tap_config(emulator, baseline="first_run"), state=result.final_state)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        users = record_keys(resumed.by_stream())["baseline_users"]
        assert users == tenant_keys(emulator.tenant())["baseline_users"]
        assert [row["stream"] for row in resumed.by_stream()[BASELINES_STREAM]] == ["baseline_users"]


@pytest.mark.integration
def test_an_export_link_that_expires_twice_is_a_named_failure(tmp_path: Path) -> None:
    with Emulator(fast_config(**WORLD, export_link_seconds=-1)) as emulator:
        result = run_tap(tmp_path, tap_config(emulator, baseline="first_run"))
        assert_clean_failure(result, 9, "download link failed twice in a row (HTTP 403) without progress, at user 0")
        assert result.records_of_events(), "the events are read"


def _covered(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The RECORD messages before the last complete STATE line of a killed run, and that STATE."""
    covered: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    state = None
    for line in path.read_bytes().split(b"\n"):
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message["type"] == "RECORD":
            pending.append(message)
        elif message["type"] == "STATE":
            covered += pending
            pending = []
            state = message["value"]
    return covered, state


def _grouped(messages: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        grouped.setdefault(message["stream"], []).append(message["record"])
    return grouped


@pytest.mark.integration
def test_kill_9_in_the_middle_of_a_baseline_loses_nothing(tmp_path: Path) -> None:
    # Per-organization calls at a scaled Essentials limit make each page of 100 organizations last
    # about two seconds: the kill lands after the first page's checkpoint, before the last page.
    world = {**WORLD, "organizations_before": 250, "users_before": 2000, "rate_limit_plan": "essentials"}
    with Emulator(fast_config(**world, rate_limit_scale=60)) as emulator:
        config = tap_config(emulator, baseline="first_run")
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(config))
        out = tmp_path / "killed.jsonl"
        with out.open("wb") as sink:
            process = subprocess.Popen([TAP, "--config", str(config_path)], stdout=sink, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while b'"type":"RECORD","stream":"baseline_organization_members"' not in out.read_bytes():
                assert time.monotonic() < deadline and process.poll() is None, "the baseline did not get going"
                time.sleep(0.05)
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        covered, state = _covered(out)
        assert state is not None and not state["bookmarks"][BASELINES_STREAM]["completed_at"], "killed mid-baseline"
        before = Counter(m["stream"] for m in covered)
        resumed = run_tap(tmp_path, config, state=state)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        after = Counter(m["stream"] for m in resumed.records)
        assert "continues" in resumed.stderr
        union = _grouped(covered + resumed.records)
        assert record_keys(union) == tenant_keys(emulator.tenant())
        assert {r["event_id"] for r in union_events(covered + resumed.records)} == {
            e["event_id"] for e in emulator.summary()
        }
        # The resumed run read again at most the page that was cut (records keep their ids).
        completions = {row["stream"]: row for row in union[BASELINES_STREAM]}
        ids = {name: {r["event_id"] for r in union[name]} for name in BASELINE_BY_NAME}
        assert all(completions[name]["records"] == len(ids[name]) for name in ids)
        print("before the kill:", dict(before), "\nthe run after:", dict(after))


def union_events(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["record"] for m in messages if _kind(m) == "event"]


@pytest.mark.integration
@pytest.mark.slow
def test_a_baseline_over_three_bounded_runs_while_events_keep_arriving(tmp_path: Path) -> None:
    world = {**WORLD, "organizations_before": 40, "rate_limit_plan": "essentials", "live_events_per_second": 4.0}
    with Emulator(fast_config(**world, rate_limit_scale=4)) as emulator:
        before = tenant_keys(emulator.tenant())
        config = tap_config(emulator, baseline="first_run", baseline_max_seconds=4)
        state: dict[str, Any] | None = None
        runs: list[Any] = []
        while state is None or not state["bookmarks"][BASELINES_STREAM]["completed_at"]:
            assert len(runs) < 10, "the baseline finishes"
            result = run_tap(tmp_path, config, state=state)
            assert result.returncode == 0, result.stderr[-3000:]
            runs.append(result)
            state = result.final_state
            print(next(line for line in result.stderr.splitlines() if "Management API calls" in line)[70:])
        after = tenant_keys(emulator.tenant())
        assert len(runs) >= 3
        assert all(run.records_of_events() for run in runs), "every run reads events up to its bound"
        union = _grouped([m for run in runs for m in run.records])
        read = record_keys(union)
        for name in read:
            assert before[name] & after[name] <= read[name], f"{name}: what existed throughout is in the baseline"
        # A stream's read completes after its last record was answered (the models take the time
        # between started_at and completed_at for the read's own).
        for done in union[BASELINES_STREAM]:
            records = [r for r in union.get(done["stream"], []) if r["baseline_id"] == done["baseline_id"]]
            newest = max((r["event_time"] for r in records), default=done["started_at"])
            assert done["completed_at"] >= newest, f"{done['stream']}: completed {done['completed_at']}, read {newest}"
        # A change made while the baseline ran arrived as an event after it, newer than it.
        started = state["bookmarks"][BASELINES_STREAM]["started_at"]
        assert any(r["event_time"] > started for run in runs for r in run.records_of_events())
        delivered = {r["event_id"] for run in runs for r in run.records_of_events()}
        last_bound = min(r["event_time"] for r in runs[-1].records_of_events())
        assert {e["event_id"] for e in emulator.summary() if e["time"] < last_bound} <= delivered


@pytest.mark.integration
def test_a_deselected_baseline_stream_is_not_read_and_now_takes_a_baseline_for_an_older_state(
    tmp_path: Path, discovered: dict[str, Any]
) -> None:
    with Emulator(fast_config(**WORLD)) as emulator:
        # A STATE from before baselines: event positions, no baseline.
        older = run_tap(tmp_path, tap_config(emulator))
        assert older.returncode == 0 and not any(_kind(m) == "baseline" for m in older.messages)
        assert run_tap(tmp_path, tap_config(emulator, baseline="first_run"), state=older.final_state).returncode == 0
        assert not emulator.management.calls.get("organizations"), "first_run takes none for an older STATE"
        catalog = select_streams(discovered, {"user_created", "baseline_users", BASELINES_STREAM})
        result = run_tap(tmp_path, tap_config(emulator, baseline="now"), state=older.final_state, catalog=catalog)
        assert result.returncode == 0, result.stderr[-3000:]
        assert set(result.by_stream()) == {"baseline_users", BASELINES_STREAM}, "no new event: only the baseline"
        assert record_keys(result.by_stream())["baseline_users"] == tenant_keys(emulator.tenant())["baseline_users"]
        assert [row["stream"] for row in result.by_stream()[BASELINES_STREAM]] == ["baseline_users"]
        calls = {family for family, count in emulator.management.calls.items() if count}
        assert calls == {"other"}, "only the export job and its probe: no organization, group or connection read"
        final = result.final_state
        assert final is not None
        assert final["bookmarks"]["user_created"] == older.final_state["bookmarks"]["user_created"]  # type: ignore[index]
