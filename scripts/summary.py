"""Print a short SQL summary of the warehouse in DuckDB: events per type, the newest events, and
what exists now according to the current-state models (built by `dbt-duckdb:run`)."""

from __future__ import annotations

import os
import sys

import duckdb

SCHEMA = os.environ.get("TARGET_DUCKDB_DEFAULT_TARGET_SCHEMA", "auth0_events")
# (model, label) in the order they are printed.
MODELS = (
    ("current_users", "users"),
    ("current_organizations", "organizations"),
    ("current_organization_members", "organization members"),
    ("current_organization_member_roles", "member role assignments"),
    ("current_groups", "groups"),
    ("current_group_members", "group members"),
    ("current_connections", "connections"),
)


def tables_with_column(connection: duckdb.DuckDBPyConnection, column: str) -> list[str]:
    return [
        row[0]
        for row in connection.execute(
            "select table_name from information_schema.columns where table_schema = ? and column_name = ? order by 1",
            [SCHEMA, column],
        ).fetchall()
    ]


def print_events(connection: duckdb.DuckDBPyConnection, path: str) -> None:
    # The raw tables are the ones with the tap's event_offset column; the models have none.
    tables = tables_with_column(connection, "event_offset")
    if not tables:
        sys.exit(f"summary: no event tables in schema {SCHEMA} of {path}")
    union = " union all ".join(f'select event_type, event_id, event_time from {SCHEMA}."{table}"' for table in tables)
    print(f"\nEvents per type in {path}:")
    rows = connection.execute(
        f"select event_type, count(*) as events, count(distinct event_id) as distinct_ids, "
        f"max(event_time) as newest from ({union}) group by 1 order by 2 desc, 1"
    ).fetchall()
    print(f"  {'event type':<36}{'events':>8}{'distinct':>10}  newest")
    for event_type, events, distinct, newest in rows:
        print(f"  {event_type:<36}{events:>8}{distinct:>10}  {newest}")
    print(f"  {'total':<36}{sum(r[1] for r in rows):>8}{sum(r[2] for r in rows):>10}")
    print("\nNewest events:")
    for event_type, event_id, event_time in connection.execute(
        f"select event_type, event_id, event_time from ({union}) order by event_time desc, event_id limit 5"
    ).fetchall():
        print(f"  {event_time}  {event_type:<36}{event_id}")


def print_baseline(connection: duckdb.DuckDBPyConnection) -> None:
    """What the newest baseline read, per stream, and whether each stream's read is complete."""
    if "baselines" not in tables_with_column(connection, "baseline_id"):
        print("\nBaseline: none in this warehouse (baseline=never, or its streams are not selected)")
        return
    newest = connection.execute(f"select max(baseline_id) from {SCHEMA}.baselines").fetchone()
    if newest is None or newest[0] is None:
        print("\nBaseline: started, no stream complete yet (it continues next run)")
        return
    (baseline_id,) = newest
    rows = connection.execute(
        f"select stream, records, started_at, completed_at from {SCHEMA}.baselines where baseline_id = ? order by 1",
        [baseline_id],
    ).fetchall()
    print(f"\nBaseline {baseline_id} (the tenant before its events, from the Management API):")
    for stream, records, _, completed_at in rows:
        print(f"  {stream:<36}{records:>8}  complete at {completed_at}")


def print_current_state(connection: duckdb.DuckDBPyConnection) -> None:
    present = set(tables_with_column(connection, "last_event_id"))
    missing = [model for model, _ in MODELS if model not in present]
    if missing:
        print(f"\nCurrent state: models not built yet ({', '.join(missing)}); run `meltano run dbt-duckdb:run`")
        return
    print(f"\nCurrent state (dbt models in {SCHEMA}):")
    for model, label in MODELS:
        (count,) = connection.execute(f"select count(*) from {SCHEMA}.{model}").fetchone()
        print(f"  {label:<28}{count:>8}")
    print("\nLargest organizations:")
    for name, display_name, members, with_roles in connection.execute(
        f"""
        select o.name, o.display_name, count(m.user_id) as members, count(*) filter (where m.role_count > 0)
        from {SCHEMA}.current_organizations as o
        join {SCHEMA}.current_organization_members as m using (organization_id)
        where m.user_exists
        group by o.organization_id, o.name, o.display_name
        order by members desc, o.name
        limit 3
        """
    ).fetchall():
        print(f"  {name:<22}{display_name:<26}{members:>4} members, {with_roles} with roles")


def main(path: str) -> None:
    connection = duckdb.connect(path, read_only=True)
    try:
        print_events(connection, path)
        print_baseline(connection)
        print_current_state(connection)
    finally:
        connection.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "output/warehouse.duckdb")
