"""Runs dbt commands sent on stdin, in one process: the warehouse tests' way to call dbt often.

Started with the Python of a Meltano dbt plugin (`.meltano/transformers/dbt-duckdb/venv/bin/python
tests/dbt_driver.py`), it reads one JSON object per line, `{"env": {...}, "args": [...]}`, runs
`dbt <args>` in `transform/` with those environment variables through dbt's own programmatic
entry point (`dbtRunner`), and answers one JSON line, `{"success": bool, "error": str}`. The
project is parsed once per distinct `env` and the parsed manifest reused, which saves dbt's
~2 s of imports and ~1.5 s of parsing on every call. Not imported by the tests themselves.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from dbt.cli.main import dbtRunner

TRANSFORM = Path(__file__).resolve().parents[1] / "analytics"


def main() -> None:
    os.chdir(TRANSFORM)
    manifests: dict[str, Any] = {}
    base = dict(os.environ)
    for line in sys.stdin:
        request = json.loads(line)
        os.environ.clear()
        os.environ.update(base)
        os.environ.update(request["env"])
        key = json.dumps(request["env"], sort_keys=True)
        try:
            if key not in manifests:
                parsed = dbtRunner().invoke(["parse", "--quiet", *request.get("parse_args", [])])
                if not parsed.success:
                    raise RuntimeError(f"dbt parse failed: {parsed.exception}")
                manifests[key] = parsed.result
            result = dbtRunner(manifest=manifests[key]).invoke(request["args"])
            error = "" if result.success else f"{result.exception or ''} {_failures(result.result)}"
            answer = {"success": result.success, "error": error}
        except Exception:  # the test reads the traceback
            answer = {"success": False, "error": traceback.format_exc()}
        _release_duckdb()
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def _release_duckdb() -> None:
    """dbt-duckdb keeps its database open between invocations: close it, the loader needs the file."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # the PostgreSQL plugin
        return
    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        environment.close()
        DuckDBConnectionManager._ENV = None


def _failures(result: Any) -> str:
    messages = []
    for node in getattr(result, "results", None) or []:
        if str(getattr(node, "status", "")).lower() in ("error", "fail"):
            messages.append(f"{node.node.name}: {node.message}")
    return "; ".join(messages)


if __name__ == "__main__":
    main()
