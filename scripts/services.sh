#!/usr/bin/env bash
# Start PostgreSQL if it is installed but down, and create the test database.
# Without PostgreSQL the tests that need it are skipped with a reason, except in CI,
# where they must run (CI=true makes the suite fail instead of skipping).
set -uo pipefail
PGHOST=127.0.0.1
PGPORT=5432

pg_up() { (exec 3<>"/dev/tcp/$PGHOST/$PGPORT") 2>/dev/null; }

if ! pg_up && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  echo "== starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi

if pg_up; then
  if command -v psql >/dev/null 2>&1; then
    exists=$(psql -h "$PGHOST" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='sabai_test'" 2>/dev/null || true)
    if [ "$exists" != "1" ]; then
      psql -h "$PGHOST" -U postgres -qc "CREATE DATABASE sabai_test" \
        || echo "could not create database sabai_test: create it, or set SABAI_TEST_POSTGRES_URL" >&2
    fi
  fi
else
  echo "PostgreSQL is not running on $PGHOST:$PGPORT: its tests will be skipped (failed in CI)" >&2
fi

# Redis carries the send-rate budget shared by several sender processes.
redis_up() { (exec 3<>"/dev/tcp/127.0.0.1/6379") 2>/dev/null; }
if ! redis_up && command -v redis-server >/dev/null 2>&1; then
  echo "== starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
fi
redis_up || echo "Redis is not running on 127.0.0.1:6379: its tests will be skipped (failed in CI)" >&2
