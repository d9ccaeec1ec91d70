"""The baseline benchmark's emulator, in its own process: a world before the log, Essentials limits.

`python bench/baseline_emulator.py --port-file F --stats-file S [options]` builds
`Emulator(EmulatorConfig(...))` with `users_before`, `organizations_before`, `groups_before`,
`grant_read_scopes=True`, `rate_limit_plan`, `rate_limit_scale` (the emulator's CLI has no options
for the world before yet), writes its port to F once listening, and on SIGTERM writes S: per
endpoint family the time of every call it answered (epoch seconds), which of them it answered 429,
and the seconds its handler took; plus this process's CPU seconds.

The users export file is rendered (generated, JSON-encoded, gzip-compressed) once before the port
file is written, and served from memory: Auth0 serves a finished export from storage, and the
benchmark measures the tap's reading of it, not the emulator's generation of 1,000,000 users
(~60 µs each here). `--live-export` serves it as the emulator does, generated while it is read.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tap_auth0_events.baseline import USER_FIELDS
from tap_auth0_events.emulator import management
from tap_auth0_events.emulator.server import Emulator, EmulatorConfig


class Stats:
    """Per family: the epoch time of each answered call, of each 429, and the handlers' seconds."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: dict[str, list[float]] = defaultdict(list)
        self.limited: dict[str, list[float]] = defaultdict(list)
        self.handler_seconds: dict[str, float] = defaultdict(float)
        self.local = threading.local()

    def as_json(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with self.lock:
            return {
                "calls": dict(self.calls),
                "limited": dict(self.limited),
                "handler_seconds": dict(self.handler_seconds),
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "peak_rss_mb": usage.ru_maxrss / 1024,
            }


def instrument(stats: Stats) -> None:
    """Wrap the emulator's Management API: its rate limiter (the call's family and verdict) and its
    handler (the seconds each answer took, the export download as family `export_download`)."""
    rate_limit = management.ManagementApi._rate_limit
    handle = management.ManagementApi.handle

    def counted(self: Any, family: str, headers: dict[str, str]) -> bool:
        limited = rate_limit(self, family, headers)
        now = time.time()
        stats.local.family = family
        with stats.lock:
            stats.calls[family].append(now)
            if limited:
                stats.limited[family].append(now)
        return limited

    def timed(self: Any, handler: Any, method: str, body: bytes) -> None:
        stats.local.family = "export_download" if handler.path.startswith("/exports/") else "unrouted"
        started = time.perf_counter()
        try:
            handle(self, handler, method, body)
        finally:
            with stats.lock:
                stats.handler_seconds[stats.local.family] += time.perf_counter() - started

    management.ManagementApi._rate_limit = counted  # type: ignore[method-assign]
    management.ManagementApi.handle = timed  # type: ignore[method-assign]


class _Rendered:
    """Stands in for a users export's lines: `gzip_stream` answers it with the file rendered before."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        raise AssertionError("a rendered export is served whole, never iterated")


def prerender_export(emulator: Emulator) -> tuple[int, float]:
    """Render the export of USER_FIELDS once; serve it from memory. Returns (bytes, seconds)."""
    started = time.perf_counter()
    tenant = management.Tenant(emulator.prelog, emulator.world)
    snapshot = tenant.export_snapshot()
    fields = list(USER_FIELDS)
    pieces = list(management.gzip_stream(tenant.export_lines(snapshot, fields)))
    rendered = _Rendered(pieces)
    export_lines, gzip_stream = management.Tenant.export_lines, management.gzip_stream

    def lines(self: Any, snap: Any, wanted: list[str] | None) -> Any:
        # The world does not change in this benchmark (no live events): the same snapshot, the same file.
        same = snap.users.keys() == snapshot.users.keys() and snap.adopted_users == snapshot.adopted_users
        if wanted == fields and same:
            return rendered
        return export_lines(self, snap, wanted)

    def stream(source: Any, chunk: int = 256 * 1024) -> Iterator[bytes]:
        if isinstance(source, _Rendered):
            return iter(source.pieces)
        return gzip_stream(source, chunk)

    management.Tenant.export_lines = lines  # type: ignore[method-assign]
    management.gzip_stream = stream  # type: ignore[assignment]
    return sum(map(len, pieces)), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--stats-file", required=True)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--organizations", type=int, default=16_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--members-per-organization", type=int, default=20)
    parser.add_argument("--events", type=int, default=500, help="events of history (they make the World)")
    parser.add_argument("--plan", default="essentials")
    parser.add_argument("--scale", type=float, default=60.0)
    parser.add_argument("--live-export", action="store_true", help="generate the export while it is read")
    args = parser.parse_args()
    config = EmulatorConfig(
        initial_events=args.events,
        live_events_per_second=0.0,
        cycle_seconds=None,
        heartbeat_seconds=1.0,
        users_before=args.users,
        organizations_before=args.organizations,
        groups_before=args.groups,
        members_per_organization=args.members_per_organization,
        grant_read_scopes=True,
        rate_limit_plan=args.plan,
        rate_limit_scale=args.scale,
    )
    stats = Stats()
    instrument(stats)
    emulator = Emulator(config, port=0)
    if not args.live_export:
        size, seconds = prerender_export(emulator)
        print(f"users export rendered: {size / 1e6:.1f} MB gzip in {seconds:.1f}s", flush=True)
    emulator.start()
    print(f"baseline emulator on {emulator.url}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    port_file = Path(args.port_file)
    port_file.with_suffix(".tmp").write_text(emulator.url.rsplit(":", 1)[1])
    os.replace(port_file.with_suffix(".tmp"), port_file)
    stop.wait()
    emulator.stop()
    Path(args.stats_file).write_text(json.dumps(stats.as_json()))


if __name__ == "__main__":
    main()
