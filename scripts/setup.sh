#!/usr/bin/env bash
# Idempotent set-up on a fresh machine: a virtualenv in .venv with the tap, its dev tools,
# Meltano and Dagster, then the Meltano plugins of meltano.yml. Needs only python3 (>= 3.10)
# with venv.
#   bash scripts/setup.sh              the whole set-up, every time
#   bash scripts/setup.sh --if-stale   nothing when .venv was set up from the current pyproject.toml,
#                                      meltano.yml and this script (the stamp below), else the whole set-up
set -euo pipefail
cd "$(dirname "$0")/.."

# What the set-up was made from: the code itself is installed editable, so only these matter.
stamp=.venv/.setup-stamp
wanted=$(cat pyproject.toml meltano.yml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "${1:-}" = "--if-stale" ] && [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
  echo "setup: .venv is current (pyproject.toml, meltano.yml and scripts/setup.sh unchanged since the last set-up)"
  exit 0
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
rm -f "$stamp"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
# dev: tests and Meltano; orchestrate: Dagster, for tap_auth0_events_orchestrate (many tenants) and its test.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev,orchestrate]"
echo "setup: installing Meltano plugins"
PATH="$PWD/.venv/bin:$PATH" .venv/bin/meltano --log-level=warning install
# The pipeline's dbt project (analytics/) installs the models of transform/ as a package: link it
# into analytics/dbt_packages (a local package: no network). Both transformers share the link.
PATH="$PWD/.venv/bin:$PATH" .venv/bin/meltano --log-level=warning invoke dbt-duckdb deps --quiet
echo "$wanted" > "$stamp"
