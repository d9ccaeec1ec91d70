"""Every SQL block of README.md's "Querying your events" runs on DuckDB and on PostgreSQL and
returns rows, on the demo's data.

The blocks are read from the README at collection time, so a query added there is tested here
without touching this file. The data is the demo's (`scripts/demo.sh`: the emulator's default
seed, 5,000 events of history, `meltano run tap-auth0-events target-... dbt-...:run`), so
literals in the queries (ids, dates) are the demo warehouse's. The SQL runs as written on DuckDB
(schema `auth0_events`); on PostgreSQL each test writes into a schema of its own, so
`auth0_events.` is the one word replaced.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import pytest
from conftest import fast_config
from test_warehouse_postgres import connect_or_skip, loader_environ
from warehouse_helpers import ROOT, Rows, meltano_env, meltano_run

from tap_auth0_events.emulator.server import Emulator

pytestmark = pytest.mark.integration

SECTION = "## Querying your events"
DEMO_EVENTS = 5000  # scripts/demo.sh's default


def readme_queries() -> list[tuple[str, str]]:
    """(the sentence before the block, the SQL) for each ```sql block of the section."""
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end != -1 else len(text)]
    found = []
    for match in re.finditer(r"(?:^|\n)([^\n]*)\n\n```sql\n(.*?)```", section, re.S):
        found.append((match.group(1).strip().rstrip(":"), match.group(2).strip()))
    return found


QUERIES = readme_queries()


@dataclass
class Demo:
    engine: str
    schema: str
    rows: Rows


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo's history loaded and modelled by the pipeline a user runs."""
    engine = request.param
    tmp = tmp_path_factory.mktemp(f"readme-{engine}")
    # The emulator as scripts/demo.sh starts it (seed, tenant, mean gap: its defaults), without
    # the live events that arrive while the demo runs.
    emulator = Emulator(fast_config(initial_events=DEMO_EVENTS)).start()
    try:
        if engine == "duckdb":
            path = tmp / "warehouse.duckdb"
            env = meltano_env(tmp, emulator, {"TARGET_DUCKDB_FILEPATH": str(path)})
            meltano_run(env, "tap-auth0-events", "target-duckdb", "dbt-duckdb:run")

            def rows(sql: str) -> list[tuple[Any, ...]]:
                with duckdb.connect(str(path), read_only=True) as connection:
                    return connection.execute(sql).fetchall()

            yield Demo(engine, "auth0_events", rows)
            return
        connection = connect_or_skip()
        schema = f"auth0_readme_{secrets.token_hex(4)}"
        env = meltano_env(tmp, emulator, loader_environ(connection, schema))
        try:
            meltano_run(env, "tap-auth0-events", "target-postgres", "dbt-postgres:run")

            def pg_rows(sql: str) -> list[tuple[Any, ...]]:
                with connection.cursor() as cursor:
                    cursor.execute(sql)
                    return cursor.fetchall()

            yield Demo(engine, schema, pg_rows)
        finally:
            connection.rollback()
            connection.execute(f'drop schema if exists "{schema}" cascade')
            connection.commit()
            connection.close()
    finally:
        emulator.stop()


def test_the_section_has_the_queries_of_the_history_models() -> None:
    assert len(QUERIES) >= 8, f"README's {SECTION!r}: {len(QUERIES)} SQL blocks found"
    history = [sql for _, sql in QUERIES if re.search(r"auth0_events\.\w+_history\b|auth0_events\.daily_\w+", sql)]
    assert len(history) >= 4, "the analysts' questions over the history and daily models are in the README"


@pytest.mark.parametrize(("title", "sql"), QUERIES, ids=[f"{n + 1}" for n in range(len(QUERIES))])
def test_a_readme_query_runs_unchanged_and_returns_rows(demo: Demo, title: str, sql: str) -> None:
    statement = sql.rstrip().rstrip(";")
    if demo.engine == "postgres":
        statement = statement.replace("auth0_events.", f"{demo.schema}.")
    found = demo.rows(statement)
    assert found, f"{demo.engine}: README's query {title!r} returns no row on the demo's data:\n{sql}"
