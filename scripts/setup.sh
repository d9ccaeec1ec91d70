#!/usr/bin/env bash
# Idempotent set-up on a fresh machine: a virtualenv in .venv with the tap, its dev tools,
# Meltano and Dagster, then the Meltano plugins of meltano.yml. Needs only python3 (>= 3.10)
# with venv.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
# dev: tests and Meltano; orchestrate: Dagster, for orchestrate/ (many tenants) and its test.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev,orchestrate]"
echo "setup: installing Meltano plugins"
PATH="$PWD/.venv/bin:$PATH" .venv/bin/meltano --log-level=warning install
# The pipeline's dbt project (analytics/) installs the models of transform/ as a package: link it
# into analytics/dbt_packages (a local package: no network). Both transformers share the link.
PATH="$PWD/.venv/bin:$PATH" .venv/bin/meltano --log-level=warning invoke dbt-duckdb deps --quiet
