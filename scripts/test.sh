#!/usr/bin/env bash
# Set everything up and run the whole suite (ruff check and format, the layer contracts, mypy, then pytest).
# `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/postgres.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
ruff format --check .
lint-imports   # the layers: the engine never imports singer_sdk, no import cycle, the tap never
               # imports tap_auth0_events_orchestrate (pyproject.toml)
mypy           # strict on the engine modules and tap_auth0_events_orchestrate (pyproject.toml)
pytest "$@"
