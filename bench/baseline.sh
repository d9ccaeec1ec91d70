#!/usr/bin/env bash
# The baseline benchmark, one command: `bash bench/baseline.sh [options of bench/baseline.py]`.
# Sets up .venv if missing, then runs bench/baseline.py. Needs GNU time (/usr/bin/time).
# Results: stdout, bench/results/baseline-latest.{md,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/tap-auth0-events ]; then
  bash scripts/setup.sh
fi
exec .venv/bin/python bench/baseline.py "$@"
