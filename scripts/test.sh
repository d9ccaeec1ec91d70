#!/usr/bin/env bash
# The checks (ruff check and format, the layer contracts, mypy), then the tests.
#   bash scripts/test.sh           set everything up, then the whole suite; `.ci/run` calls exactly this
#   bash scripts/test.sh --quick   the fast lane: set up only if .venv is out of date, the checks, then
#                                  `pytest -m "not integration"` (no subprocess, database, Meltano, dbt
#                                  or Dagster); further arguments go to that pytest
#   bash scripts/test.sh ARGS...   set up only if .venv is out of date, the checks, then `pytest ARGS...`
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
if [ "${1:-}" = "--quick" ]; then
  quick=true
  shift
fi
if [ $# -eq 0 ] && ! $quick; then
  bash scripts/setup.sh
else
  bash scripts/setup.sh --if-stale
fi
$quick || bash scripts/postgres.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
ruff format --check .
lint-imports   # the layers: the engine never imports singer_sdk, no import cycle, the tap never
               # imports tap_auth0_events_orchestrate (pyproject.toml)
mypy           # strict on the engine modules and tap_auth0_events_orchestrate (pyproject.toml)
if $quick; then
  pytest -m "not integration" "$@"
else
  pytest "$@"
fi
