"""Peer (c): sseclient-py used as its README shows.

requests stream -> SSEClient(response) -> for event in client.events(): json.loads(event.data).
Usage: python sseclient_py.py URL TOKEN N. Prints "done <count>" once it has seen N events.
"""

from __future__ import annotations

import json
import sys

import requests
import sseclient


def main() -> None:
    url, token, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
    headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {token}"}
    response = requests.get(url, stream=True, headers=headers)
    client = sseclient.SSEClient(response)
    count = 0
    for event in client.events():
        message = json.loads(event.data)
        if "event" in message:
            count += 1
            if count == expected:
                break
    sys.stdout.write(f"done {count}\n")
    sys.stdout.flush()
    response.close()


if __name__ == "__main__":
    main()
