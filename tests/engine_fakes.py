"""A fake feed, a fake clock and a fake output, to drive the engine (`run.Pass`, `sync.Syncer`) in process.

`FakeFeed` plays connections from a script: each connection is a list of what the real feed yields
(`Signal`s, and lists of SSE messages, which `sse_message`/`event_message` build). It keeps the
real feed's rules the engine relies on: a connection resumes after the offset the reader
`advance`d to, a `reconnect` ends the connection at the next message (a fault when it says one),
and when the script runs out the connection stays open with heartbeats, each a second later on
the fake clock.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tap_auth0_events.connection import Signal, StartPosition
from tap_auth0_events.records import DictCodec
from tap_auth0_events.sse import SSEMessage

Connection = list["list[SSEMessage] | Signal"]


class FakeClock:
    """`time.monotonic` for a test: time moves only when the feed says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def event_message(index: int, event_type: str = "user.created", time: str | None = None) -> SSEMessage:
    """The SSE message of event `index` (its offset is `o<index>`), as the decoder dispatches it."""
    stamp = time or f"2026-01-01T00:{index // 60 % 60:02d}:{index % 60:02d}.000Z"
    event = {"id": f"evt_{index}", "type": event_type, "time": stamp, "data": {"object": {"n": index}}}
    data = json.dumps({"offset": f"o{index:06d}", "event": event}).encode()
    return (event_type, data, f"o{index:06d}", None)


def sse_message(name: str, data: bytes = b"", sse_id: str | None = None) -> SSEMessage:
    return (name, data, sse_id, None)


def error_message(code: str, sse_id: str | None = None) -> SSEMessage:
    return sse_message("error", json.dumps({"error": {"code": code, "message": "test"}}).encode(), sse_id)


@dataclass
class FakeFeed:
    """Connections played in order; what happened is kept for the test to check."""

    script: list[Connection]
    clock: FakeClock = field(default_factory=FakeClock)
    seconds_per_item: float = 0.0  # how far each message moves the clock (heartbeats: 1 s)
    offset: str | None = None
    connections: int = 0
    faults: int = 0
    last_fault: str = "none"
    opened_from: list[str | None] = field(default_factory=list)  # the offset each connection resumed after
    event_types: Sequence[str] = ()
    _reconnect: str | None = None

    def advance(self, offset: str | None) -> None:
        self.offset = offset

    def reconnect(self, fault: str = "") -> None:
        self._reconnect = fault

    def messages(self, start: StartPosition) -> Generator[list[SSEMessage] | Signal, None, None]:
        self.offset = start.offset
        while self.script:
            self.opened_from.append(self.offset)
            self._reconnect = None
            for item in self.script.pop(0):
                if item is Signal.FAULT:
                    self.faults += 1
                    self.last_fault = "a scripted fault"
                elif item is Signal.CONNECTED:
                    self.connections += 1
                self.clock.now += self.seconds_per_item
                yield item
                if self._reconnect is not None:
                    break
            if self._reconnect:
                self.faults += 1
                self.last_fault = self._reconnect
                self.clock.now += self.seconds_per_item
                yield Signal.FAULT
        while True:  # the script has run out: a live connection with nothing new
            self.clock.now += 1.0
            yield Signal.HEARTBEAT


@dataclass
class FakeFeeds:
    """`sync.Feeds` handing out one scripted feed per pass, in order."""

    feeds: list[FakeFeed]
    opened: list[FakeFeed] = field(default_factory=list)
    closed: bool = False

    def open(self, event_types: Sequence[str], deadline: float) -> FakeFeed:
        feed = self.feeds.pop(0)
        feed.event_types = list(event_types)
        self.opened.append(feed)
        return feed

    def close(self) -> None:
        self.closed = True


class FakeOutput:
    """An `Output` that keeps, in order, what the driver and its caller did: ("records", [event ids]),
    ("flush",), ("state", a copy of STATE)."""

    decode = staticmethod(DictCodec.decode)
    json_value = staticmethod(DictCodec.json_value)

    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []

    def write_records(self, records: Iterable[tuple[str, Any]]) -> None:
        self.log.append(("records", [record["event_id"] for _, record in records]))

    def write_state(self, state: dict[str, Any]) -> None:
        self.log.append(("state", json.loads(json.dumps(state))))

    def flush(self) -> None:
        self.log.append(("flush",))

    def written_ids(self) -> list[str]:
        return [event_id for entry in self.log if entry[0] == "records" for event_id in entry[1]]

    def states(self) -> list[dict[str, Any]]:
        return [entry[1] for entry in self.log if entry[0] == "state"]
