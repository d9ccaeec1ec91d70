"""The floor: each engine's own bulk load of the tap's records, one typed table per stream.

    python bench/floor.py duckdb|postgres RECORDS_DIR TARGET CONNINFO_JSON

RECORDS_DIR holds one NDJSON file per stream (`<stream>.jsonl`, the RECORD messages' `record`
objects), prepared by bench/pipeline.py before the clock starts. DuckDB: `read_json` into a new
table per stream in a new file (TARGET). PostgreSQL: `COPY` each file into a jsonb staging
table, then an insert into a typed table keyed on event_id (the loaders' shape), in a new schema
that is dropped afterwards.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

TEXT = ("event_id", "event_type", "event_offset", "source", "specversion", "a0tenant", "a0stream", "a0purpose")
JSON = ("object", "previous_object", "context", "extensions")


def duckdb_floor(files: list[Path], target: str) -> None:
    import duckdb

    columns = {**{name: "VARCHAR" for name in TEXT}, "event_time": "TIMESTAMP", **{name: "JSON" for name in JSON}}
    connection = duckdb.connect(target)
    connection.execute("create schema auth0_events")
    for path in files:
        connection.execute(
            f'create table auth0_events."{path.stem}" as '
            f"select * from read_json(?, format = 'newline_delimited', columns = {columns!r})",
            [str(path)],
        )
    connection.close()


def postgres_floor(files: list[Path], conninfo: dict[str, object]) -> None:
    import psycopg

    schema = f"bench_floor_{secrets.token_hex(3)}"
    with psycopg.connect(**conninfo) as connection:  # type: ignore[arg-type]
        try:
            connection.execute(f'create schema "{schema}"')
            for path in files:
                table = f'"{schema}"."{path.stem}"'
                connection.execute("create temporary table staging (doc jsonb) on commit drop")
                with (
                    connection.cursor() as cursor,
                    cursor.copy(
                        "copy staging (doc) from stdin (format csv, quote e'\\x01', delimiter e'\\x02')"
                    ) as copy,
                    open(path, "rb") as source,
                ):
                    while chunk := source.read(1 << 20):
                        copy.write(chunk)
                connection.execute(
                    f"create table {table} (event_id text primary key, event_type text, "
                    "event_time timestamp without time zone, "
                    + ", ".join(f"{name} text" for name in TEXT[2:])
                    + ", "
                    + ", ".join(f"{name} jsonb" for name in JSON)
                    + ")"
                )
                connection.execute(
                    f"insert into {table} select doc->>'event_id', doc->>'event_type', "
                    "(doc->>'event_time')::timestamptz at time zone 'UTC', "
                    + ", ".join(f"doc->>'{name}'" for name in TEXT[2:])
                    + ", "
                    + ", ".join(f"doc->'{name}'" for name in JSON)
                    + " from staging on conflict (event_id) do nothing"
                )
                connection.commit()
        finally:
            connection.rollback()
            connection.execute(f'drop schema if exists "{schema}" cascade')
            connection.commit()


def main() -> None:
    engine, records_dir, target, conninfo = sys.argv[1:5]
    files = sorted(Path(records_dir).glob("*.jsonl"))
    if engine == "duckdb":
        duckdb_floor(files, target)
    else:
        postgres_floor(files, json.loads(conninfo))


if __name__ == "__main__":
    main()
