"""Peer (d): the bare Python loop, the floor for any Python consumer.

requests stream, read what has arrived, split lines, orjson.loads every `data:` line, count; no
output, no SSE state (event names, ids, retry), no checks beyond "is it an event".
Usage: python bare_loop.py URL TOKEN N. Prints "done <count>" once it has seen N events.
"""

from __future__ import annotations

import sys

import orjson
import requests

READ = 256 * 1024


def main() -> None:
    url, token, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {token}"}
    response = requests.get(url, stream=True, headers=headers)
    raw = response.raw
    loads = orjson.loads
    count = 0
    tail = b""
    while count < expected:
        chunk = raw.read1(READ)
        if not chunk:
            break
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        for line in lines:
            if line[:5] == b"data:" and "event" in loads(line[5:]):
                count += 1
                if count == expected:
                    break
    sys.stdout.write(f"done {count}\n")
    sys.stdout.flush()
    response.close()


if __name__ == "__main__":
    main()
