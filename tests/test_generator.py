"""The event generator: valid, deterministic, realistic and coherent simulated tenant history."""

from __future__ import annotations

import functools
import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from jsonschema import Draft7Validator, FormatChecker
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_auth0_events.emulator.generator import EventGenerator, IndexedSet
from tap_auth0_events.event_types import EVENT_TYPES, stream_name
from tap_auth0_events.schemas import load_schema

ENVELOPE = ("source", "specversion", "a0tenant", "a0stream", "a0purpose")
EVENT_KEYS = ["specversion", "type", "source", "id", "time", "a0tenant", "a0stream", "data"]
TEST_EVENT_KEYS = [*EVENT_KEYS[:-1], "a0purpose", "data"]
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

# jsonschema checks date-time only when rfc3339-validator is installed; do not depend on that.
FORMAT_CHECKER = FormatChecker(formats=())


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or (bool(TIME.match(value)) and bool(datetime.fromisoformat(value)))


@functools.cache
def validator(event_type: str) -> Draft7Validator:
    return Draft7Validator(load_schema(event_type), format_checker=FORMAT_CHECKER)


def to_record(event: dict[str, Any], offset: str) -> dict[str, Any]:
    """CloudEvent -> Singer record, as the tap builds it."""
    record = {
        "event_id": event["id"],
        "event_type": event["type"],
        "event_time": event["time"],
        "event_offset": offset,
    }
    record.update({key: event[key] for key in ENVELOPE if key in event})
    record.update(
        {key: value for key, value in event["data"].items() if key in ("object", "previous_object", "context")}
    )
    return record


def dump(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


@functools.cache
def _events(seed: int, count: int) -> tuple[str, ...]:
    """Generated once per (seed, count) and stored as JSON, so tests cannot alter each other's input."""
    return tuple(dump(event) for event in EventGenerator(seed=seed).generate(count))


def events(seed: int, count: int = 5000) -> list[dict[str, Any]]:
    return [json.loads(text) for text in _events(seed, count)]


SEEDS = (0, 1)


# --- Replay: rebuild the world from the events -------------------------------------------------------

Key = Callable[[dict[str, Any]], Any]
ADDS: dict[str, tuple[str, Key]] = {
    "user.created": ("users", lambda o: o["user_id"]),
    "organization.created": ("organizations", lambda o: o["id"]),
    "organization.connection.added": (
        "organization_connections",
        lambda o: (o["organization"]["id"], o["connection"]["id"]),
    ),
    "organization.member.added": (
        "organization_members",
        lambda o: (o["organization"]["id"], o["user"]["user_id"]),
    ),
    "organization.member.role.assigned": (
        "member_roles",
        lambda o: (o["organization"]["id"], o["user"]["user_id"], o["role"]["id"]),
    ),
    "organization.group.role.assigned": (
        "organization_group_roles",
        lambda o: (o["organization"]["id"], o["group"]["id"], o["role"]["id"]),
    ),
    "group.created": ("groups", lambda o: o["id"]),
    "group.member.added": ("group_members", lambda o: (o["group"]["id"], o["member"]["id"])),
    "group.role.assigned": ("group_roles", lambda o: (o["group"]["id"], o["role"]["id"])),
    "connection.created": ("enterprise_connections", lambda o: o["id"]),
}
REMOVES = {
    "user.deleted": ADDS["user.created"],
    "organization.deleted": ADDS["organization.created"],
    "organization.connection.removed": ADDS["organization.connection.added"],
    "organization.member.deleted": ADDS["organization.member.added"],
    "organization.member.role.deleted": ADDS["organization.member.role.assigned"],
    "organization.group.role.deleted": ADDS["organization.group.role.assigned"],
    "group.deleted": ADDS["group.created"],
    "group.member.deleted": ADDS["group.member.added"],
    "group.role.deleted": ADDS["group.role.assigned"],
    "connection.deleted": ADDS["connection.created"],
}
UPDATES = {
    "user.updated": ADDS["user.created"],
    "organization.updated": ADDS["organization.created"],
    "organization.connection.updated": ADDS["organization.connection.added"],
    "group.updated": ADDS["group.created"],
    "connection.updated": ADDS["connection.created"],
}
TABLES = sorted({table for table, _ in ADDS.values()})


def replay(emitted: list[dict[str, Any]], unannounced: list[tuple[int, str, Any]]) -> dict[str, set[Any]]:
    """Apply the events (and unannounced entities, where they happened) in order; each must be possible.

    Test events and events of types the tap does not know change nothing."""
    state: dict[str, set[Any]] = {table: set() for table in TABLES}
    pending = sorted(unannounced, key=lambda entry: entry[0])
    for index, event in enumerate(emitted):
        while pending and pending[0][0] <= index:
            _, table, key = pending.pop(0)
            assert key not in state[table], f"unannounced {table} {key} already exists"
            state[table].add(_as_key(key))
        event_type, obj = event["type"], event["data"]["object"]
        if event.get("a0purpose") == "test" or event_type not in EVENT_TYPES:
            continue
        if event_type in ADDS:
            table, key_of = ADDS[event_type]
            key = key_of(obj)
            assert key not in state[table], f"event {index}: {event_type} adds existing {key}"
            state[table].add(key)
        elif event_type in REMOVES:
            table, key_of = REMOVES[event_type]
            key = key_of(obj)
            assert key in state[table], f"event {index}: {event_type} removes missing {key}"
            state[table].remove(key)
        else:
            table, key_of = UPDATES[event_type]
            assert key_of(obj) in state[table], f"event {index}: {event_type} updates a missing entity"
    assert not pending
    return state


def _as_key(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def world_state(generator: EventGenerator) -> dict[str, set[Any]]:
    return {table: set(getattr(generator.world, table)) for table in TABLES}


# --- Tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_every_type_appears(seed: int) -> None:
    counts = Counter(event["type"] for event in events(seed))
    assert set(counts) == set(EVENT_TYPES)
    assert min(counts.values()) >= 20


@pytest.mark.parametrize("seed", SEEDS)
def test_every_record_validates_and_nothing_is_dropped(seed: int) -> None:
    logger = logging.getLogger("test")
    for index, event in enumerate(events(seed)):
        assert list(event) == (TEST_EVENT_KEYS if "a0purpose" in event else EVENT_KEYS)
        record = to_record(event, f"offset-{index}")
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator(event["type"]).iter_errors(record)]
        assert errors == [], event
        schema = load_schema(event["type"])
        conformed = conform_record_data_types(
            stream_name(event["type"]), record, schema, TypeConformanceLevel.RECURSIVE, logger
        )
        assert conformed == record  # the SDK drops keys the schema does not declare


def test_same_seed_same_events_and_different_seed_different_events() -> None:
    first = EventGenerator(seed=7).generate(2000)
    again = EventGenerator(seed=7).generate(2000)
    other = EventGenerator(seed=8).generate(2000)
    assert first == again
    assert [e["id"] for e in first] != [e["id"] for e in other]
    step_by_step = EventGenerator(seed=7)
    assert [step_by_step.next_event() for _ in range(50)] == first[:50]


def test_envelope_ids_and_times() -> None:
    emitted = events(0)
    assert len({e["id"] for e in emitted}) == len(emitted)
    assert {e["a0tenant"] for e in emitted} == {"acme-demo"}
    assert {e["source"] for e in emitted} == {"urn:auth0:acme-demo.us.auth0.com"}
    assert len({e["a0stream"] for e in emitted}) == 1
    for event in emitted:
        assert re.fullmatch(r"evt_[A-Za-z0-9]{22}", event["id"])
        assert re.fullmatch(r"est_[A-Za-z0-9]{22}", event["a0stream"])
        assert TIME.match(event["time"])
    times = [e["time"] for e in emitted]
    assert times == sorted(times)
    assert times[0].startswith("2026-01-01T00:")
    span = datetime.fromisoformat(times[-1]) - datetime.fromisoformat(times[0])
    assert timedelta(hours=30) < span < timedelta(hours=54)  # 5,000 gaps of 30 s on average: ~42 h


def test_entity_id_formats() -> None:
    patterns = {
        "user_id": r"(auth0\|[0-9a-f]{24}|email\|[0-9a-f]{24}|samlp\|acme-saml\|\S+"
        r"|(github|facebook|google-oauth2|linkedin|apple)\|\d+)",
        "org": r"org_[A-Za-z0-9]{16}",
        "con": r"con_[A-Za-z0-9]{16}",
        "rol": r"rol_[A-Za-z0-9]{16}",
        "grp": r"grp_[1-9A-HJ-NP-Za-km-z]{18}",
    }
    seen: Counter[str] = Counter()
    for event in events(1):
        obj = event["data"]["object"]
        if event["type"].startswith("connection."):
            assert re.fullmatch(patterns["con"], obj["id"])
            seen["connection"] += 1
        if event["type"].startswith("user."):
            assert re.fullmatch(patterns["user_id"], obj["user_id"]), obj["user_id"]
            seen["user"] += 1
        if event["type"].startswith("organization.connection."):
            assert re.fullmatch(patterns["con"], obj["connection"]["id"])
            seen["con"] += 1
        if "role" in obj:
            assert re.fullmatch(patterns["rol"], obj["role"]["id"])
            seen["rol"] += 1
        group = obj.get("group", obj if event["type"] in ("group.created", "group.updated", "group.deleted") else None)
        if group:
            assert re.fullmatch(patterns["grp"], group["id"])
            seen["grp"] += 1
        org_id = obj.get("organization", {}).get("id") or (
            obj["id"] if event["type"].startswith("organization.") and "id" in obj else None
        )
        if org_id:
            assert re.fullmatch(patterns["org"], org_id)
            seen["org"] += 1
    assert min(seen.values()) > 100


@pytest.mark.parametrize("seed", SEEDS)
def test_user_event_sizes_are_realistic(seed: int) -> None:
    sizes = [
        len(dump(e).encode())
        for e in events(seed)
        if e["type"].startswith("user.") and "previous_object" not in e["data"]
    ]
    within = sum(900 <= size <= 1600 for size in sizes) / len(sizes)
    assert within >= 0.75, within
    assert 1000 <= sorted(sizes)[len(sizes) // 2] <= 1500
    social_numeric = [
        i
        for e in events(seed)
        if e["type"] == "user.created"
        for i in e["data"]["object"]["identities"]
        if isinstance(i["user_id"], int)
    ]
    assert social_numeric and all("profileData" in i and i["isSocial"] for i in social_numeric)


@pytest.mark.parametrize("seed", SEEDS)
def test_replaying_the_events_rebuilds_the_world(seed: int) -> None:
    generator = EventGenerator(seed=seed)
    emitted = generator.generate(5000)
    assert generator.world.unannounced == []  # unforced events only act on what exists
    assert replay(emitted, []) == world_state(generator)
    assert generator.events_emitted == 5000


def test_forced_types_create_missing_prerequisites_and_stay_coherent() -> None:
    for event_type in EVENT_TYPES:  # each from an empty world: every prerequisite is missing
        generator = EventGenerator(seed=3)
        event = generator.next_event(event_type=event_type)
        assert event["type"] == event_type
        validator(event_type).validate(to_record(event, "o"))
        assert replay([event], generator.world.unannounced) == world_state(generator)

    generator = EventGenerator(seed=4)
    emitted, forced = [], []
    for round_ in range(30):  # mixes forced and random events
        for event_type in EVENT_TYPES:
            forced.append(generator.next_event(event_type=event_type))
            emitted.append(forced[-1])
            if round_ % 3 == 0:
                emitted.append(generator.next_event())
    assert [e["type"] for e in forced] == list(EVENT_TYPES) * 30
    assert generator.world.unannounced  # some prerequisites were missing
    assert replay(emitted, generator.world.unannounced) == world_state(generator)
    for event in emitted:
        validator(event["type"]).validate(to_record(event, "o"))


def test_previous_object_is_the_entity_before_the_change() -> None:
    last: dict[str, dict[str, Any]] = {}
    checked = Counter()
    for event in events(0):
        event_type, data = event["type"], event["data"]
        if event.get("a0purpose") == "test":
            continue  # made-up users: checked in test_test_events_are_made_up_users_outside_the_world
        obj = data["object"]
        key = obj.get("user_id") if event_type.startswith("user.") else obj.get("id")
        if event_type in ("user.updated", "organization.updated", "connection.updated") and "previous_object" in data:
            assert data["previous_object"] == last[key]
            assert data["previous_object"] != obj
            checked[event_type] += 1
        if event_type == "user.deleted" and "previous_object" in data:
            assert data["previous_object"] == {k: v for k, v in obj.items() if k != "deleted_at"}
            checked[event_type] += 1
        if event_type == "connection.deleted" and "previous_object" in data:
            assert data["previous_object"] == obj == last[key]
            checked[event_type] += 1
        if event_type.split(".")[0] in ("user", "organization", "connection") and event_type.endswith(
            (".created", ".updated")
        ):
            last[key] = obj
    assert min(checked.values()) > 15 and len(checked) == 5, checked


def test_both_tenant_shapes_appear() -> None:
    shapes: Counter[str] = Counter()
    for event in events(0):
        data = event["data"]
        tenant = data.get("context", {}).get("tenant")
        if tenant is None:
            shapes["no context"] += 1
            continue
        old = "tenant_id" in tenant
        shapes["old" if old else "new"] += 1
        if old:
            assert re.fullmatch(r"ten_[A-Za-z0-9]{16}", tenant["tenant_id"])
            assert "previous_object" not in data
            if (
                event["type"].startswith("organization.connection.")
                and event["type"] != "organization.connection.removed"
            ):
                assert "is_enabled" not in data["object"]
        else:
            assert tenant == {"id": "acme-demo"}
            if event["type"].endswith(".updated"):
                assert "previous_object" in data
    total = sum(shapes.values())
    assert 0.25 < shapes["old"] / total < 0.40
    assert 0.50 < shapes["new"] / total < 0.70
    assert 0.05 < shapes["no context"] / total < 0.15


def test_text_needs_unicode_and_escapes() -> None:
    text = "\n".join(_events(0, 5000))
    assert not text.isascii()
    for sample in ("Zoë Ångström", "山田太郎", "🚀"):
        assert sample in text
    escaped = json.dumps(events(0))
    for sequence in ('\\"', "\\\\", "\\n"):  # quote, backslash and newline inside string values
        assert sequence in escaped


def test_explicit_time_is_used() -> None:
    generator = EventGenerator(seed=5, start=datetime(2025, 6, 1, tzinfo=timezone.utc), mean_gap_seconds=1.0)
    assert generator.next_event()["time"].startswith("2025-06-01T00:00:0")
    stamp = datetime(2026, 2, 3, 4, 5, 6, 789_000, tzinfo=timezone.utc)
    event = generator.next_event(time=stamp, event_type="user.created")
    assert event["time"] == "2026-02-03T04:05:06.789Z"
    assert event["data"]["object"]["created_at"] == event["time"]
    assert generator.next_event()["time"] > event["time"]  # the clock moved to the explicit time


def test_returned_events_do_not_share_state_with_the_world() -> None:
    generator = EventGenerator(seed=6)
    created = generator.next_event(event_type="user.created")
    user_id = created["data"]["object"]["user_id"]
    created["data"]["object"]["identities"].clear()
    created["data"]["object"]["app_metadata"]["plan"] = "mutated"
    stored = generator.world.users[user_id]
    assert stored["identities"] and stored["app_metadata"]["plan"] != "mutated"


def test_unknown_forced_type_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"user\.exploded"):
        EventGenerator().next_event(event_type="user.exploded")


def test_population_stays_bounded() -> None:
    generator = EventGenerator(seed=2)
    generator.generate(30_000)
    world = generator.world
    assert 200 < len(world.users) < 1000
    assert 10 < len(world.organizations) < 120
    assert 20 < len(world.groups) < 200


def test_indexed_set_behaves_like_a_set() -> None:
    import random

    items: IndexedSet[int] = IndexedSet([1, 2, 3])
    items.add(2)
    items.discard(1)
    items.discard(42)
    assert items == {2, 3} and len(items) == 2 and 3 in items and 1 not in items
    rng = random.Random(0)
    assert {items.choice(rng) for _ in range(50)} == {2, 3}


# --- Connections, test events, unknown and excluded types ---------------------------------------------


def test_connections_cover_every_strategy_and_come_back_after_deletion() -> None:
    generator = EventGenerator(seed=2)
    emitted = generator.generate(20_000)
    connection_events = [e for e in emitted if e["type"].startswith("connection.")]
    created = [e["data"]["object"] for e in connection_events if e["type"] == "connection.created"]
    strategies = Counter(connection["strategy"] for connection in created)
    known = {"oidc", "okta", "samlp", "pingfederate", "adfs", "ad", "google-apps", "waad"}
    assert known <= set(strategies), strategies
    assert set(strategies) - known, "a strategy outside the eight variants appears too"
    for event in connection_events:
        connection = event["data"]["object"]
        assert ("show_as_button" in connection) is (connection["strategy"] != "ad"), "the ad variant has none"
        assert "secret" not in json.dumps(connection["options"]).lower()
        if connection["strategy"] in ("oidc", "okta", "google-apps", "waad"):
            assert connection["options"]["client_id"]
        if connection["strategy"] == "pingfederate":
            assert connection["options"]["pingFederateBaseUrl"].startswith("https://")
    deleted_names = set()
    recreated = 0
    for event in connection_events:
        name = event["data"]["object"]["name"]
        if event["type"] == "connection.deleted":
            deleted_names.add(name)
        elif event["type"] == "connection.created" and name in deleted_names:
            recreated += 1
    assert recreated >= 3, "a deleted connection's name is set up again, with a new id"
    live = generator.world.enterprise_connections
    assert 3 <= len(live) <= 40
    assert len({connection["name"] for connection in live.values()}) == len(live), "live names are unique"
    organization_connections = {con_id for _, con_id in generator.world.organization_connections}
    assert organization_connections & {e["data"]["object"]["id"] for e in connection_events}, (
        "organizations also enable connections created by events"
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_test_events_are_made_up_users_outside_the_world(seed: int) -> None:
    generator = EventGenerator(seed=seed)  # test events are on by default
    emitted = generator.generate(5000)
    tests = [event for event in emitted if "a0purpose" in event]
    assert {event["a0purpose"] for event in tests} == {"test"}
    assert 5 <= len(tests) == generator.test_events_emitted <= 50, "a few per thousand"
    assert {event["type"] for event in tests} == {"user.created", "user.updated"}
    real_user_ids = {
        e["data"]["object"]["user_id"] for e in emitted if e["type"] == "user.created" and "a0purpose" not in e
    }
    for event in tests:
        user_id = event["data"]["object"]["user_id"]
        assert user_id not in real_user_ids and user_id not in generator.world.users
        validator(event["type"]).validate(to_record(event, "o"))
    assert replay(emitted, []) == world_state(generator), "test events change nothing"

    quiet = EventGenerator(seed=seed, test_event_share=0.0).generate(2000)
    assert not any("a0purpose" in event for event in quiet)


def test_unknown_types_are_interleaved_with_any_payload_and_change_nothing() -> None:
    unknown = ("role.created", "client.credentials.rotated", "log_stream.updated")
    generator = EventGenerator(seed=9, unknown_types=unknown)
    emitted = generator.generate(4000)
    strangers = [event for event in emitted if event["type"] not in EVENT_TYPES]
    assert {event["type"] for event in strangers} == set(unknown)
    assert 0.03 < len(strangers) / len(emitted) < 0.07
    for event in strangers:
        assert list(event) == EVENT_KEYS
        assert re.fullmatch(r"evt_[A-Za-z0-9]{22}", event["id"]) and TIME.match(event["time"])
        assert event["data"]["object"]["id"]
    assert replay(emitted, []) == world_state(generator)
    forced = generator.next_event(event_type="role.created")
    assert forced["type"] == "role.created" and forced["a0tenant"] == "acme-demo"
    with pytest.raises(ValueError, match=r"user\.created"):
        EventGenerator(unknown_types=("user.created",))


def test_excluded_types_are_never_chosen_and_the_world_stays_coherent() -> None:
    excluded = {t for t in EVENT_TYPES if t.startswith(("group.", "organization.connection."))}
    generator = EventGenerator(seed=10, excluded_types=excluded)
    emitted = generator.generate(4000)
    types = {event["type"] for event in emitted}
    assert not types & excluded
    no_groups = {"organization.group.role.assigned", "organization.group.role.deleted"}  # need groups
    assert types == set(EVENT_TYPES) - excluded - no_groups
    assert replay(emitted, []) == world_state(generator)
    assert generator.world.groups == {} and generator.world.organization_connections == {}
    with pytest.raises(ValueError, match="no type"):
        EventGenerator(excluded_types={"user.created", "organization.created", "group.created", "connection.created"})


def test_bare_events_carry_neither_context_nor_previous_object_and_change_nothing_else() -> None:
    """As in Auth0's own SDK tests; the share is an option, and off it draws nothing (same events)."""
    generator = EventGenerator(seed=11, bare_share=0.5)
    emitted = generator.generate(4000)
    bare = [event for event in emitted if "context" not in event["data"] and "previous_object" not in event["data"]]
    assert 0.45 < len(bare) / len(emitted) < 0.6  # half, plus the usual ones without context
    assert any(event["type"].endswith(".updated") for event in bare)
    assert all(TIME.match(event["time"]) and event["time"][-5] == "." for event in bare), "milliseconds"
    assert replay(emitted, []) == world_state(generator)
    assert EventGenerator(seed=11, bare_share=0.0).generate(500) == EventGenerator(seed=11).generate(500)


# sha256 over orjson.dumps of each event: 3,000 random events, then three forced ones. Taken again when
# organization.group.role.assigned stopped picking groups of deleted organizations (session 9, a fix);
# otherwise the stream must stay byte for byte the same.
DEFAULT_STREAM_DIGESTS = {
    0: "bedbc2211483bfda29a2779a13975b13fd6df8a43d0b80ea6b937df4b3ab82be",
    7: "df642484d672116c63d9688c2cddf507ce0499e0bcf787559b8a0ace7acce7ef",
}


@pytest.mark.parametrize("seed", sorted(DEFAULT_STREAM_DIGESTS))
def test_the_default_stream_is_byte_for_byte_unchanged(seed: int) -> None:
    import hashlib

    import orjson

    generator = EventGenerator(seed=seed)
    digest = hashlib.sha256()
    for event in generator.generate(3000):
        digest.update(orjson.dumps(event))
    for event_type in ("user.deleted", "organization.member.added", "group.role.deleted"):
        digest.update(orjson.dumps(generator.next_event(event_type=event_type)))
    assert digest.hexdigest() == DEFAULT_STREAM_DIGESTS[seed]


# --- With a world before the log ---------------------------------------------------------------------


def with_world_before(seed: int, users: int = 300, organizations: int = 12, groups: int = 6) -> Any:
    from tap_auth0_events.emulator.management import PreLog

    generator = EventGenerator(seed=seed)
    world = generator.world
    before = PreLog(seed, users, organizations, groups, 8, list(world.connections), dict(world.roles))
    generator.start_from(before)
    return generator, before


def pre_log_ids(before: Any) -> dict[str, str]:
    ids = {before.user_id(i): "user" for i in range(before.users)}
    ids.update({before.organization_id(i): "organization" for i in range(before.organizations)})
    ids.update({before.group_id(i): "group" for i in range(before.groups)})
    return ids


def named_ids(obj: dict[str, Any]) -> set[str]:
    """Every user, organization and group id an event object names."""
    found = {obj.get("user_id"), obj.get("id"), obj.get("organization_id")}
    for key in ("organization", "user", "group", "member"):
        ref = obj.get(key)
        if isinstance(ref, dict):
            found |= {ref.get("id"), ref.get("user_id"), ref.get("organization_id")}
    return {value for value in found if isinstance(value, str)}


def test_events_touch_the_world_before_and_never_create_it() -> None:
    generator, before = with_world_before(5)
    pre_log = pre_log_ids(before)
    user_at_first_touch = {}
    touched: Counter[str] = Counter()
    for event in generator.generate(1500):
        validator(event["type"]).validate(to_record(event, "o"))
        if event.get("a0purpose") == "test":
            continue
        obj, event_type = event["data"]["object"], event["type"]
        for entity_id in named_ids(obj) & set(pre_log):
            touched[event_type] += 1
            assert not event_type.endswith(".created") or event_type == "group.created", event_type
            if event_type == "group.created":
                assert obj["id"] not in pre_log, "a pre-log group is never created again"
            if pre_log[entity_id] == "user" and entity_id not in user_at_first_touch:
                user_at_first_touch[entity_id] = before.user(before.index_of("user", entity_id))
                previous = event["data"].get("previous_object")
                if event_type == "user.updated" and previous is not None:
                    assert previous == user_at_first_touch[entity_id], "previous_object is the pre-log user"
    kinds = {t for t in touched if not t.startswith("connection.")}
    assert kinds >= set(EVENT_TYPES) - {"user.created", "organization.created", "connection.created"} - {
        t for t in EVENT_TYPES if t.startswith("connection.")
    }, sorted(set(EVENT_TYPES) - kinds)


def test_with_a_world_before_the_same_seed_gives_the_same_events() -> None:
    first, _ = with_world_before(9)
    second, _ = with_world_before(9)
    assert [dump(e) for e in first.generate(800)] == [dump(e) for e in second.generate(800)]


def test_a_million_users_before_cost_little_per_event() -> None:
    import time

    generator, _ = with_world_before(3, users=1_000_000, organizations=16_000, groups=5_000)
    started = time.monotonic()
    generator.generate(3000)
    assert time.monotonic() - started < 5, "pre-log entities are picked by index, not materialised"
    assert len(generator.world.users) < 5000
