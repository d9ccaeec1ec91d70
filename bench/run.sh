#!/usr/bin/env bash
# The benchmark, one command: `bash bench/run.sh [options of bench/run.py]`.
# Sets up .venv if missing, installs the Node peer (bench/node_modules, from package-lock.json)
# if missing, then runs bench/run.py. Results: stdout, bench/results/latest.{md,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/tap-auth0-events ]; then
  bash scripts/setup.sh
fi
if [ ! -d bench/node_modules/eventsource ]; then
  (cd bench && npm ci --no-audit --no-fund --loglevel=error)
fi
exec .venv/bin/python bench/run.py "$@"
