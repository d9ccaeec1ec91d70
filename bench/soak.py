"""Soak run: the tap run by a scheduler for a long time against a tenant that misbehaves.

The emulator runs in this process with live events, connections cut every few seconds (Auth0's
rotation, with `connection_timeout`), client-credentials tokens that expire after
--token-ttl-seconds, a limit of one open connection (a killed run's connection holds it until the
server notices, as on Auth0's Free plan), and, one per connection, a random plan: a duplicate, a
connection cut in the middle of a message (a clean close or a TCP reset), a stall (no bytes for
longer than the tap's read timeout), every token revoked, a 5xx, a 429, or nothing.

Runs of the real `tap-auth0-events` command follow one another as a scheduler starts them: each a
subprocess with a small max_run_seconds, resuming from the STATE the one before emitted (the last
STATE line it wrote, also for a run that was killed); every --kill-every-th run is killed with
SIGKILL 0-0.15 s after its first RECORD line (mid-read). The last run is never killed.

Reported: events lost (every event of the emulator's log up to the last run's final STATE offset,
against the union of the event ids all runs emitted: must be 0), records without their key
property (must be 0; copies with their key are at-least-once delivery, which the target's key
de-duplicates), runs, SIGKILLs, reconnects, token renewals (token requests beyond each run's first),
exit codes, and each run's peak RSS: flat from the first run to the last. The peak is the child's
VmHWM in /proc/<pid>/status, read every 10 ms until it exits (the last reading, ≤10 ms before its
end). Not ru_maxrss: Linux counts in a child's ru_maxrss the RSS of the address space it had before
exec, i.e. this process's own at fork, so with the emulator's log growing here it grew by a
megabyte every ten runs while the tap's own peak stayed flat (seen in a first soak run).

    .venv/bin/python bench/soak.py                       # 30 minutes
    .venv/bin/python bench/soak.py --minutes 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tap_auth0_events.emulator.server import ConnectionPlan, Emulator, EmulatorConfig, decode_offset

TAP = str(Path(sys.executable).parent / "tap-auth0-events")
CLIENT_ID, CLIENT_SECRET = "emulator-client", "emulator-secret"
# One plan per connection, drawn with these weights (the rest: none). Cycling every few seconds is
# the emulator's own (cycle_seconds), on top of these.
PLAN_WEIGHTS = {
    "none": 50,
    "duplicate": 12,
    "cut": 10,  # half a frame, then a clean close: a message dropped mid-way
    "reset": 6,  # half a frame, then TCP RST
    "silent": 5,  # a stall: no bytes for longer than read_timeout_seconds
    "expire_tokens": 5,  # every token stops working: the next connection answers 401
    "status:503": 4,
    "status:429": 3,
    "close": 5,
}


@dataclass
class RunResult:
    index: int
    exit_code: int | None  # None: killed by a signal
    signal: int | None
    seconds: float
    records: int
    peak_rss_mb: float
    requests: int  # GET /api/v2/events during the run
    token_requests: int
    state_written: bool
    stderr_tail: str = ""  # the last lines of a run that failed (not killed)


@dataclass
class SoakReport:
    minutes: float
    runs: list[RunResult] = field(default_factory=list)
    log_events: int = 0
    bound_seq: int = -1
    lost: int = 0
    lost_sample: list[str] = field(default_factory=list)
    not_in_log: int = 0
    unkeyed_records: int = 0
    records: int = 0
    distinct_events: int = 0
    reached_bound: bool = False
    refused_403: int = 0
    plans: dict[str, int] = field(default_factory=dict)

    @property
    def kills(self) -> int:
        return sum(1 for run in self.runs if run.signal == signal.SIGKILL)

    @property
    def reconnects(self) -> int:
        return sum(max(0, run.requests - 1) for run in self.runs)

    @property
    def token_renewals(self) -> int:
        return sum(max(0, run.token_requests - 1) for run in self.runs)

    def summary(self) -> dict[str, Any]:
        clean = [run for run in self.runs if run.signal is None]
        rss = [run.peak_rss_mb for run in clean]
        third = max(1, len(rss) // 3)
        return {
            "minutes": self.minutes,
            "runs": len(self.runs),
            "sigkills": self.kills,
            "exit_codes": dict(Counter(str(run.exit_code) for run in clean)),
            "log_events": self.log_events,
            "bound_seq": self.bound_seq,
            "reached_bound": self.reached_bound,
            "events_lost": self.lost,
            "lost_sample": self.lost_sample,
            "emitted_not_in_log": self.not_in_log,
            "records": self.records,
            "distinct_events": self.distinct_events,
            "duplicate_copies": self.records - self.distinct_events,
            "unkeyed_records": self.unkeyed_records,
            "reconnects": self.reconnects,
            "connection_limit_403s": self.refused_403,
            "token_renewals": self.token_renewals,
            "plans": self.plans,
            "rss_mb_first_third_median": round(statistics.median(rss[:third]), 1) if rss else None,
            "rss_mb_last_third_median": round(statistics.median(rss[-third:]), 1) if rss else None,
            "rss_mb_min": min(rss, default=None),
            "rss_mb_max": max(rss, default=None),
        }


def plan_feeder(emulator: Emulator, rng: random.Random, stop: threading.Event, counts: Counter[str]) -> None:
    """Keep a few random plans queued, so every connection gets one. The first is always
    expire_tokens at once, so even a short soak sees a token renewed (a random draw may bring none)."""
    names, weights = list(PLAN_WEIGHTS), list(PLAN_WEIGHTS.values())
    counts["expire_tokens"] += 1
    emulator.queue(ConnectionPlan(after_events=0, action="expire_tokens"))
    while not stop.wait(0.2):
        while len(emulator.plans) < 8:
            name = rng.choices(names, weights)[0]
            counts[name] += 1
            if name.startswith("status:"):
                status = int(name.split(":")[1])
                emulator.queue(ConnectionPlan(status=status, retry_after="1" if status == 429 else None))
            else:
                emulator.queue(ConnectionPlan(after_events=rng.randint(0, 60), action=name, silent_seconds=5.0))


def run_once(
    index: int, workdir: Path, config: dict[str, Any], state: dict[str, Any] | None, kill_after: float | None
) -> tuple[RunResult, list[dict[str, Any]]]:
    """One run of the tap as a scheduler starts it; its Singer messages (a cut last line dropped)."""
    config_path, state_path = workdir / "config.json", workdir / "state.json"
    config_path.write_text(json.dumps(config))
    args = [TAP, "--config", str(config_path)]
    if state is not None:
        state_path.write_text(json.dumps(state))
        args += ["--state", str(state_path)]
    out_path, err_path = workdir / f"run-{index}.out", workdir / f"run-{index}.err"
    started = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(args, stdout=out, stderr=err)
        peak_kb = _watch(process.pid, out_path, kill_after)
        _, status = os.waitpid(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, after the last reading
    seconds = time.monotonic() - started
    lines = out_path.read_bytes().split(b"\n")
    messages = []
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            messages.append(json.loads(line))
        except ValueError:
            if number < len(lines) - 1 and lines[number + 1].strip():
                raise  # only the last line of a killed run may be cut
    out_path.unlink()
    killed = os.WIFSIGNALED(status)
    failed = not killed and os.WEXITSTATUS(status) != 0
    tail = "\n".join(err_path.read_text(errors="replace").splitlines()[-5:]) if failed else ""
    err_path.unlink()
    result = RunResult(
        index=index,
        exit_code=None if killed else os.WEXITSTATUS(status),
        signal=os.WTERMSIG(status) if killed else None,
        seconds=round(seconds, 2),
        records=sum(1 for message in messages if message["type"] == "RECORD"),
        peak_rss_mb=round(peak_kb / 1024, 1),
        requests=0,
        token_requests=0,
        state_written=any(message["type"] == "STATE" for message in messages),
        stderr_tail=tail,
    )
    return result, messages


def _watch(pid: int, out_path: Path, kill_after: float | None) -> int:
    """Follow the child until it exits, unreaped (so `pid` stays this child's): its peak RSS (VmHWM, KiB)
    as last read. With `kill_after`, SIGKILL it that many seconds after its first RECORD line (10 s
    at the latest), unless it has ended by then."""
    peak_kb = 0
    kill_at = time.monotonic() + 10.0 if kill_after is not None else None
    seen_record = False
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        peak_kb = max(peak_kb, _vm_hwm_kb(pid))
        if kill_at is not None and kill_after is not None:
            if not seen_record:
                written = out_path.read_bytes()
                seen_record = b'"type":"RECORD"' in written or b'"type": "RECORD"' in written
                if seen_record:
                    kill_at = min(kill_at, time.monotonic() + kill_after)
            if time.monotonic() >= kill_at:
                os.kill(pid, signal.SIGKILL)
                kill_at = None
        time.sleep(0.01)
    return peak_kb


def _vm_hwm_kb(pid: int) -> int:
    """The process's peak resident set so far (0 once it has released its memory)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def soak(
    minutes: float, seed: int, live_rate: float, max_run_seconds: int, kill_every: int, token_ttl: int
) -> SoakReport:
    rng = random.Random(seed)
    report = SoakReport(minutes=minutes)
    config = EmulatorConfig(
        seed=seed,
        initial_events=2000,
        mean_gap_seconds=1.0,
        live_events_per_second=live_rate,
        retry_ms=200,
        heartbeat_seconds=1.0,
        cycle_seconds=3.0,
        duplicate_every=97,
        token_ttl_seconds=token_ttl,
        max_connections=1,
    )
    emitted: set[str] = set()
    keys: dict[str, list[str]] = {}
    plans: Counter[str] = Counter()
    stop = threading.Event()
    with Emulator(config) as emulator, tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        workdir = Path(tmp)
        feeder = threading.Thread(target=plan_feeder, args=(emulator, rng, stop, plans), daemon=True)
        feeder.start()
        tap_config = {
            "api_url": emulator.url,
            "domain": "acme-demo.us.auth0.com",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "start_date": "2000-01-01T00:00:00Z",
            "max_run_seconds": max_run_seconds,
            "idle_timeout_seconds": 5,
            "read_timeout_seconds": 3,
            "max_backoff_seconds": 2,
            "baseline": "never",  # a soak of the event stream (its tokens have read:events only)
        }
        state: dict[str, Any] | None = None
        end = time.monotonic() + minutes * 60
        last_start = 0.0
        index = 0
        while True:
            index += 1
            last = time.monotonic() >= end
            kill_after = None if last or index % kill_every else rng.uniform(0.0, 0.15)
            before_requests, before_tokens = len(emulator.requests), emulator.token_requests
            last_start = time.time()
            result, messages = run_once(index, workdir, tap_config, state, kill_after)
            result.requests = len(emulator.requests) - before_requests
            result.token_requests = emulator.token_requests - before_tokens
            report.runs.append(result)
            for message in messages:
                if message["type"] == "SCHEMA":
                    keys[message["stream"]] = message.get("key_properties") or []
                elif message["type"] == "RECORD":
                    record = message["record"]
                    report.records += 1
                    if not keys.get(message["stream"]) or any(
                        record.get(key) in (None, "") for key in keys[message["stream"]]
                    ):
                        report.unkeyed_records += 1
                    emitted.add(record.get("event_id"))
                elif message["type"] == "STATE":
                    state = message["value"]
            if index % 10 == 0 or last:
                print(
                    f"run {index}: exit {result.exit_code} signal {result.signal} {result.seconds}s "
                    f"{result.records} records, {result.peak_rss_mb} MB, {len(emulator.log)} events in the log",
                    file=sys.stderr,
                    flush=True,
                )
            if last:
                break
            time.sleep(rng.uniform(0.5, 3.0))  # the scheduler's next tick: a backlog of 10-60 events
        stop.set()
        report.plans = dict(plans)
        report.refused_403 = sum(1 for request in emulator.requests if request.get("status") == 403)
        log = list(emulator.log.events)
        report.log_events = len(log)
        offsets = [bookmark.get("offset") for bookmark in (state or {}).get("bookmarks", {}).values()]
        seqs = [seq for seq in (decode_offset(offset) for offset in offsets if offset) if seq is not None]
        report.bound_seq = min(seqs, default=-1)
        # The last run ends at the first event from after its start: every event that arrived
        # before then is within the bound.
        before_last_start = emulator.log.index_at_time(last_start)
        report.reached_bound = report.bound_seq + 1 >= before_last_start
        expected = {stored.event_id for stored in log[: report.bound_seq + 1]}
        lost = sorted(expected - emitted)
        report.lost, report.lost_sample = len(lost), lost[:5]
        report.not_in_log = len(emitted - {stored.event_id for stored in log})
        report.distinct_events = len(emitted)
    return report


def markdown(report: SoakReport) -> str:
    summary = report.summary()
    rows = [
        ("length", f"{report.minutes:g} min"),
        ("runs (of them killed with SIGKILL)", f"{summary['runs']} ({summary['sigkills']})"),
        ("exit codes of the runs not killed", ", ".join(f"{code}: {n}" for code, n in summary["exit_codes"].items())),
        ("events in the emulator's log / within the last run's bound", f"{report.log_events} / {report.bound_seq + 1}"),
        ("last run reached its bound", "yes" if report.reached_bound else "**no**"),
        ("**events lost**", str(report.lost)),
        ("emitted ids not in the log", str(report.not_in_log)),
        ("records emitted / distinct events", f"{report.records} / {report.distinct_events}"),
        ("copies (duplicates, each with its key)", str(summary["duplicate_copies"])),
        ("**records without their key**", str(report.unkeyed_records)),
        ("reconnects (connections beyond each run's first)", str(report.reconnects)),
        ("of them refused by the one-connection limit (HTTP 403)", str(report.refused_403)),
        ("token renewals (token requests beyond each run's first)", str(report.token_renewals)),
        ("plans drawn", ", ".join(f"{name} {n}" for name, n in sorted(report.plans.items()))),
        (
            "peak RSS per run not killed: first third / last third (median), min-max",
            f"{summary['rss_mb_first_third_median']} / {summary['rss_mb_last_third_median']} MB, "
            f"{summary['rss_mb_min']}-{summary['rss_mb_max']} MB",
        ),
    ]
    lines = ["| | |", "|:--|--:|", *(f"| {name} | {value} |" for name, value in rows)]
    clean = [run for run in report.runs if run.signal is None]
    if clean:
        lines += ["", "Peak RSS of the runs not killed, by tenth of the soak (MB, median and max):", ""]
        lines += ["| runs | median | max |", "|:--|--:|--:|"]
        step = max(1, len(clean) // 10)
        for start in range(0, len(clean), step):
            part = clean[start : start + step]
            values = [run.peak_rss_mb for run in part]
            lines.append(f"| {part[0].index}-{part[-1].index} | {statistics.median(values):.1f} | {max(values):.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--live-rate", type=float, default=20.0, help="events appended per second")
    parser.add_argument("--max-run-seconds", type=int, default=20)
    parser.add_argument("--kill-every", type=int, default=5, help="every Nth run is killed with SIGKILL")
    parser.add_argument("--token-ttl-seconds", type=int, default=30)
    parser.add_argument("--json", type=Path, help="write the summary and every run here")
    parser.add_argument("--markdown", type=Path, help="write the table here")
    args = parser.parse_args(argv)
    report = soak(
        args.minutes, args.seed, args.live_rate, args.max_run_seconds, args.kill_every, args.token_ttl_seconds
    )
    table = markdown(report)
    print(table)
    if args.json:
        args.json.write_text(json.dumps({"summary": report.summary(), "runs": [asdict(run) for run in report.runs]}))
    if args.markdown:
        args.markdown.write_text(table)
    return 0 if report.lost == 0 and report.unkeyed_records == 0 and report.reached_bound else 1


if __name__ == "__main__":
    sys.exit(main())
