"""Benchmark: a first run's baseline of a large tenant at emulated Essentials rate limits (issue 23, point 4).

Two steps, one machine, each emulator in its own process (the tap's process is measured alone):

  events    the event stream's records/s, for the users export to be compared with: the tap with
            `baseline: never` reads --events events of history from `tap-auth0-events-emulator`
            (as bench/run.py starts it); records/s = RECORD lines ÷ seconds between the pipe reads
            that brought the first and the last of them.
  baseline  `bench/baseline_emulator.py` serves a world before the log of --users users,
            --organizations organizations (--members-per-organization members each on average) and
            --groups groups, every read scope granted, Auth0's --plan limits (token buckets per
            endpoint family, §9.3 of the API reference) with burst and refill multiplied by --scale;
            the real `tap-auth0-events` runs with a catalog selecting only the baseline streams and
            `baselines`, `baseline: first_run`, under GNU time (peak RSS, CPU), its stdout read as a
            pipe and its RECORD lines counted per stream.

Reported per endpoint family (from the emulator: the time of every call it answered, and its 429s):
calls, the seconds from its first call to its last, calls/s, the bucket's refill rate (per minute x
scale ÷ 60) and the most the bucket allows over that window ((burst + refill x seconds) ÷ seconds).
Per organization the tap makes one call of each of members, enabled connections and groups, so the
slowest of those buckets (organization connections: 5 burst, 50/min on Essentials) bounds the run;
the target "calls/s at least 90 % of the limit" is that family's. The users export: baseline_users
records ÷ seconds between its first and last record, against the events step's records/s.

    bash bench/baseline.sh                 # 1,000,000 users, 16,000 organizations, scale 60
    bash bench/baseline.sh --quick         # a smoke run: 20,000 users, 400 organizations
    .venv/bin/python bench/baseline.py --help
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
BIN = Path(sys.executable).parent
TOKEN = "emulator-token"
START = "2000-01-01T00:00:00Z"
TIME = "/usr/bin/time"
READ = 1 << 20
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
RECORD = b'{"type":"RECORD","stream":"'

sys.path.insert(0, str(ROOT))
from tap_auth0_events.baseline_streams import BASELINE_STREAMS, BASELINES_STREAM  # noqa: E402
from tap_auth0_events.emulator.management import RATE_LIMITS  # noqa: E402

BASELINE_NAMES = [stream.name for stream in BASELINE_STREAMS] + [BASELINES_STREAM]
# The families whose calls are made once (or once a page) per organization: the run's bound is the slowest.
PER_ORGANIZATION = ("organization_members", "organization_connections", "other")


@dataclass
class TapRun:
    seconds: float  # from just before the spawn to the end of its output
    cpu: float
    rss_mb: float
    records: dict[str, int] = field(default_factory=dict)
    first: dict[str, float] = field(default_factory=dict)  # seconds after the spawn of a stream's first read
    last: dict[str, float] = field(default_factory=dict)
    summary: str = ""  # the tap's baseline summary line

    def rate(self, stream: str | None = None) -> float:
        """Records/s of `stream` (all RECORD lines when None), first to last read that brought one."""
        if stream is None:
            count, start, end = sum(self.records.values()), min(self.first.values()), max(self.last.values())
        else:
            count, start, end = self.records.get(stream, 0), self.first.get(stream, 0), self.last.get(stream, 0)
        return count / (end - start) if end > start else 0.0


def run_tap(argv: list[str], workdir: Path, name: str) -> TapRun:
    """ARGV under GNU time, its stdout read in 1 MB reads and its RECORD lines counted per stream."""
    report = workdir / f"time-{name}.txt"
    log_path = workdir / f"tap-{name}.log"
    with open(log_path, "w") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [TIME, "-q", "-f", "%U %S %M", "-o", str(report), *argv],
            stdout=subprocess.PIPE,
            stderr=log,
            env=ENV,
            cwd=workdir,
        )
        assert proc.stdout is not None
        stream = io.FileIO(proc.stdout.fileno(), "r", closefd=False)
        run = TapRun(0.0, 0.0, 0.0)
        rest = b""
        while True:
            chunk = stream.read(READ)
            if not chunk:
                break
            data = rest + chunk
            end = data.rfind(b"\n") + 1
            rest = data[end:]
            at = time.perf_counter() - started
            position = 0
            # Each RECORD line starts with RECORD; the stream's name follows, up to its quote.
            while (found := data.find(RECORD, position, end)) >= 0:
                name_start = found + len(RECORD)
                name_end = data.index(b'"', name_start)
                key = data[name_start:name_end].decode()
                line_end = data.find(b"\n", name_end, end)
                position = line_end + 1 if line_end >= 0 else end
                if key not in run.records:
                    run.records[key] = 0
                    run.first[key] = at
                run.records[key] += 1
                run.last[key] = at
        proc.stdout.close()
        proc.wait()
        run.seconds = time.perf_counter() - started
    user, system, rss_kb = report.read_text().split("\n")[-2].split()
    run.cpu, run.rss_mb = float(user) + float(system), int(rss_kb) / 1024
    text = log_path.read_text()
    if proc.returncode != 0:
        raise SystemExit(f"tap ({name}): exit {proc.returncode}; see {log_path}:\n{text[-1500:]}")
    found_summary = re.findall(r"baseline bsl_\S+ .*", text)
    run.summary = found_summary[-1] if found_summary else ""
    return run


def wait_port(proc: subprocess.Popen[bytes], port_file: Path, log: Path, timeout: float = 1800) -> str:
    deadline = time.monotonic() + timeout
    while not port_file.exists():
        if proc.poll() is not None:
            raise SystemExit(f"the emulator exited with {proc.returncode}; see {log}")
        if time.monotonic() > deadline:
            raise SystemExit(f"the emulator did not start within {timeout:.0f}s; see {log}")
        time.sleep(0.2)
    return f"http://127.0.0.1:{port_file.read_text().strip()}"


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tap_config(url: str, workdir: Path, name: str, **settings: Any) -> Path:
    path = workdir / f"config-{name}.json"
    config = {
        "api_url": url,
        "api_token": TOKEN,
        "start_date": START,
        "idle_timeout_seconds": 5,
        "read_timeout_seconds": 60,
        **settings,
    }
    path.write_text(json.dumps(config))
    return path


def events_step(events: int, workdir: Path) -> TapRun:
    """The tap reading EVENTS events of history with no baseline."""
    port_file, log = workdir / "port-events", workdir / "emulator-events.log"
    with open(log, "w") as out:
        emulator = subprocess.Popen(
            [
                str(BIN / "tap-auth0-events-emulator"),
                *("--port", "0", "--events", str(events), "--live-rate", "0", "--cycle-seconds", "0"),
                *("--heartbeat-seconds", "0.1", "--port-file", str(port_file)),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=ENV,
        )
    try:
        url = wait_port(emulator, port_file, log)
        config = tap_config(url, workdir, "events", baseline="never")
        run = run_tap([str(BIN / "tap-auth0-events"), "--config", str(config)], workdir, "events")
    finally:
        stop(emulator)
    if sum(run.records.values()) != events:
        raise SystemExit(f"events: {sum(run.records.values())} RECORD lines, expected {events}")
    return run


def baseline_catalog(config: Path, workdir: Path) -> Path:
    """The tap's --discover catalog with only the baseline streams and `baselines` selected."""
    done = subprocess.run(
        [str(BIN / "tap-auth0-events"), "--config", str(config), "--discover"],
        capture_output=True,
        env=ENV,
        cwd=workdir,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"tap --discover: exit {done.returncode}: {done.stderr[-800:].decode(errors='replace')}")
    catalog = json.loads(done.stdout)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in BASELINE_NAMES
    path = workdir / "catalog-baseline.json"
    path.write_text(json.dumps(catalog))
    return path


def baseline_step(args: argparse.Namespace, workdir: Path) -> tuple[TapRun, dict[str, Any], float]:
    """The tap's first run with a baseline; the emulator's stats; the emulator's start-up seconds."""
    port_file, stats_file, log = workdir / "port-baseline", workdir / "stats.json", workdir / "emulator-baseline.log"
    started = time.perf_counter()
    with open(log, "w") as out:
        emulator = subprocess.Popen(
            [
                sys.executable,
                str(BENCH / "baseline_emulator.py"),
                *("--port-file", str(port_file), "--stats-file", str(stats_file)),
                *("--users", str(args.users), "--organizations", str(args.organizations)),
                *("--groups", str(args.groups), "--members-per-organization", str(args.members_per_organization)),
                *("--plan", args.plan, "--scale", str(args.scale)),
                *(["--live-export"] if args.live_export else []),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=ENV,
        )
    try:
        url = wait_port(emulator, port_file, log)
        startup = time.perf_counter() - started
        config = tap_config(
            url, workdir, "baseline", baseline="first_run", max_run_seconds=86_400, baseline_max_seconds=86_400
        )
        catalog = baseline_catalog(config, workdir)
        argv = [str(BIN / "tap-auth0-events"), "--config", str(config), "--catalog", str(catalog)]
        run = run_tap(argv, workdir, "baseline")
    finally:
        stop(emulator)
    return run, json.loads(stats_file.read_text()), startup


def family_rows(stats: dict[str, Any], plan: str, scale: float) -> list[dict[str, Any]]:
    limits = RATE_LIMITS[plan]
    bounding = stats["calls"].get("organization_connections") or []
    window = (min(bounding), max(bounding)) if len(bounding) > 1 else None
    rows = []
    for family, times in sorted(stats["calls"].items(), key=lambda item: -len(item[1])):
        burst, per_minute = limits.get(family, limits["other"])
        burst, refill = burst * scale, per_minute * scale / 60
        seconds = max(times) - min(times) if len(times) > 1 else 0.0
        rate = len(times) / seconds if seconds else 0.0
        allowed = (burst + refill * seconds) / seconds if seconds else 0.0
        in_window = None
        if window and family != "organization_connections":
            inside = sum(1 for t in times if window[0] <= t <= window[1])
            in_window = inside / (window[1] - window[0])
        rows.append(
            {
                "family": family,
                "calls": len(times),
                "limited": len(stats["limited"].get(family, [])),
                "seconds": seconds,
                "rate": rate,
                "refill": refill,
                "burst": burst,
                "allowed": allowed,
                "of_refill": rate / refill,
                "of_allowed": rate / allowed if allowed else 0.0,
                "rate_in_bounding_window": in_window,
                "handler_seconds": stats["handler_seconds"].get(family, 0.0),
            }
        )
    return rows


def report(args: argparse.Namespace, events: TapRun | None, run: TapRun, stats: dict[str, Any], startup: float) -> str:
    rows = family_rows(stats, args.plan, args.scale)
    calls = sum(row["calls"] for row in rows)
    limited = sum(row["limited"] for row in rows)
    lines = [
        f"### Baseline: {args.users:,} users, {args.organizations:,} organizations, {args.groups:,} groups, "
        f"{args.plan} limits x {args.scale:g}",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f} at the end. Emulator start-up (outside the measurement) "
        f"{startup:.0f}s{', export generated while read' if args.live_export else ', export rendered before'}.",
        "",
        "| endpoint family | calls | 429s | seconds (first to last call) | calls/s | refill/s (per min x scale) "
        "| calls/s ÷ refill | most the bucket allows/s | calls/s ÷ that | calls/s in the org-connections window |",
        "|:--|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        window = "" if row["rate_in_bounding_window"] is None else f"{row['rate_in_bounding_window']:.1f}"
        lines.append(
            f"| {row['family']} | {row['calls']:,} | {row['limited']:,} | {row['seconds']:.1f} | {row['rate']:.1f} "
            f"| {row['refill']:.1f} | {row['of_refill']:.0%} | {row['allowed']:.1f} | {row['of_allowed']:.0%} "
            f"| {window} |"
        )
    lines.append(f"| **all** | {calls:,} | {limited:,} ({limited / max(1, calls):.2%}) | | | | | | | |")
    users = run.records.get("baseline_users", 0)
    users_seconds = run.last.get("baseline_users", 0) - run.first.get("baseline_users", 0)
    lines += [
        "",
        "| | |",
        "|:--|--:|",
        f"| tap wall seconds (spawn to end of output) | {run.seconds:.1f} |",
        f"| tap CPU seconds (user+sys) | {run.cpu:.1f} |",
        f"| tap peak RSS | {run.rss_mb:.0f} MB |",
        f"| emulator CPU seconds / peak RSS | {stats['cpu_seconds']:.0f} / {stats['peak_rss_mb']:.0f} MB |",
        f"| baseline_users records ÷ seconds (first to last) | {users:,} ÷ {users_seconds:.1f} s = "
        f"**{run.rate('baseline_users'):,.0f}/s** |",
    ]
    if events is not None:
        ev = sum(events.records.values())
        lines.append(
            f"| event stream, `baseline: never`, {ev:,} events (same measure) | **{events.rate():,.0f}/s** "
            f"(peak RSS {events.rss_mb:.0f} MB) |"
        )
    lines += ["", "| stream | records | seconds from the spawn (first - last) |", "|:--|--:|:--|"]
    for name in sorted(run.records, key=lambda n: run.first[n]):
        lines.append(f"| {name} | {run.records[name]:,} | {run.first[name]:.1f} - {run.last[name]:.1f} |")
    lines += ["", f"The tap's summary: `{run.summary}`"]
    bound = next(row for row in rows if row["family"] == "organization_connections") if rows else None
    lines += ["", "Targets:"]
    if bound:
        lines.append(
            f"- calls/s of the bounding family (organization_connections) ≥ 90 % of its limit: "
            f"{bound['of_refill']:.0%} of the refill rate, {bound['of_allowed']:.0%} of what the bucket allows "
            f"over the window: {'met' if bound['of_allowed'] >= 0.9 else 'missed'}"
        )
    share = limited / max(1, calls)
    lines.append(f"- 429s < 1 % of calls: {share:.2%}: {'met' if share < 0.01 else 'missed'}")
    lines.append(f"- tap peak RSS ≤ 150 MB: {run.rss_mb:.0f} MB: {'met' if run.rss_mb <= 150 else 'missed'}")
    if events is not None:
        ok = run.rate("baseline_users") >= events.rate()
        lines.append(
            f"- users export ≥ the event stream's records/s: {run.rate('baseline_users'):,.0f} vs "
            f"{events.rate():,.0f}: {'met' if ok else 'missed'}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--organizations", type=int, default=16_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--members-per-organization", type=int, default=20)
    parser.add_argument("--plan", default="essentials", choices=sorted(RATE_LIMITS))
    parser.add_argument("--scale", type=float, default=60.0, help="burst and refill x this (default %(default)s)")
    parser.add_argument("--events", type=int, default=200_000, help="events of the event-stream step (0: skip it)")
    parser.add_argument("--live-export", action="store_true", help="the emulator generates the export as it is read")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20,000 users, 400 organizations, 50 groups")
    args = parser.parse_args()
    if args.quick:
        args.users, args.organizations, args.groups, args.events = 20_000, 400, 50, min(args.events, 20_000)
    RESULTS.mkdir(parents=True, exist_ok=True)
    workdir = RESULTS / time.strftime("baseline-%Y%m%dT%H%M%S")
    workdir.mkdir()
    events = events_step(args.events, workdir) if args.events else None
    if events is not None:
        print(f"events: {sum(events.records.values()):,} records, {events.rate():,.0f}/s", flush=True)
    run, stats, startup = baseline_step(args, workdir)
    text = report(args, events, run, stats, startup)
    command = "bash bench/baseline.sh " + " ".join(sys.argv[1:])
    text += f"\n\nCommand: `{command.strip()}`; work files in {workdir.relative_to(ROOT)}.\n"
    print(text)
    (RESULTS / "baseline-latest.md").write_text(text)
    (RESULTS / "baseline-latest.json").write_text(
        json.dumps(
            {
                "args": vars(args),
                "families": family_rows(stats, args.plan, args.scale),
                "tap": {k: v for k, v in vars(run).items()},
                "events": None if events is None else vars(events),
                "emulator": {"cpu_seconds": stats["cpu_seconds"], "peak_rss_mb": stats["peak_rss_mb"]},
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
