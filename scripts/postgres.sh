#!/usr/bin/env bash
# Make sure the PostgreSQL server on 127.0.0.1:5432 is up (the PostgreSQL tests need it).
# In CI (CI=true) a server that cannot be started is a failure; elsewhere those tests skip.
set -uo pipefail

host=${PGHOST:-127.0.0.1}
port=${PGPORT:-5432}
ready() { pg_isready -q -h "$host" -p "$port" 2>/dev/null || (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; }

if ready; then
  exit 0
fi
if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null; then
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>&1 | sed 's/^/postgres: /' || true
  done
  for _ in $(seq 1 30); do
    ready && { echo "postgres: started on $host:$port"; exit 0; }
    sleep 1
  done
fi
if [ "${CI:-}" = "true" ]; then
  echo "postgres: no server on $host:$port and it could not be started; CI needs it" >&2
  exit 1
fi
echo "postgres: no server on $host:$port; the PostgreSQL tests will be skipped" >&2
exit 0
