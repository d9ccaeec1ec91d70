"""Benchmark: the tap against the wire and against the consumers people use today, side by side.

One run, one machine. The Events API emulator runs as a separate process with N events of history
(no live events, no connection cycling). Then, alternating for several rounds (the order rotates
each round), each consumer reads the whole backlog from the start as a fresh process:

  wire       curl -sN URL | head -c BYTES | wc -c   (BYTES: exactly the stream up to the N-th event)
  node       the `eventsource` npm package (Auth0's documented client), JSON.parse + count
  sseclient  sseclient-py as its README shows, json.loads + count
  bare       requests + line split + orjson.loads + count, no output (the Python floor)
  tap        tap-auth0-events --config cfg.json, Singer RECORD lines into a pipe read and counted here

Every consumer is timed from just before its process is spawned to the moment this process sees
its end: a peer prints "done N" after its N-th event; the tap's time is that of the pipe read that
delivered its N-th RECORD line (the tap then stops by itself after idle_timeout_seconds of
silence, which is not counted). CPU (user+sys) and peak RSS come from GNU time around that
process (for `wire`, of curl alone). Medians over the rounds are reported (and, for each target, the
tap's ratio to the peer within each round beside them).

Then three more steps:

  first request  each tap (and variant), alternating, --first-request-runs times against a small
                 emulator behind a relay in this process that stamps the first `GET /api/v2/events`
                 it receives; reported: seconds from just before the spawn to that stamp (median).
  steady state   node, bare and the taps side by side, alternating for --steady-rounds rounds against
                 a --steady-events (1,000,000) emulator, timed as above; reported: events/s and CPU
                 seconds per 1M events (the whole process's user+sys, start-up included, per
                 1,000,000 events); targets: tap ÷ Node ≥ 1.8x events/s, and tap's CPU per 1M
                 ÷ each variant's ≤ 1.10.
  memory         the taps alone against the other --scale sizes (1,000,000 is taken from the
                 steady state); with the 200,000 rounds and the steady state they show peak RSS
                 stays flat (≤ 1.3x).

Every tap consumer runs `python -c` calling its own tree's start (see TapStart): `tap` the
entry of this tree's pyproject.toml `[project.scripts] tap-auth0-events`, a `--variant LABEL=DIR`
DIR's own.

    bash bench/run.sh                      # the documented command (sets up, installs, runs this)
    bash bench/run.sh --variant main=DIR   # before/after: DIR is a checkout of the code before
    bash bench/run.sh --filtered           # also tap[filtered]: no filter (tap) vs event_type filters
    .venv/bin/python bench/run.py --help

--filtered adds tap[filtered] to the side-by-side and steady-state rounds: this tree's start, as
`tap`, with --catalog FILE, the tap's own --discover catalog with `selected: false` on the stream of
the type with the fewest events in the emulator's log (GET /_emulator/events) and `selected: true`
on every other, so its connection carries `event_type` filters; its done point is its (N minus that
type's events)-th RECORD line. Reported: tap ÷ tap[filtered] events/s (each one's records ÷ its
seconds) and each one's CPU s per 1M events, per size, with per-round ranges; no target.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
BIN = Path(sys.executable).parent
TOKEN = "emulator-token"
START = "2000-01-01T00:00:00Z"
READ = 1 << 20
TIME = "/usr/bin/time"
# Every process runs with Python's defaults: bytecode caching on (some sandboxes set
# PYTHONDONTWRITEBYTECODE, which makes a freshly edited module compile again on every start).
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
RECORD = b'{"type":"RECORD"'
PEERS = ("wire", "node", "sseclient", "bare", "tap")
STEADY_PEERS = ("node", "bare")  # beside the taps in the steady-state rounds
FILTERED = "tap[filtered]"  # --filtered: tap with a catalog leaving out one rare type (event_type filters)
# A tap's last RECORD lines this long after the read before them waited for its end-of-run flush
# (idle_timeout_seconds is 1; reads of a backlog come back to back): see flush_waits().
FLUSH_WAIT = 0.5
FIRST_REQUEST_EVENTS = 2_000  # the emulator behind the proxy of the time-to-first-request runs

sys.path.insert(0, str(ROOT))
from tap_auth0_events.event_types import EVENT_TYPES, stream_name  # noqa: E402


@dataclass
class Sample:
    seconds: float
    cpu: float
    rss_mb: float
    count: int
    reader_cpu: float = 0.0  # CPU this process spent reading the consumer's output (the tap's)
    # The tap's last read that brought RECORD lines: how many, and the seconds since the one before it.
    # A tail held in the tap's buffer until its end-of-run flush (after idle_timeout_seconds) shows here.
    tail_records: int = 0
    tail_gap: float = 0.0


@dataclass
class Summary:
    name: str
    events: int
    samples: list[Sample] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    @property
    def rss_mb(self) -> float:
        return statistics.median(s.rss_mb for s in self.samples)

    @property
    def cpu_per_million(self) -> float:
        return self.cpu / self.events * 1_000_000

    def as_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "rate": self.rate,
            "seconds": self.seconds,
            "cpu": self.cpu,
            "cpu_per_million": self.cpu_per_million,
            "rss_mb": self.rss_mb,
            "samples": [asdict(x) for x in self.samples],
        }


# -- the emulator -------------------------------------------------------------------------------


class EmulatorProcess:
    """`tap-auth0-events-emulator` in its own process; generation time is outside any measurement."""

    started_count = 0
    # Event types no emulator generates: those a --variant tree does not know (its tap would filter
    # them out and read fewer events), so that every tap reads the same events.
    left_out: tuple[str, ...] = ()

    def __init__(self, events: int, workdir: Path, extra_args: tuple[str, ...] = ()) -> None:
        self.events = events
        self.deselected = 0  # --filtered: events of the type tap[filtered]'s catalog leaves out
        EmulatorProcess.started_count += 1
        # One name per emulator: a second emulator of one size must not read the first's port file.
        tag = f"{events}-{EmulatorProcess.started_count}"
        port_file = workdir / f"port-{tag}"
        self.log = open(workdir / f"emulator-{tag}.log", "w")  # noqa: SIM115 - closed in stop()
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                str(BIN / "tap-auth0-events-emulator"),
                "--port",
                "0",
                "--events",
                str(events),
                "--live-rate",
                "0",
                "--cycle-seconds",
                "0",
                # A short heartbeat bounds how long a client that reads fixed-size blocks (sseclient-py
                # reads 128 bytes at a time) waits for the block holding the last event's end.
                "--heartbeat-seconds",
                "0.1",
                "--port-file",
                str(port_file),
                *(["--unsupported-types", ",".join(self.left_out)] if self.left_out else []),
                *extra_args,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=ENV,
        )
        while not port_file.exists() or not port_file.read_text().strip():
            if self.proc.poll() is not None:
                raise SystemExit(f"the emulator exited with {self.proc.returncode}; see {self.log.name}")
            time.sleep(0.2)
        self.generation_seconds = time.perf_counter() - started
        self.url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        self.events_url = f"{self.url}/api/v2/events?from_timestamp={START}"

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def stream_bytes(url: str, events: int) -> int:
    """Bytes of the stream from its first byte through the blank line ending the N-th event.

    Every message ends with one blank line ("\\n\\n"; JSON data never holds a raw newline) and the
    stream opens with two messages without an event (`:connected` and `retry:`), so the answer is
    the end of the (N+2)-th "\\n\\n". Checked: the N-th message must be an event, not a heartbeat.
    """
    need = events + 2
    with requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, stream=True, timeout=60) as response:
        response.raise_for_status()
        raw = response.raw
        consumed = 0  # bytes read before `chunk`
        seen = 0
        previous = b""  # the end of what was already scanned: context, and a "\n\n" split across reads
        while True:
            chunk = raw.read1(READ)
            if not chunk:
                raise SystemExit("the stream ended before the N-th event")
            data = previous + chunk
            position = max(0, len(previous) - 1)
            while (found := data.find(b"\n\n", position)) >= 0:
                seen += 1
                if seen == need:
                    message = data[:found].rsplit(b"\n\n", 1)[-1]
                    if not message.startswith(b"event: ") or message.startswith(b"event: offset-only"):
                        raise SystemExit("calibration: the N-th message is not an event")
                    return consumed - len(previous) + found + 2
                position = found + 2
            consumed += len(chunk)
            previous = data[-65536:]


def tree_event_types(directory: str) -> set[str]:
    """The EVENT_TYPES a tree's tap_auth0_events/event_types.py declares (read, not imported)."""
    import ast

    source = (Path(directory) / "tap_auth0_events" / "event_types.py").read_text()
    for node in ast.parse(source).body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign):
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "EVENT_TYPES":
            return set(ast.literal_eval(node.value))
    raise SystemExit(f"{directory}: no EVENT_TYPES in tap_auth0_events/event_types.py")


def type_counts(emu: EmulatorProcess) -> dict[str, int]:
    """Events per type in the emulator's log (`GET /_emulator/events`), counted as its bytes arrive.

    The body is one JSON array of flat objects (`{"seq":..,"event_type":"..",..}`): each read is
    counted up to its last `}` (whole entries only) and the rest is carried into the next.
    """
    patterns = {event_type: b'"event_type":"%s"' % event_type.encode() for event_type in EVENT_TYPES}
    counts = dict.fromkeys(EVENT_TYPES, 0)
    with requests.get(f"{emu.url}/_emulator/events", stream=True, timeout=600) as response:
        response.raise_for_status()
        rest = b""
        for chunk in response.iter_content(READ):
            data = rest + chunk
            end = data.rfind(b"}") + 1
            for event_type, pattern in patterns.items():
                counts[event_type] += data.count(pattern, 0, end)
            rest = data[end:]
    if sum(counts.values()) != emu.events:
        raise SystemExit(
            f"the emulator's log holds {sum(counts.values())} events of known types, expected {emu.events}"
        )
    return counts


def rarest(counts: dict[str, int]) -> str:
    """The type with the fewest events that has at least one (so the catalog leaves out real events)."""
    present = {event_type: count for event_type, count in counts.items() if count}
    return min(present or counts, key=lambda event_type: (counts[event_type], event_type))


def filtered_catalog(start: TapStart, url: str, workdir: Path, deselect: str) -> Path:
    """This tree's `--discover` catalog with every stream selected but DESELECT's (stream-level metadata)."""
    config = tap_config(url, workdir, "discover")
    with open(workdir / "tap-discover.log", "w") as log:
        done = subprocess.run(
            [*start.argv(config), "--discover"],
            env=start.env(),
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=workdir,
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"tap --discover: exit {done.returncode}; see {log.name}")
    catalog = json.loads(done.stdout)
    wanted = stream_name(deselect)
    # Types no emulator generates stay deselected too: asked for by filter, the emulator answers 400.
    off = {wanted, *map(stream_name, EmulatorProcess.left_out)}
    found = False
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] not in off
                found = found or stream["tap_stream_id"] == wanted
    if not found:
        raise SystemExit(f"tap --discover: no stream {wanted} with stream-level metadata")
    path = workdir / "catalog-filtered.json"
    path.write_text(json.dumps(catalog))
    return path


# -- running one consumer -------------------------------------------------------------------------


class Timed:
    """A command under GNU `/usr/bin/time`, which reports the command's own CPU and peak RSS.

    (wait4() on a child forked from this Python process would report at least this process's RSS:
    Linux keeps ru_maxrss across fork and exec.)
    """

    counter = 0

    def __init__(self, argv: list[str], workdir: Path, env: dict[str, str] | None = None, **popen: Any) -> None:
        Timed.counter += 1
        self.report = workdir / f"time-{Timed.counter}.txt"
        command = [TIME, "-q", "-f", "%U %S %M", "-o", str(self.report), *argv]
        self.proc = subprocess.Popen(command, env=env or ENV, **popen)

    def wait(self) -> tuple[float, float]:
        """Wait for the command: (user+sys CPU seconds, peak RSS in MB)."""
        self.proc.wait()
        user, system, rss_kb = self.report.read_text().split("\n")[-2].split()
        return float(user) + float(system), int(rss_kb) / 1024.0


def _read_done(proc: subprocess.Popen, started: float, expected: int, name: str) -> tuple[float, int]:
    """Wait for a peer's "done N" line; return (seconds since start, N)."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    if not line.startswith(b"done "):
        proc.kill()
        raise SystemExit(f"{name}: no 'done' line (got {line[:200]!r})")
    count = int(line.split()[1])
    if count != expected:
        raise SystemExit(f"{name}: saw {count} events, expected {expected}")
    return elapsed, count


def run_wire(emu: EmulatorProcess, events: int, nbytes: int, workdir: Path) -> Sample:
    started = time.perf_counter()
    curl = Timed(
        ["curl", "-sN", "-H", f"Authorization: Bearer {TOKEN}", emu.events_url], workdir, stdout=subprocess.PIPE
    )
    assert curl.proc.stdout is not None
    head = subprocess.Popen(["head", "-c", str(nbytes)], stdin=curl.proc.stdout, stdout=subprocess.PIPE)
    curl.proc.stdout.close()
    assert head.stdout is not None
    wc = subprocess.Popen(["wc", "-c"], stdin=head.stdout, stdout=subprocess.PIPE)
    head.stdout.close()
    got, _ = wc.communicate()
    elapsed = time.perf_counter() - started
    head.wait()
    # curl ends of SIGPIPE at its next write: the emulator's next heartbeat, within 0.1 s.
    cpu, rss = curl.wait()
    if int(got.split()[0]) != nbytes:
        raise SystemExit(f"wire: read {got!r} bytes, expected {nbytes}")
    return Sample(elapsed, cpu, rss, events)


def run_peer(name: str, argv: list[str], events: int, workdir: Path) -> Sample:
    started = time.perf_counter()
    peer = Timed(argv, workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc = peer.proc
    elapsed, count = _read_done(proc, started, events, name)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read()
    err = proc.stderr.read()
    cpu, rss = peer.wait()
    if proc.returncode != 0:
        raise SystemExit(f"{name}: exit {proc.returncode}: {err[-500:].decode(errors='replace')}")
    return Sample(elapsed, cpu, rss, count)


SDK_START = "SDK"  # --variant LABEL=SDK
CLI_ENTRY = "tap_auth0_events.cli:main"  # the plain-sync start, in trees that have cli.py
SDK_ENTRY = "tap_auth0_events.tap:TapAuth0Events.cli"  # the Singer SDK's CLI


def console_entry(root: Path) -> str:
    """What `tap-auth0-events` runs in ROOT: `[project.scripts]` of its pyproject.toml ("module:attribute")."""
    text = (root / "pyproject.toml").read_text()
    try:
        import tomllib
    except ImportError:  # Python 3.10: the one line is enough
        section = text.split("[project.scripts]", 1)[-1]
        for line in section.splitlines():
            key, _, value = line.partition("=")
            if key.strip().strip('"') == "tap-auth0-events":
                return value.strip().strip('"')
        raise SystemExit(f"{root / 'pyproject.toml'}: no [project.scripts] tap-auth0-events") from None
    return tomllib.loads(text)["project"]["scripts"]["tap-auth0-events"]


def tree_entry(directory: Path) -> str:
    """The start of another tree: its plain-sync start if it has one (cli.py), else the SDK's CLI."""
    return CLI_ENTRY if (directory / "tap_auth0_events" / "cli.py").is_file() else SDK_ENTRY


@dataclass(frozen=True)
class TapStart:
    """How one tap consumer starts: `python -c` calling ENTRY of the package under ROOT.

    Not the console script: that belongs to the tree installed in .venv, so a variant run through it
    would run this tree's start with another tree's modules. The child checks that the
    `tap_auth0_events` it imported is ROOT's (and exits 1 naming both if not); it runs in the work
    directory, so the current directory (first on `sys.path` under `-c`) holds no package.
    """

    entry: str  # "module:attribute[.attribute]", as in [project.scripts]
    root: str  # the directory holding the tap_auth0_events package to run
    pythonpath: str | None = None  # put first on PYTHONPATH (the tree of ROOT)
    catalog: str | None = None  # --catalog FILE (tap[filtered])

    def argv(self, config: Path) -> list[str]:
        module, _, attribute = self.entry.partition(":")
        package = os.path.join(self.root, "tap_auth0_events", "")
        code = "\n".join(
            [
                "import os, sys",
                f"from {module} import {attribute.split('.')[0]}",
                "import tap_auth0_events as package",
                f"if not os.path.realpath(package.__file__).startswith({package!r}):",
                f"    sys.exit('benchmark: imported ' + package.__file__ + ', expected the package in ' + {package!r})",
                "sys.argv[0] = 'tap-auth0-events'",
                f"sys.exit({attribute}())",
            ]
        )
        return [
            sys.executable,
            "-c",
            code,
            "--config",
            str(config),
            *(["--catalog", self.catalog] if self.catalog else []),
        ]

    def env(self) -> dict[str, str]:
        if not self.pythonpath:
            return ENV
        return dict(ENV, PYTHONPATH=os.pathsep.join(filter(None, [self.pythonpath, ENV.get("PYTHONPATH")])))


def tap_config(url: str, workdir: Path, name: str) -> Path:
    config = workdir / f"tap-config-{name}.json"
    config.write_text(
        json.dumps(
            {
                "api_url": url,
                "api_token": TOKEN,
                "start_date": START,
                # Not 1 s: on a loaded machine the emulator can stall that long, and the tap would stop
                # early as "caught up". Its time is taken at its last record, so this costs nothing.
                "idle_timeout_seconds": 5,
                "read_timeout_seconds": 20,
            }
        )
    )
    return config


def run_tap(emu: EmulatorProcess, events: int, workdir: Path, start: TapStart) -> Sample:
    """The tap as a Singer tap runs: RECORD lines into a pipe, read and counted here.

    EVENTS is the number of RECORD lines the run must deliver: its time is that of the read that
    brought the last of them (with a catalog leaving types out, fewer than the emulator's events).
    """
    config = tap_config(emu.url, workdir, str(events))
    with open(workdir / f"tap-{events}.log", "w") as log:
        started = time.perf_counter()
        tap = Timed(start.argv(config), workdir, env=start.env(), stdout=subprocess.PIPE, stderr=log, cwd=workdir)
        proc = tap.proc
        assert proc.stdout is not None
        count = 0
        last_record_at = previous_record_at = started
        last_found = 0
        reader_cpu = time.process_time()
        # Count line starts of RECORD messages: in each read, and across the boundary with the last.
        # Reads go into one buffer (no allocation per read) and are counted in place.
        marker = b"\n" + RECORD
        edge = len(marker) - 1
        before = b"\n"  # the first line has no newline before it
        buffer = bytearray(READ)
        stream = io.FileIO(proc.stdout.fileno(), "r", closefd=False)
        while True:
            size = stream.readinto(buffer)
            if not size:
                break
            found = buffer.count(marker, 0, size) + (before + buffer[: min(edge, size)]).count(marker)
            before = (before + buffer[:size])[-edge:] if size < edge else bytes(buffer[size - edge : size])
            if found:
                count += found
                previous_record_at, last_record_at, last_found = last_record_at, time.perf_counter(), found
        reader_cpu = time.process_time() - reader_cpu
        proc.stdout.close()
        cpu, rss = tap.wait()
    if proc.returncode != 0:
        raise SystemExit(f"tap: exit {proc.returncode}; see {log.name}")
    if count != events:
        tail = (workdir / f"tap-{events}.log").read_text()[-1500:]
        raise SystemExit(
            f"tap: {count} RECORD lines, expected {events}"
            + (f" (catalog {start.catalog})" if start.catalog else "")
            + f"; its log ends:\n{tail}"
        )
    tail_gap = last_record_at - previous_record_at
    return Sample(last_record_at - started, cpu, rss, count, reader_cpu, last_found, tail_gap)


# -- time to first request -----------------------------------------------------------------------


def _relay(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(READ):
            target.sendall(data)
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


class FirstRequestProxy:
    """A TCP relay on 127.0.0.1 in front of the emulator that notes when the first `GET /api/v2/events` arrives.

    A thread of this process accepts each connection and reads its request head (through the blank
    line); the first head that starts with `GET /api/v2/events` is stamped with `time.perf_counter()`,
    the clock the spawn time is read from. Then the head and everything after it are relayed to the
    emulator and back unchanged, so the tap runs to its normal end. The emulator is not changed.
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.first: float | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="first-request-proxy", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, contextlib.suppress(OSError):
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(READ)
                if not chunk:
                    return
                head += chunk
            if head.startswith(b"GET /api/v2/events"):
                now = time.perf_counter()
                with self._lock:
                    if self.first is None:
                        self.first = now
            with socket.create_connection(self.upstream) as server:
                server.sendall(head)
                back = threading.Thread(target=_relay, args=(server, client), daemon=True)
                back.start()
                _relay(client, server)
                with contextlib.suppress(OSError):
                    server.shutdown(socket.SHUT_RDWR)  # the client is gone: end the other direction too
                back.join(timeout=10)

    def close(self) -> None:
        self.listener.close()


def run_first_request(proxy: FirstRequestProxy, start: TapStart, workdir: Path) -> float:
    """Seconds from just before the tap's process is spawned (no wrapper) to its first `GET /api/v2/events`."""
    config = tap_config(proxy.url, workdir, "first-request")
    with proxy._lock:
        proxy.first = None
    with open(workdir / "tap-first-request.log", "w") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(start.argv(config), env=start.env(), stdout=subprocess.DEVNULL, stderr=log, cwd=workdir)
        proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"tap (first-request run): exit {proc.returncode}; see {log.name}")
    if proxy.first is None:
        raise SystemExit("tap (first-request run): no GET /api/v2/events reached the emulator")
    return proxy.first - started


def consumer(
    name: str, emu: EmulatorProcess, events: int, nbytes: int, workdir: Path, starts: dict[str, TapStart]
) -> Sample:
    url = emu.events_url
    if name == FILTERED:
        # Done at its last record: N minus the events of the type its catalog leaves out.
        return run_tap(emu, events - emu.deselected, workdir, starts[name])
    if name in starts:
        return run_tap(emu, events, workdir, starts[name])
    if name == "wire":
        return run_wire(emu, events, nbytes, workdir)
    if name == "node":
        script = BENCH / "consumers" / "node_eventsource.mjs"
        return run_peer(name, ["node", str(script), url, TOKEN, str(events), ",".join(EVENT_TYPES)], events, workdir)
    if name == "sseclient":
        return run_peer(
            name,
            [sys.executable, str(BENCH / "consumers" / "sseclient_py.py"), url, TOKEN, str(events)],
            events,
            workdir,
        )
    if name == "bare":
        return run_peer(
            name, [sys.executable, str(BENCH / "consumers" / "bare_loop.py"), url, TOKEN, str(events)], events, workdir
        )
    raise ValueError(name)


# -- reporting --------------------------------------------------------------------------------------


LABELS = {
    "wire": "wire: `curl -N` → `head -c` → `wc -c`",
    "node": "Node `eventsource` (Auth0's documented client)",
    "sseclient": "`sseclient-py` (README usage)",
    "bare": "bare Python loop (requests + split + orjson)",
    "tap": "**tap-auth0-events** (Singer RECORDs to a pipe)",
}


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    free = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout.strip()
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True, check=False).stdout.split("\n")[0]
    eventsource = json.loads((BENCH / "node_modules" / "eventsource" / "package.json").read_text())["version"]
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "free -h": free,
        "python": platform.python_version(),
        "node": node,
        "eventsource": eventsource,
        "curl": " ".join(curl.split()[:2]),
        "kernel": platform.release(),
    }


def is_tap(name: str) -> bool:
    """tap and each --variant: the consumers the ratio columns and targets are about (not tap[filtered])."""
    return name == "tap" or (name.startswith("tap[") and name != FILTERED)


def label(name: str) -> str:
    if name == FILTERED:
        return "tap-auth0-events with a catalog leaving one type out (`event_type` filters)"
    if name.startswith("tap["):
        return f"tap-auth0-events, variant {name[4:-1]} (Singer RECORDs to a pipe)"
    return LABELS[name]


def table(summaries: dict[str, Summary], rounds: int) -> str:
    taps = [name for name in summaries if is_tap(name)]
    events = next(iter(summaries.values())).events
    header = "".join(f" {name} ÷ this |" for name in taps)
    lines = [
        f"| consumer ({events:,} events, median of {rounds}) | events/s | seconds | CPU s (user+sys) "
        f"| peak RSS MB |{header}",
        "|:--|--:|--:|--:|--:|" + "--:|" * len(taps),
    ]
    for name, s in summaries.items():
        ratios = "".join(" — |" if tap == name else f" {summaries[tap].rate / s.rate:.2f}x |" for tap in taps)
        lines.append(f"| {label(name)} | {s.rate:,.0f} | {s.seconds:.2f} | {s.cpu:.2f} | {s.rss_mb:.0f} |{ratios}")
    return "\n".join(lines)


def scale_table(name: str, scaled: list[Summary]) -> str:
    lines = [
        f"| {name}: events | events/s | seconds to last record | CPU s | peak RSS MB "
        f"| RSS ÷ RSS at {scaled[0].events:,} |",
        "|--:|--:|--:|--:|--:|--:|",
    ]
    base = scaled[0].rss_mb
    for s in scaled:
        lines.append(
            f"| {s.events:,} | {s.rate:,.0f} | {s.seconds:.2f} | {s.cpu:.2f} | {s.rss_mb:.0f} | {s.rss_mb / base:.2f} |"
        )
    return "\n".join(lines)


def per_round(tap: Summary, peer: Summary) -> str:
    """The ratio within each round (the two ran minutes apart at most, under the same load): median, range."""
    return _within_rounds(p.seconds / t.seconds for t, p in zip(tap.samples, peer.samples, strict=True))


def _within_rounds(ratios: Iterable[float]) -> str:
    """`; within each round: median M, MIN to MAX` of per-round ratios ("" for none)."""
    ratios = sorted(ratios)
    if not ratios:
        return ""
    return f"; within each round: median {statistics.median(ratios):.2f}, {ratios[0]:.2f} to {ratios[-1]:.2f}"


def verdict(name: str, summaries: dict[str, Summary], scaled: list[Summary]) -> list[str]:
    tap = summaries[name]
    out = []
    if "node" in summaries:
        ratio = tap.rate / summaries["node"].rate
        out.append(
            f"{name} ÷ Node eventsource = {ratio:.2f}x (target ≥ 1.5x): {'MET' if ratio >= 1.5 else 'NOT MET'}"
            f" (medians{per_round(tap, summaries['node'])})"
        )
    if "bare" in summaries:
        ratio = tap.rate / summaries["bare"].rate
        out.append(
            f"{name} ÷ bare Python loop = {ratio:.0%} (target ≥ 80%): {'MET' if ratio >= 0.8 else 'NOT MET'}"
            f" (medians{per_round(tap, summaries['bare'])})"
        )
    if len(scaled) >= 2:
        ratio = scaled[-1].rss_mb / scaled[0].rss_mb
        out.append(
            f"{name}: peak RSS at {scaled[-1].events:,} ÷ at {scaled[0].events:,} = {ratio:.2f} (target ≤ 1.3): "
            f"{'MET' if ratio <= 1.3 else 'NOT MET'}"
        )
    return out


def steady_table(summaries: dict[str, Summary], rounds: int) -> str:
    taps = [name for name in summaries if is_tap(name)]
    events = next(iter(summaries.values())).events
    header = "".join(f" {name} ÷ this (events/s) |" for name in taps)
    cpu_header = " tap ÷ this (CPU s per 1M) |" if "tap" in summaries else ""
    lines = [
        f"| consumer (steady state: {events:,} events, median of {rounds}) | events/s | seconds | CPU s (user+sys) "
        f"| CPU s per 1M events | peak RSS MB |{header}{cpu_header}",
        "|:--|--:|--:|--:|--:|--:|" + "--:|" * (len(taps) + bool(cpu_header)),
    ]
    for name, s in summaries.items():
        ratios = "".join(" — |" if tap == name else f" {summaries[tap].rate / s.rate:.2f}x |" for tap in taps)
        if cpu_header:
            ratios += " — |" if name == "tap" else f" {summaries['tap'].cpu_per_million / s.cpu_per_million:.2f} |"
        lines.append(
            f"| {label(name)} | {s.rate:,.0f} | {s.seconds:.2f} | {s.cpu:.2f} | {s.cpu_per_million:.2f} "
            f"| {s.rss_mb:.0f} |{ratios}"
        )
    return "\n".join(lines)


def per_round_cpu(tap: Summary, other: Summary) -> str:
    return _within_rounds(t.cpu / o.cpu for t, o in zip(tap.samples, other.samples, strict=True))


def steady_verdict(summaries: dict[str, Summary]) -> list[str]:
    """At the steady-state size: each tap ÷ Node (≥ 1.8x), and tap's CPU per 1M events ÷ each variant's (≤ 1.10)."""
    out = []
    node = summaries.get("node")
    for name, s in summaries.items():
        if node is None or not is_tap(name):
            continue
        ratio = s.rate / node.rate
        out.append(
            f"{name} ÷ Node eventsource at {s.events:,} events = {ratio:.2f}x events/s (target ≥ 1.8x): "
            f"{'MET' if ratio >= 1.8 else 'NOT MET'} (medians{per_round(s, node)})"
        )
    tap = summaries.get("tap")
    for name, s in summaries.items():
        if tap is None or not name.startswith("tap[") or name == FILTERED:
            continue
        ratio = tap.cpu_per_million / s.cpu_per_million
        out.append(
            f"tap CPU s per 1M events ÷ {name}'s at {s.events:,} events = {ratio:.2f} "
            f"({tap.cpu_per_million:.2f} s ÷ {s.cpu_per_million:.2f} s; target ≤ 1.10): "
            f"{'MET' if ratio <= 1.10 else 'NOT MET'} (medians{per_round_cpu(tap, s)})"
        )
    return out


def flush_waits(summary: Summary) -> tuple[list[float], int]:
    """Each round's records/s up to the read before an end-of-run flush wait, and how many rounds had one.

    The tap writes its records in ~200-record batches, all of them at a checkpoint (every 10,000
    records or 5 s) and at the end of the run, after idle_timeout_seconds of silence. A run whose
    record count is a multiple of 10,000 (and under 5 s) ends on a checkpoint; tap[filtered]'s N
    minus the left-out type's events is not, so its last (< ~200) records can reach the pipe only
    with the end-of-run flush, ~1 s after the rest: the buffer, not the filters. For a round with
    such a wait, the rate is taken at the read before it (records before the tail ÷ its time).
    """
    rates, waits = [], 0
    for sample in summary.samples:
        if sample.tail_gap >= FLUSH_WAIT and sample.tail_records < sample.count:
            waits += 1
            rates.append((sample.count - sample.tail_records) / (sample.seconds - sample.tail_gap))
        else:
            rates.append(summary.events / sample.seconds)
    return rates, waits


def filtered_line(summaries: dict[str, Summary], what: str) -> list[str]:
    """tap (no catalog) ÷ tap[filtered] (a catalog leaving one type out) in events/s, and each one's CPU per 1M.

    Each one's events are the records it delivered (tap[filtered]: N minus the left-out type's events)."""
    tap, filtered = summaries.get("tap"), summaries.get(FILTERED)
    if tap is None or filtered is None or not tap.samples:
        return []
    pairs = list(zip(tap.samples, filtered.samples, strict=True))
    ratios = [(tap.events / t.seconds) / (filtered.events / f.seconds) for t, f in pairs]
    cpus = [(t.cpu / tap.events) / (f.cpu / filtered.events) for t, f in pairs]
    (tap_rates, tap_waits), (filtered_rates, filtered_waits) = flush_waits(tap), flush_waits(filtered)
    rounds = len(tap.samples)
    waits = []
    if tap_waits or filtered_waits:
        at_read = [t / f for t, f in zip(tap_rates, filtered_rates, strict=True)]
        waits.append(
            f"end-of-run flush waits ({what}; last records ≥ {FLUSH_WAIT} s after the read before them, see "
            f"flush_waits() in bench/run.py): tap in {tap_waits} of {rounds} rounds, tap[filtered] in "
            f"{filtered_waits} of {rounds}; taking those rounds' rates at the read before the wait, tap ÷ "
            f"tap[filtered] = {statistics.median(tap_rates) / statistics.median(filtered_rates):.2f}x "
            f"({statistics.median(tap_rates):,.0f} ÷ {statistics.median(filtered_rates):,.0f}"
            f"{_within_rounds(at_read)})"
        )
    return [
        f"tap ÷ tap[filtered] events/s ({what}: {tap.events:,} records ÷ {filtered.events:,}) = "
        f"{tap.rate / filtered.rate:.2f}x ({tap.rate:,.0f} ÷ {filtered.rate:,.0f}; medians{_within_rounds(ratios)})",
        f"CPU s per 1M events ({what}): tap {tap.cpu_per_million:.2f}, tap[filtered] {filtered.cpu_per_million:.2f} "
        f"(tap ÷ tap[filtered] = {tap.cpu_per_million / filtered.cpu_per_million:.2f}{_within_rounds(cpus)})",
        *waits,
    ]


def first_request_line(name: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    return (
        f"{name}: time to first request (spawn → its first `GET /api/v2/events` at the emulator's front proxy) = "
        f"{statistics.median(ordered):.3f} s (median of {len(ordered)}; {ordered[0]:.3f} to {ordered[-1]:.3f})"
    )


def run_rounds(
    names: list[str],
    emu: EmulatorProcess,
    rounds: int,
    nbytes: int,
    workdir: Path,
    starts: dict[str, TapStart],
    summaries: dict[str, Summary],
    what: str = "round",
) -> None:
    for round_index in range(rounds):
        # Each round starts one consumer later, so no consumer always runs first or last.
        order = names[round_index % len(names) :] + names[: round_index % len(names)]
        for name in order:
            sample = consumer(name, emu, emu.events, nbytes, workdir, starts)
            summaries[name].samples.append(sample)
            events = summaries[name].events  # tap[filtered]: the records it delivers
            print(
                f"  {what} {round_index + 1}/{rounds} {name:12s} {events / sample.seconds:>10,.0f} "
                f"events/s  {sample.seconds:6.2f}s  cpu {sample.cpu:6.2f}s"
                + (f" ({sample.cpu / events * 1_000_000:.2f} s per 1M events)" if what != "round" else "")
                + f"  rss {sample.rss_mb:6.0f} MB"
                + (f"  (reader cpu {sample.reader_cpu:.2f}s)" if sample.reader_cpu else "")
                + (
                    f"  (last {sample.tail_records} records {sample.tail_gap:.2f}s after the read before)"
                    if name == FILTERED
                    else ""
                ),
                flush=True,
            )


# -- main ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000, help="events for the side-by-side rounds")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of the side-by-side comparison")
    parser.add_argument("--only", default=",".join(PEERS), help=f"comma list of consumers ({','.join(PEERS)})")
    parser.add_argument("--scale", default="50000,1000000", help="event counts for the tap-only memory runs")
    parser.add_argument(
        "--no-1m",
        action="store_true",
        help="skip the steady-state rounds and drop 1,000,000 from --scale (saves minutes)",
    )
    parser.add_argument(
        "--steady-events",
        type=int,
        default=1_000_000,
        help="events of the steady-state rounds: the taps, Node eventsource and the bare loop "
        "side by side (events/s, CPU s per 1M events); this size's memory figures come from them",
    )
    parser.add_argument("--steady-rounds", type=int, default=3, help="rounds of the steady-state comparison (0: skip)")
    parser.add_argument(
        "--first-request-runs",
        type=int,
        default=5,
        help="runs per tap timing spawn → first GET /api/v2/events (0: skip)",
    )
    parser.add_argument("--scale-rounds", type=int, default=2, help="tap runs per size in the memory runs")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="also run the tap of another tree, DIR (holding a tap_auth0_events package), as consumer tap[LABEL]: "
        f"PYTHONPATH=DIR, `python -c` calling that tree's own start ({CLI_ENTRY} if DIR has cli.py, else "
        f"{SDK_ENTRY}); repeatable. For before/after comparisons in one run. DIR={SDK_START}: this tree "
        f"started through the Singer SDK ({SDK_ENTRY}), which is the tap's own start when the tree has no cli.py.",
    )
    parser.add_argument(
        "--filtered",
        action="store_true",
        help=f"also run {FILTERED} in the side-by-side and steady-state rounds: this tree's tap (as `tap`) with "
        "--catalog FILE, its own --discover catalog with every stream selected but the type with the fewest "
        "events in the emulator's log (at least one), so its connection carries `event_type` filters; done at its "
        "(N minus that type's events)-th record. Reports tap ÷ tap[filtered] events/s and each one's CPU s per 1M.",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "latest", help="writes OUT.json and OUT.md")
    args = parser.parse_args(argv)

    root = str(ROOT.resolve())
    # PYTHONPATH=ROOT: this tree's package even when .venv's editable install is another tree's.
    starts: dict[str, TapStart] = {"tap": TapStart(console_entry(ROOT), root, root)}
    for item in args.variant:
        name, _, directory = item.partition("=")
        if name and directory == SDK_START:
            starts[f"tap[{name}]"] = TapStart(SDK_ENTRY, root, root)
            if starts["tap"].entry == SDK_ENTRY:
                print(
                    f"note: --variant {item}: this tree has one start, the SDK's CLI; tap[{name}] runs the same "
                    "start as tap",
                    flush=True,
                )
            continue
        if not name or not (Path(directory) / "tap_auth0_events").is_dir():
            raise SystemExit(f"--variant {item!r}: expected LABEL=DIR with DIR/tap_auth0_events, or LABEL={SDK_START}")
        resolved = Path(directory).resolve()
        starts[f"tap[{name}]"] = TapStart(tree_entry(resolved), str(resolved), str(resolved))
        unknown_there = sorted(set(EVENT_TYPES) - tree_event_types(str(resolved)))
        if unknown_there:
            EmulatorProcess.left_out = tuple(sorted({*EmulatorProcess.left_out, *unknown_there}))
            print(
                f"note: --variant {item}: its tap does not know {', '.join(unknown_there)}; the emulators "
                "generate none of them, so every tap reads the same events",
                flush=True,
            )
    variants = {name: start for name, start in starts.items() if name != "tap"}
    names = [name for name in PEERS if name in args.only.split(",")] + list(variants)
    taps = [name for name in names if name in starts]
    if args.filtered:
        if "tap" not in names:
            raise SystemExit(f"--filtered: {FILTERED} is compared with tap; keep tap in --only")
        names.append(FILTERED)  # its start (with the catalog) is added once the emulator's log is counted
    sizes = [int(size) for size in args.scale.split(",") if size.strip()]
    if args.no_1m:
        sizes = [size for size in sizes if size != 1_000_000]
    steady_events = 0 if args.no_1m or args.steady_rounds <= 0 else args.steady_events
    steady_names = (
        [name for name in names if name in STEADY_PEERS or name in starts or name == FILTERED] if steady_events else []
    )
    if "node" in names and not (BENCH / "node_modules" / "eventsource").is_dir():
        raise SystemExit("bench/node_modules is missing: run `bash bench/run.sh` (it runs `npm ci` in bench/)")
    if "wire" in names and not shutil.which("curl"):
        raise SystemExit("curl is not installed")
    if not os.access(TIME, os.X_OK):
        raise SystemExit(f"{TIME} (GNU time) is not installed: apt-get install time")

    info = machine()
    print("machine:", json.dumps(info, indent=1), flush=True)
    load_before = os.getloadavg()[0]
    if load_before > 0.5:
        print(f"warning: load average {load_before:.2f}: other work on this machine will blur the figures", flush=True)
    summaries: dict[str, Summary] = {name: Summary(name, args.events) for name in names}
    steady: dict[str, Summary] = {name: Summary(name, steady_events) for name in steady_names}
    first_request: dict[str, list[float]] = {name: [] for name in taps}
    scaled: dict[str, list[Summary]] = {name: [] for name in taps}
    filtered_info: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tap-auth0-bench-") as tmp:
        workdir = Path(tmp)
        print(f"starting the emulator with {args.events:,} events ...", flush=True)
        emu = EmulatorProcess(args.events, workdir)
        try:
            print(f"  ready in {emu.generation_seconds:.0f}s at {emu.url}", flush=True)
            if args.filtered:
                counts = type_counts(emu)
                deselect = rarest(counts)
                emu.deselected = counts[deselect]
                catalog = filtered_catalog(starts["tap"], emu.url, workdir, deselect)
                starts[FILTERED] = TapStart(starts["tap"].entry, root, root, str(catalog))
                summaries[FILTERED].events = args.events - emu.deselected
                filtered_info = {
                    "deselected_type": deselect,
                    "stream": stream_name(deselect),
                    "streams_selected": len(EVENT_TYPES) - 1,
                    "counts": {args.events: emu.deselected},
                }
                print(
                    f"  {FILTERED}: its catalog deselects {deselect} (stream {stream_name(deselect)}), the rarest "
                    f"type in the emulator's log: {emu.deselected:,} of the {args.events:,} events; done at "
                    f"record {args.events - emu.deselected:,}",
                    flush=True,
                )
            nbytes = stream_bytes(emu.events_url, args.events)
            print(
                f"  the stream through event {args.events:,} is {nbytes:,} bytes "
                f"({nbytes / args.events:,.0f} bytes per message)",
                flush=True,
            )
            run_rounds(names, emu, args.rounds, nbytes, workdir, starts, summaries)
        finally:
            emu.stop()
        if taps and args.first_request_runs > 0:
            print(
                f"time to first request: the taps against a {FIRST_REQUEST_EVENTS:,}-event emulator behind a "
                "proxy that notes the first GET /api/v2/events ...",
                flush=True,
            )
            emu = EmulatorProcess(FIRST_REQUEST_EVENTS, workdir)
            proxy = FirstRequestProxy(emu.url)
            try:
                for run_index in range(args.first_request_runs):
                    order = taps[run_index % len(taps) :] + taps[: run_index % len(taps)]
                    for name in order:
                        seconds = run_first_request(proxy, starts[name], workdir)
                        first_request[name].append(seconds)
                        print(
                            f"  run {run_index + 1}/{args.first_request_runs} {name:12s} first request after "
                            f"{seconds:.3f}s",
                            flush=True,
                        )
            finally:
                proxy.close()
                emu.stop()
        if steady_names:
            print(
                f"starting the emulator with {steady_events:,} events (steady state: {', '.join(steady_names)}) ...",
                flush=True,
            )
            emu = EmulatorProcess(steady_events, workdir)
            try:
                print(f"  ready in {emu.generation_seconds:.0f}s", flush=True)
                if FILTERED in steady:
                    emu.deselected = type_counts(emu)[filtered_info["deselected_type"]]
                    steady[FILTERED].events = steady_events - emu.deselected
                    filtered_info["counts"][steady_events] = emu.deselected
                    print(
                        f"  {FILTERED}: {filtered_info['deselected_type']} has {emu.deselected:,} of the "
                        f"{steady_events:,} events; done at record {steady_events - emu.deselected:,}",
                        flush=True,
                    )
                run_rounds(steady_names, emu, args.steady_rounds, 0, workdir, starts, steady, "steady round")
            finally:
                emu.stop()
        for size in sizes if taps else []:
            if size == args.events or (steady_names and size == steady_events):
                continue  # measured above
            print(f"starting the emulator with {size:,} events (tap-only memory runs) ...", flush=True)
            emu = EmulatorProcess(size, workdir)
            try:
                print(f"  ready in {emu.generation_seconds:.0f}s", flush=True)
                runs = {name: Summary(name, size) for name in taps}
                for _ in range(args.scale_rounds):
                    for name in taps:
                        sample = run_tap(emu, size, workdir, starts[name])
                        runs[name].samples.append(sample)
                        print(
                            f"  {name:12s} {size:>9,} {size / sample.seconds:>10,.0f} events/s  "
                            f"{sample.seconds:6.2f}s  cpu {sample.cpu:6.2f}s  rss {sample.rss_mb:6.0f} MB",
                            flush=True,
                        )
                for name in taps:
                    scaled[name].append(runs[name])
            finally:
                emu.stop()
        for name in taps:
            if name in steady:
                scaled[name].append(steady[name])
            if (sizes and args.events in sizes) or scaled[name]:
                scaled[name].append(summaries[name])
            scaled[name].sort(key=lambda s: s.events)

    info["load average (1 min) before / after"] = f"{load_before:.2f} / {os.getloadavg()[0]:.2f}"
    report = [table(summaries, args.rounds)]
    if steady:
        report += ["", steady_table(steady, args.steady_rounds)]
    for name in taps:
        if len(scaled[name]) >= 2:
            report += ["", scale_table(name, scaled[name])]
    verdicts = [line for name in taps for line in verdict(name, summaries, scaled[name])]
    steady_verdicts = steady_verdict(steady) if steady else []
    first_request_lines = [first_request_line(name, seconds) for name, seconds in first_request.items() if seconds]
    filtered_lines = filtered_line(summaries, f"{args.events:,} events") + (
        filtered_line(steady, f"steady state, {steady_events:,} events") if steady else []
    )
    for name in taps:
        lines = verdict(name, summaries, scaled[name])
        if lines:
            report += ["", *(f"- {line}" for line in lines)]
    if steady_verdicts:
        report += ["", *(f"- {line}" for line in steady_verdicts)]
    if first_request_lines:
        report += ["", *(f"- {line}" for line in first_request_lines)]
    if filtered_lines:
        deselect = filtered_info["deselected_type"]
        report += [
            "",
            f"{FILTERED}: every stream selected but {filtered_info['stream']} ({deselect}: "
            + ", ".join(f"{count:,} of {size:,} events" for size, count in filtered_info["counts"].items())
            + "); tap: no catalog",
            *(f"- {line}" for line in filtered_lines),
        ]
    text = "\n".join(report)
    print()
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(text + "\n")
    args.out.with_suffix(".json").write_text(
        json.dumps(
            {
                "machine": info,
                "command": " ".join(["bash bench/run.sh", *(argv if argv is not None else sys.argv[1:])]),
                "events": args.events,
                "rounds": args.rounds,
                "variants": {name: asdict(start) for name, start in variants.items()},
                "starts": {name: start.entry for name, start in starts.items() if name in taps},
                "consumers": {
                    name: {
                        "rate": s.rate,
                        "seconds": s.seconds,
                        "cpu": s.cpu,
                        "rss_mb": s.rss_mb,
                        "samples": [asdict(x) for x in s.samples],
                    }
                    for name, s in summaries.items()
                },
                "steady": {
                    "events": steady_events,
                    "rounds": args.steady_rounds if steady else 0,
                    "consumers": {name: s.as_json() for name, s in steady.items()},
                },
                "first_request": {
                    name: {"median_seconds": statistics.median(seconds), "samples": seconds}
                    for name, seconds in first_request.items()
                    if seconds
                },
                "scale": {
                    name: [
                        {"events": s.events, "rate": s.rate, "seconds": s.seconds, "cpu": s.cpu, "rss_mb": s.rss_mb}
                        for s in runs
                    ]
                    for name, runs in scaled.items()
                },
                "filtered": filtered_info,
                "verdicts": verdicts + steady_verdicts + first_request_lines + filtered_lines,
            },
            indent=1,
        )
    )
    print(f"\nwritten: {args.out.with_suffix('.md')} and .json", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
