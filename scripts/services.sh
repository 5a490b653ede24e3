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

# Kannel, the SMS gateway residents without Telegram reach Sabai through: Debian's packages
# (bearerbox, smsbox; kannel-extras has the fake SMS centre `fakesmsc` the tests talk through).
# The end-to-end SMS test starts its own bearerbox + smsbox on free ports from
# scripts/kannel/sabai-fake.conf.in; the instance started here, on Kannel's usual ports, is for
# trying SMS by hand (see README, "SMS through Kannel").
if [ ! -x /usr/sbin/bearerbox ] || [ ! -x /usr/lib/kannel/test/fakesmsc ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Kannel"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kannel kannel-extras) \
      >/dev/null || echo "could not install kannel: the SMS gateway tests will be skipped (failed in CI)" >&2
  else
    echo "Kannel is not installed (apt-get install kannel kannel-extras as root): its tests will be skipped (failed in CI)" >&2
  fi
fi

kannel_up() { (exec 3<>"/dev/tcp/127.0.0.1/13013") 2>/dev/null; }
if [ -x /usr/sbin/bearerbox ] && ! kannel_up; then
  echo "== starting Kannel (fake SMSC on 10000, sendsms on 13013)"
  dir="${SABAI_KANNEL_DIR:-$PWD/var/kannel}"
  mkdir -p "$dir"
  sed -e "s|@ADMIN_PORT@|13000|; s|@ADMIN_PASSWORD@|sabai-admin|; s|@SMSBOX_PORT@|13001|" \
      -e "s|@FAKE_PORT@|10000|; s|@SENDSMS_PORT@|13013|; s|@SENDER@|1234|" \
      -e "s|@PASSWORD@|${SABAI_SMS_PASSWORD:-sabai-dev}|; s|@SABAI@|127.0.0.1:8090|" \
      -e "s|@SECRET@|${SABAI_SMS_SECRET:-sabai-dev-secret-0000}|; s|@DIR@|$dir|" \
      scripts/kannel/sabai-fake.conf.in > "$dir/kannel.conf"
  (setsid /usr/sbin/bearerbox "$dir/kannel.conf" >/dev/null 2>&1 &)
  sleep 1
  (setsid /usr/sbin/smsbox "$dir/kannel.conf" >/dev/null 2>&1 &)
  for _ in $(seq 1 20); do kannel_up && break; sleep 0.5; done
  kannel_up || echo "Kannel did not start: see $dir/bearerbox.log" >&2
fi
