"""The baseline: the tenant as the Management API shows it, read in checkpointed steps.

A baseline is a phase that STATE records, like Debezium's snapshot: `bookmarks["baselines"]` holds
which baseline is running, when it started (Auth0's clock), and how far each of its four reads got.
It is written only after the records it covers, exactly like an event offset, so `kill -9` at any
point loses nothing: a later run continues from the last checkpoint (a page read again upserts
onto itself, since a record's id is a hash of the baseline, the stream and the key).

The four reads, each a generator of steps (`Emit`, then `BaselineCheckpoint`):

- connections: `GET /connections`, checkpoint paging;
- organizations: `GET /organizations`, checkpoint paging; for each page, every organization's
  members (with their roles), enabled connections and groups' roles, concurrently within the
  rate limits; the checkpoint is the organizations' `next` after the whole page;
- groups: `GET /groups`, checkpoint paging; each group's members and roles;
- users: the export job, created when the baseline starts (it runs while the rest is read), its
  file streamed; the checkpoint is the number of lines read.

When a read is finished, each selected stream it fills gets its `baselines` record (the stream is
complete), then the checkpoint that says so. `Baseline.steps` stops at its deadline or a stop
request; what is left continues next run. It knows nothing of Singer.
"""

from __future__ import annotations

import copy
import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson

from tap_auth0_events.baseline_streams import (
    BASELINE_BY_NAME,
    BASELINES_STREAM,
    BaselineStream,
    baseline_event_id,
    baseline_id_at,
)
from tap_auth0_events.errors import ExportFailedError, MissingScopeError, NotFoundError, OutOfTimeError
from tap_auth0_events.management import ManagementApi, UsersExport, path_segment
from tap_auth0_events.run import Emit

Obj = dict[str, Any]
Records = list[tuple[str, Any]]

# The users export's fields (JSON exports may hold metadata and identities whole).
USER_FIELDS = (
    "user_id",
    "email",
    "email_verified",
    "username",
    "phone_number",
    "phone_verified",
    "name",
    "nickname",
    "given_name",
    "family_name",
    "picture",
    "created_at",
    "updated_at",
    "identities",
    "app_metadata",
    "user_metadata",
    "last_login",
    "last_ip",
    "logins_count",
    "blocked",
    "multifactor",
)
USERS_PER_CHECKPOINT = 5_000
TAKE = 100  # the most a checkpoint page holds
CHUNK = 16  # organizations or groups whose relations are read between two checkpoints
WORKERS = 16  # per-organization and per-group calls in flight at once (the pacer keeps them in the limit)
# Keys of a connection's options (at any depth) that hold secrets: never written.
SECRET_KEY = re.compile(r"secret|password|token|private|credential|configuration|^key$|_key$|cert", re.IGNORECASE)

# Which read fills which streams, in the order the reads run.
READS: dict[str, tuple[str, ...]] = {
    "connections": ("baseline_connections",),
    "organizations": (
        "baseline_organizations",
        "baseline_organization_members",
        "baseline_organization_member_roles",
        "baseline_organization_connections",
        "baseline_organization_group_roles",
    ),
    "groups": ("baseline_groups", "baseline_group_members", "baseline_group_roles"),
    "users": ("baseline_users",),
}

# One request per scope, answered 403 insufficient_scope when the token lacks it and otherwise 200 or
# 404 (Auth0 checks the scope before the id): how the scopes are known before anything is emitted.
SCOPE_PROBES: dict[str, tuple[str, list[tuple[str, str]], str]] = {
    "read:users": ("/jobs/job_scope_probe", [], "other"),
    "read:organizations": ("/organizations", [("take", "1")], "organizations"),
    "read:organization_members": ("/organizations/org_scope_probe/members", [("take", "1")], "organization_members"),
    "read:organization_member_roles": (
        "/organizations/org_scope_probe/members",
        [("take", "1"), ("fields", "user_id,roles")],
        "organization_members",
    ),
    "read:organization_connections": (
        "/organizations/org_scope_probe/enabled_connections",
        [],
        "organization_connections",
    ),
    "read:organization_groups": ("/organizations/org_scope_probe/groups", [("take", "1")], "other"),
    "read:organization_group_roles": ("/organizations/org_scope_probe/groups/grp_scope_probe/roles", [], "other"),
    "read:groups": ("/groups", [("take", "1")], "other"),
    "read:group_members": ("/groups/grp_scope_probe/members", [("take", "1")], "other"),
    "read:group_roles": ("/groups/grp_scope_probe/roles", [], "other"),
    "read:connections": ("/connections", [("take", "1")], "connections"),
}


@dataclass(slots=True, frozen=True)
class BaselineCheckpoint:
    """The baseline's progress after everything emitted so far: `bookmarks["baselines"]`."""

    progress: Obj


@dataclass(slots=True)
class BaselineRun:
    """What one run did of a baseline, for its summary line."""

    records: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # why something was left out (a 404 while paging)
    stopped: str = ""  # why the run stopped before the end ("" when it is complete)


def due(mode: str, progress: Any, first_run: bool) -> str:
    """What a run does about the baseline: "start", "continue" or "" (nothing), by the `baseline`
    setting, the stored progress and whether STATE holds an event position yet."""
    unfinished = isinstance(progress, dict) and progress.get("baseline_id") and not progress.get("completed_at")
    if mode == "never":
        return ""
    if unfinished:
        return "continue"
    if mode == "now" or (first_run and not isinstance(progress, dict)):
        return "start"
    return ""


def check_scopes(api: ManagementApi, streams: Sequence[BaselineStream]) -> None:
    """Probe every scope the streams need (a call each); MissingScopeError naming all that are missing."""
    needed = sorted({scope for stream in streams for scope in stream.scopes})
    missing: list[str] = []
    for scope in needed:
        path, params, family = SCOPE_PROBES[scope]
        try:
            api.get(path, params, family=family)
        except NotFoundError:
            pass
        except MissingScopeError as error:
            # The probe's own scope when the answer names it ("any of: read:users, create:users"), else
            # the one it names (a probe of member roles answers first for the members' scope).
            missing.extend(named for named in _named(scope, error.scopes) if named not in missing)
    if missing:
        names = ", ".join(sorted(set(missing)))
        raise MissingScopeError(
            f"the token lacks the Management API scopes the selected baseline streams need: {names}. Grant them "
            "to the application (Applications > APIs > Auth0 Management API > Machine to Machine Applications), "
            "or skip the baseline: set baseline to never, or deselect the baseline_* streams",
            tuple(missing),
        )


def _named(scope: str, named: tuple[str, ...]) -> tuple[str, ...]:
    return (scope,) if scope in named or not named else named


def new_progress(started_at: str, streams: Sequence[BaselineStream]) -> Obj:
    """The stored progress of a baseline that starts now."""
    names = [stream.name for stream in streams]
    return {
        "baseline_id": baseline_id_at(started_at),
        "started_at": started_at,
        "completed_at": None,
        "streams": names,
        "reads": {read: {"done": False} for read, filled in READS.items() if set(filled) & set(names)},
        "records": {name: 0 for name in names},
        "calls": 0,
    }


class Baseline:
    """The steps of one run's share of a baseline whose stored progress is `progress` (a copy is kept);
    `selected` are the names of the streams the run has selected."""

    def __init__(
        self,
        api: ManagementApi,
        progress: Obj,
        logger: logging.Logger,
        *,
        selected: AbstractSet[str],
        json_value: Callable[[bytes], Any],
        stop_requested: threading.Event,
        deadline: float,
        clock: Callable[[], float],
    ) -> None:
        self.api, self.logger = api, logger
        self.progress = copy.deepcopy(progress)
        # The baseline's streams still selected (one deselected since it started is not read), and
        # whether the `baselines` stream, which says a stream is complete, is selected.
        self.selected = frozenset(self.progress["streams"]) & selected
        self.completion_selected = BASELINES_STREAM in selected
        self.json_value = json_value  # the output's: a JSON text as a record's value
        self.stop_requested, self.deadline, self.clock = stop_requested, deadline, clock
        self.run = BaselineRun()
        self._calls_at_start = 0
        self._lock = threading.Lock()  # relations are read on worker threads
        self._export_retried = False  # a failed export job is started again once a run
        self._skipped: dict[str, int] = {}  # entities skipped since the last checkpoint, per read

    @property
    def baseline_id(self) -> str:
        return str(self.progress["baseline_id"])

    def steps(self) -> Iterator[Emit | BaselineCheckpoint]:
        """Each read in turn, from where the progress says, to the end or the deadline."""
        self._calls_at_start = _calls(self.api)
        try:
            users = self.progress["reads"].get("users")
            if users is not None and not users.get("done") and not users.get("job_id"):
                yield from self._start_export(users)
            for read in READS:
                state = self.progress["reads"].get(read)
                if state is None or state.get("done"):
                    continue
                if read == "users":
                    yield from self._users(state)
                else:
                    yield from self._paged(read, state)
                if self.run.stopped:
                    return
            self.progress["completed_at"] = max(
                (state.get("completed_at") or "" for state in self.progress["reads"].values()),
                default=self.progress["started_at"],
            )
            yield self._checkpoint()
        except OutOfTimeError as error:
            self.run.stopped = f"out of this run's baseline time ({error})"

    # -- the paged reads ------------------------------------------------------------------------

    def _paged(self, read: str, state: Obj) -> Iterator[Emit | BaselineCheckpoint]:
        """A checkpoint-paged list, from the stored `next`; for organizations and groups, each item's
        relations too, in chunks of CHUNK items with a checkpoint after each (`done_through`: the last
        item of the page done), so a run's share of a slow, rate-limited page is never lost."""
        path, key, family = {
            "connections": ("/connections", "connections", "connections"),
            "organizations": ("/organizations", "organizations", "organizations"),
            "groups": ("/groups", "groups", "other"),
        }[read]
        related = {"organizations": self._organization_relations, "groups": self._group_relations}.get(read)
        cursor = state.get("next")
        for page in self.api.checkpoint_pages(path, key, family=family, take=TAKE, start_from=cursor):
            items = _after(page.items, state.pop("done_through", None))
            size = CHUNK if related is not None else max(1, len(items))
            for start in range(0, len(items), size):
                chunk = items[start : start + size]
                if related is None:
                    records = self._page_records(read, page.date, chunk)
                else:
                    records, done = [], 0
                    try:
                        for item, more in zip(chunk, self.api.concurrent(related, chunk, WORKERS), strict=True):
                            records.extend(self._page_records(read, page.date, [item]))
                            records.extend(more)
                            done += 1
                    except OutOfTimeError:
                        # Out of time within the chunk: keep the items whose relations are all read,
                        # so that a run short of rate-limit budget still moves on.
                        if done:
                            yield self._emit(records)
                            state["next"], state["done_through"] = cursor, str(chunk[done - 1].get("id"))
                            yield self._checkpoint()
                        raise
                if records:
                    yield self._emit(records)
                if start + size < len(items):
                    state["next"], state["done_through"] = cursor, str(chunk[-1].get("id"))
                    yield self._checkpoint()
                    if self._should_stop():
                        return
            state.pop("done_through", None)
            state["next"] = cursor = page.next
            if page.next is None:
                # The last page's relations were answered after it: the read ends with the latest answer.
                completed_at = max(page.date, self.api.last_date)
                state["done"], state["completed_at"] = True, completed_at
                completions = self._completions(read, completed_at)
                if completions:
                    yield Emit(completions)
            yield self._checkpoint()
            if page.next is not None and self._should_stop():
                return

    def _page_records(self, read: str, read_at: str, items: list[Obj]) -> Records:
        stream = {"connections": "baseline_connections", "organizations": "baseline_organizations"}.get(
            read, "baseline_groups"
        )
        if stream not in self.selected:
            return []
        shape = _connection if read == "connections" else dict
        return [self._record(stream, read_at, shape(item)) for item in items]

    def _organization_relations(self, organization: Obj) -> Records:
        """One organization's members (with roles), enabled connections and groups' roles."""
        org_id = str(organization.get("id"))
        org = {"id": org_id, "name": organization.get("name")}
        base = f"/organizations/{path_segment(org_id)}"
        records: Records = []
        try:
            with_roles = "baseline_organization_member_roles" in self.selected
            if with_roles or "baseline_organization_members" in self.selected:
                params = [("fields", "user_id,email,name,picture,roles")] if with_roles else []
                for page in self.api.checkpoint_pages(
                    f"{base}/members", "members", family="organization_members", params=params, take=TAKE
                ):
                    for member in page.items:
                        user = {k: v for k, v in member.items() if k != "roles"}
                        if "baseline_organization_members" in self.selected:
                            records.append(
                                self._record(
                                    "baseline_organization_members", page.date, {"organization": org, "user": user}
                                )
                            )
                        for role in (member.get("roles") or ()) if with_roles else ():
                            records.append(
                                self._record(
                                    "baseline_organization_member_roles",
                                    page.date,
                                    {
                                        "organization": {"id": org_id},
                                        "user": {"user_id": user.get("user_id")},
                                        "role": {"id": role.get("id"), "name": role.get("name")},
                                    },
                                )
                            )
            if "baseline_organization_connections" in self.selected:
                for page in self.api.offset_pages(
                    f"{base}/enabled_connections", "enabled_connections", family="organization_connections"
                ):
                    for enabled in page.items:
                        connection = dict(enabled.get("connection") or {})
                        connection["id"] = enabled.get("connection_id")
                        settings = {k: v for k, v in enabled.items() if k not in ("connection", "connection_id")}
                        obj = {"organization": org, "connection": connection, **settings}
                        records.append(self._record("baseline_organization_connections", page.date, obj))
            if "baseline_organization_group_roles" in self.selected:
                for page in self.api.checkpoint_pages(f"{base}/groups", "groups", family="other", take=TAKE):
                    for group in page.items:
                        group_path = f"{base}/groups/{path_segment(str(group.get('id')))}/roles"
                        for roles in self.api.checkpoint_pages(group_path, "roles", family="other", take=TAKE):
                            for role in roles.items:
                                obj = {
                                    "organization": {"id": org_id},
                                    "group": group,
                                    "role": {"id": role.get("id"), "name": role.get("name")},
                                }
                                records.append(self._record("baseline_organization_group_roles", roles.date, obj))
        except NotFoundError:
            return self._skip("organizations", f"organization {org_id} (deleted while the baseline read it: HTTP 404)")
        return records

    def _group_relations(self, group: Obj) -> Records:
        """One group's members and roles."""
        group_id = str(group.get("id"))
        base = f"/groups/{path_segment(group_id)}"
        records: Records = []
        try:
            if "baseline_group_members" in self.selected:
                for page in self.api.checkpoint_pages(f"{base}/members", "members", family="other", take=TAKE):
                    for member in page.items:
                        created = member.get("created_at")
                        obj = {
                            "group": {"id": group_id},
                            "member": {k: v for k, v in member.items() if k != "created_at"},
                        }
                        if created is not None:
                            obj["created_at"] = created
                        records.append(self._record("baseline_group_members", page.date, obj))
            if "baseline_group_roles" in self.selected:
                for page in self.api.checkpoint_pages(f"{base}/roles", "roles", family="other", take=TAKE):
                    for role in page.items:
                        obj = {"group": {"id": group_id}, "role": {"id": role.get("id"), "name": role.get("name")}}
                        records.append(self._record("baseline_group_roles", page.date, obj))
        except NotFoundError:
            return self._skip("groups", f"group {group_id} (deleted while the baseline read it: HTTP 404)")
        return records

    def _skip(self, read: str, why: str) -> Records:
        """An entity gone while the baseline read it: its relations are left out (its deletion arrives
        as an event), and the summary says so."""
        self.logger.info("baseline: skipping %s", why)
        with self._lock:
            self.run.skipped.append(why)
            self._skipped[read] = self._skipped.get(read, 0) + 1
        return []

    # -- the users export ---------------------------------------------------------------------------

    def _start_export(self, state: Obj) -> Iterator[BaselineCheckpoint]:
        export = self.api.export_users(USER_FIELDS)
        state.update(job_id=export.job_id, created_date=export.created_date, lines=0)
        self.logger.info("baseline: users export job %s created", export.job_id)
        yield self._checkpoint()

    def _users(self, state: Obj) -> Iterator[Emit | BaselineCheckpoint]:
        export = self._export(state)
        records: Records = []
        # The export's hot loop (a million users is common): the record's constant parts once.
        name, baseline_id, read_at = "baseline_users", self.baseline_id, export.created_date
        event_type = BASELINE_BY_NAME[name].event_type
        try:
            for user_id, user in export.users(int(state.get("lines") or 0), self._user):
                record = {
                    "event_id": baseline_event_id(baseline_id, name, (user_id,)),
                    "event_type": event_type,
                    "event_time": read_at,
                    "baseline_id": baseline_id,
                    "object": user,
                }
                records.append((event_type, record))
                if len(records) >= USERS_PER_CHECKPOINT:
                    yield self._emit(records, name)
                    records = []
                    state["lines"] = export.lines_read
                    yield self._checkpoint()
                    if self._should_stop():
                        return
        except ExportFailedError:
            if self._export_retried:  # once a run: the next run tries a new job again
                raise
            self.logger.warning("baseline: the users export job %s failed; starting a new one", export.job_id)
            self._export_retried = True
            state.update(job_id=None)
            yield from self._start_export(state)
            yield from self._users(state)
            return
        if records:
            yield self._emit(records, name)
        state.update(lines=export.lines_read, done=True, completed_at=self.api.last_date)
        completions = self._completions("users", state["completed_at"])
        if completions:
            yield Emit(completions)
        yield self._checkpoint()

    def _export(self, state: Obj) -> UsersExport:
        """The export job of the stored progress; a new one when Auth0 no longer has it (after 24 h)."""
        try:
            export = self.api.export_users(USER_FIELDS, job_id=str(state["job_id"]))
        except NotFoundError:
            self.logger.warning("baseline: the users export job %s is gone; starting a new one", state["job_id"])
            export = self.api.export_users(USER_FIELDS)
            state.update(job_id=export.job_id, created_date=export.created_date, lines=0)
            return export
        export.created_date = str(state.get("created_date") or export.created_date)
        return export

    # -- records and checkpoints --------------------------------------------------------------------

    def _user(self, line: bytes) -> tuple[str, Any]:
        """A line of the users export: its user_id (the whole line checked as JSON) and the user as
        the output writes it (kept as its JSON text on the fast path: the export's largest stream)."""
        try:
            user_id = _user_key(line).user_id
        except msgspec.ValidationError:
            raise ValueError("not a JSON object with a user_id") from None
        except msgspec.DecodeError:
            raise orjson.JSONDecodeError("not JSON", "", 0) from None
        return user_id, self.json_value(line)

    def _record(self, name: str, read_at: str, obj: Obj) -> tuple[str, Obj]:
        stream = BASELINE_BY_NAME[name]
        key = tuple(str(_at(obj, path)) for _, path in stream.key_paths)
        return stream.event_type, {
            "event_id": baseline_event_id(self.baseline_id, name, key),
            "event_type": stream.event_type,
            "event_time": read_at,
            "baseline_id": self.baseline_id,
            "object": obj,
        }

    def _emit(self, records: Records, only: str | None = None) -> Emit:
        """Records to write, counted per stream (`only`: they are all of that stream)."""
        in_all, this_run = self.progress["records"], self.run.records
        if only is not None:
            in_all[only] = in_all.get(only, 0) + len(records)
            this_run[only] = this_run.get(only, 0) + len(records)
            return Emit(records)
        for key, _ in records:
            name = _NAME_BY_TYPE[key]
            in_all[name] = in_all.get(name, 0) + 1
            this_run[name] = this_run.get(name, 0) + 1
        return Emit(records)

    def _completions(self, read: str, completed_at: str) -> Records:
        """The `baselines` records of the streams `read` filled, for the models to know them complete."""
        if not self.completion_selected:
            return []
        with self._lock:
            skipped = int(self.progress["reads"][read].get("skipped") or 0) + self._skipped.get(read, 0)
        return [
            (
                BASELINES_STREAM,
                {
                    "baseline_id": self.baseline_id,
                    "stream": name,
                    "event_type": BASELINE_BY_NAME[name].event_type,
                    "started_at": self.progress["started_at"],
                    "completed_at": completed_at,
                    "records": int(self.progress["records"].get(name, 0)),
                    "skipped": skipped or None,
                },
            )
            for name in READS[read]
            if name in self.selected
        ]

    def _checkpoint(self) -> BaselineCheckpoint:
        with self._lock:
            for read, count in self._skipped.items():
                state = self.progress["reads"][read]
                state["skipped"] = int(state.get("skipped") or 0) + count
            self._skipped.clear()
        self.progress["calls"] = int(self.progress.get("calls") or 0) + _calls(self.api) - self._calls_at_start
        self._calls_at_start = _calls(self.api)
        return BaselineCheckpoint(copy.deepcopy(self.progress))

    def _should_stop(self) -> bool:
        if self.stop_requested.is_set():
            self.run.stopped = "stopped by a termination signal"
        elif self.clock() >= self.deadline:
            self.run.stopped = "out of this run's baseline time"
        return bool(self.run.stopped)

    # -- the summary ------------------------------------------------------------------------------

    def summary(self) -> str:
        """One line: complete or not, the records of this run and in all, the calls, what is left."""
        progress = self.progress
        counts = self.api.counts()
        calls = sum(c.calls for c in counts.values())
        limited = sum(c.rate_limited for c in counts.values())
        read_now = ", ".join(f"{name} {count:,}" for name, count in sorted(self.run.records.items())) or "nothing"
        in_all = sum(int(n) for n in progress["records"].values())
        left = [read for read, state in progress["reads"].items() if not state.get("done")]
        if progress.get("completed_at"):
            status = f"complete ({in_all:,} records in all)"
        else:
            status = f"unfinished, {self.run.stopped or 'stopped'}; continues next run; left: {', '.join(left)}"
        skipped = f"; skipped {len(self.run.skipped)}: {'; '.join(self.run.skipped[:5])}" if self.run.skipped else ""
        return (
            f"baseline {self.baseline_id} {status}. This run: {read_now}; "
            f"{calls:,} Management API calls ({limited} answered HTTP 429){skipped}"
        )


class _UserKey(msgspec.Struct):
    user_id: str


_user_key = msgspec.json.Decoder(_UserKey).decode
_NAME_BY_TYPE = {stream.event_type: stream.name for stream in BASELINE_BY_NAME.values()}


def _calls(api: ManagementApi) -> int:
    return sum(counts.calls for counts in api.counts().values())


def _after(items: list[Obj], done_through: str | None) -> list[Obj]:
    """The items of a page after the one with id `done_through` (all of them when it is not there:
    gone since, so the page is read again; its records keep their ids)."""
    ids = [str(item.get("id")) for item in items]
    return items[ids.index(done_through) + 1 :] if done_through in ids else items


def _at(obj: Obj, path: tuple[str, ...]) -> Any:
    value: Any = obj
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _connection(connection: Obj) -> Obj:
    """A connection as written: every secret taken out of its options (at any depth)."""
    shaped = dict(connection)
    if isinstance(shaped.get("options"), dict):
        shaped["options"] = _without_secrets(shaped["options"])
    return shaped


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_secrets(v) for k, v in value.items() if not SECRET_KEY.search(str(k))}
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    return value
