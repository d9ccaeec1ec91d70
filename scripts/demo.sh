#!/usr/bin/env bash
# The main job: set up, run `meltano run tap-auth0-events target-duckdb dbt-duckdb:run` (a first
# run reads a baseline of the tenant, then its events), print a SQL summary of the raw events, the
# baseline and the current-state models.
# With no credentials in the environment it reads the bundled Events API emulator; with
# TAP_AUTH0_EVENTS_DOMAIN plus TAP_AUTH0_EVENTS_API_TOKEN (or _CLIENT_ID and _CLIENT_SECRET)
# it reads that tenant. TARGET_DUCKDB_FILEPATH moves the warehouse (default
# output/warehouse.duckdb); DEMO_EVENTS sizes the emulator's history, DEMO_USERS_BEFORE,
# DEMO_ORGANIZATIONS_BEFORE and DEMO_GROUPS_BEFORE its world before the log; DEMO_EMULATOR_ARGS adds
# emulator options (e.g. "--max-connections 1 --bare-share 0.5", see tap-auth0-events-emulator --help).
set -euo pipefail
cd "$(dirname "$0")/.."

# The test suite sets DEMO_SKIP_SETUP=1: it has just run setup, and reinstalling the tap under
# tests that are running it would pull the executable from under them.
if [ -z "${DEMO_SKIP_SETUP:-}" ]; then
  bash scripts/setup.sh
fi
export PATH="$PWD/.venv/bin:$PATH"
mkdir -p output

if [ -z "${TAP_AUTH0_EVENTS_API_TOKEN:-}${TAP_AUTH0_EVENTS_CLIENT_ID:-}" ]; then
  port_file=$(mktemp)
  # shellcheck disable=SC2086 # DEMO_EMULATOR_ARGS is a list of options, split on purpose
  # A tenant with a past: users, organizations and groups from before its first event, which the
  # tap's baseline reads from the emulator's Management API (its token is granted the read scopes).
  tap-auth0-events-emulator --port 0 --events "${DEMO_EVENTS:-5000}" --live-rate 2 --port-file "$port_file" \
    --users-before "${DEMO_USERS_BEFORE:-200}" --organizations-before "${DEMO_ORGANIZATIONS_BEFORE:-12}" \
    --groups-before "${DEMO_GROUPS_BEFORE:-4}" --grant-read-scopes ${DEMO_EMULATOR_ARGS:-} &
  emulator_pid=$!
  trap 'kill $emulator_pid 2>/dev/null || true; rm -f "$port_file"' EXIT
  for _ in $(seq 1 100); do [ -s "$port_file" ] && break; sleep 0.1; done
  export TAP_AUTH0_EVENTS_API_URL="http://127.0.0.1:$(cat "$port_file")"
  export TAP_AUTH0_EVENTS_DOMAIN="acme-demo.us.auth0.com"
  export TAP_AUTH0_EVENTS_API_TOKEN="emulator-token"
  export TAP_AUTH0_EVENTS_START_DATE="${TAP_AUTH0_EVENTS_START_DATE:-2000-01-01T00:00:00Z}"
  echo "demo: no Auth0 credentials given, reading the emulator at $TAP_AUTH0_EVENTS_API_URL"
  # A fresh emulator has fresh offsets: start from scratch rather than from a stored position.
  rm -f "${TARGET_DUCKDB_FILEPATH:-output/warehouse.duckdb}"
  run_flags=(--full-refresh)
else
  echo "demo: reading the tenant ${TAP_AUTH0_EVENTS_DOMAIN:-(api_url)}"
  run_flags=()
fi

# Load the new events, then bring the current-state models up to date (the package in transform/,
# run from the pipeline's dbt project, analytics/).
meltano run "${run_flags[@]}" tap-auth0-events target-duckdb dbt-duckdb:run
python scripts/summary.py "${TARGET_DUCKDB_FILEPATH:-output/warehouse.duckdb}"
