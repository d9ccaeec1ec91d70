#!/usr/bin/env bash
# Set everything up and run the whole suite (ruff, then pytest). `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/postgres.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
pytest "$@"
