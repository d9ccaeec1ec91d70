"""The peer: a dlt pipeline reading the same Events API feed into DuckDB or PostgreSQL.

    python bench/dlt_pipeline.py duckdb|postgres API_URL TOKEN EVENTS DATASET PIPELINES_DIR

What a dlt user writes for this source: `requests` reads the SSE stream (a line split and
`json.loads` of each `data:` line, as in dlt's own REST examples), one table per event type
(`table_name` from the type), `primary_key="event_id"` with `write_disposition="merge"`, and
nested objects kept as JSON columns (`max_table_nesting=0`), like the Singer loaders write them.
It stops after EVENTS events. Credentials come from DESTINATION__<ENGINE>__CREDENTIALS. Run by
bench/pipeline.py with the dlt installed by bench/pipeline.sh (bench/.venv-dlt).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import dlt
import requests


def events(url: str, token: str, count: int) -> Iterator[dict[str, Any]]:
    params = {"from_timestamp": "2000-01-01T00:00:00Z"}
    with requests.get(
        f"{url}/api/v2/events", params=params, headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=60
    ) as response:
        response.raise_for_status()
        seen = 0
        for line in response.iter_lines():
            if not line.startswith(b"data:"):
                continue
            message = json.loads(line[5:])
            event = message.get("event")
            if not event:
                continue
            data = event.get("data") or {}
            yield {
                "event_id": event["id"],
                "event_type": event["type"],
                "event_time": event["time"],
                "event_offset": message.get("offset"),
                "source": event.get("source"),
                "specversion": event.get("specversion"),
                "a0tenant": event.get("a0tenant"),
                "a0stream": event.get("a0stream"),
                "a0purpose": event.get("a0purpose"),
                "object": data.get("object"),
                "previous_object": data.get("previous_object"),
                "context": data.get("context"),
            }
            seen += 1
            if seen == count:
                return


def main() -> None:
    engine, url, token, count, dataset, pipelines_dir = sys.argv[1:7]

    @dlt.resource(
        primary_key="event_id",
        write_disposition="merge",
        table_name=lambda event: event["event_type"].replace(".", "_"),
        max_table_nesting=0,
        columns={
            "event_time": {"data_type": "timestamp"},
            "object": {"data_type": "json"},
            "previous_object": {"data_type": "json"},
            "context": {"data_type": "json"},
        },
    )
    def auth0_events() -> Iterator[dict[str, Any]]:
        yield from events(url, token, int(count))

    pipeline = dlt.pipeline(
        pipeline_name=f"auth0_events_{engine}", destination=engine, dataset_name=dataset, pipelines_dir=pipelines_dir
    )
    info = pipeline.run(auth0_events())
    print(json.dumps({"loads": len(info.loads_ids)}))


if __name__ == "__main__":
    main()
