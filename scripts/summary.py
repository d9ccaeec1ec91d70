"""Print a short SQL summary of the events loaded into DuckDB: counts per type, newest events."""

from __future__ import annotations

import sys

import duckdb

SCHEMA = "auth0_events"


def main(path: str) -> None:
    connection = duckdb.connect(path, read_only=True)
    tables = [
        row[0]
        for row in connection.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1", [SCHEMA]
        ).fetchall()
    ]
    if not tables:
        sys.exit(f"summary: no tables in schema {SCHEMA} of {path}")
    union = " union all ".join(
        f'select event_type, event_id, event_time from {SCHEMA}."{table}"' for table in tables
    )
    print(f"\nEvents per type in {path}:")
    rows = connection.execute(
        f"select event_type, count(*) as events, count(distinct event_id) as distinct_ids, "
        f"max(event_time) as newest from ({union}) group by 1 order by 2 desc"
    ).fetchall()
    print(f"  {'event type':<36}{'events':>8}{'distinct':>10}  newest")
    for event_type, events, distinct, newest in rows:
        print(f"  {event_type:<36}{events:>8}{distinct:>10}  {newest}")
    print(f"  {'total':<36}{sum(r[1] for r in rows):>8}{sum(r[2] for r in rows):>10}")
    print("\nNewest events:")
    for event_type, event_id, event_time in connection.execute(
        f"select event_type, event_id, event_time from ({union}) order by event_time desc limit 5"
    ).fetchall():
        print(f"  {event_time}  {event_type:<36}{event_id}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "output/warehouse.duckdb")
