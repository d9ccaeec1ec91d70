#!/usr/bin/env bash
# The pipeline benchmark, one command: `bash bench/pipeline.sh [options of bench/pipeline.py]`.
# Sets up .venv and the Meltano plugins if missing, installs the peer (dlt, into bench/.venv-dlt)
# if missing, then runs bench/pipeline.py. Needs PostgreSQL on 127.0.0.1:5432 (PGHOST, PGPORT,
# PGUSER, PGPASSWORD, PGDATABASE; default database `test`) and GNU time. Results: stdout,
# bench/results/pipeline-latest.{md,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/tap-auth0-events ] || [ ! -d .meltano/transformers/dbt-postgres ]; then
  bash scripts/setup.sh
fi
if [ ! -x bench/.venv-dlt/bin/python ]; then
  python3 -m venv bench/.venv-dlt
  bench/.venv-dlt/bin/python -m pip install --quiet --disable-pip-version-check "dlt[duckdb,postgres]~=1.31" "duckdb~=2.0.0"
fi
exec .venv/bin/python bench/pipeline.py "$@"
