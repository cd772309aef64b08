#!/usr/bin/env bash
# Installs (as root, from Debian) and starts the servers the full test suite uses:
# PostgreSQL + PostGIS, Redis and Chromium (and Node.js + npm, which install the browser tests' axe-core).
# Prints the variables the tests read.
# Without root and without the servers, it says so; the tests that need them then skip loudly
# (under CI=true they fail instead).
set -euo pipefail

REDIS_PORT="${ONEMAP_TEST_REDIS_PORT:-6390}"
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || need+=(postgis)
command -v chromium >/dev/null || need+=(chromium)
fc-list 2>/dev/null | grep -qi "wqy\|noto sans cjk" || need+=(fonts-wqy-zenhei)
command -v chromedriver >/dev/null || need+=(chromium-driver)
# Only when npm is missing: a Node.js from elsewhere (with its own npm) must not meet Debian's npm.
node_pkgs=()
command -v npm >/dev/null || { need+=(npm); node_pkgs=(nodejs npm); }

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "services: installing ${need[*]} from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends \
      redis-server postgresql postgresql-postgis chromium chromium-driver fonts-wqy-zenhei "${node_pkgs[@]}" >&2
  else
    echo "services: missing ${need[*]} and not root: tests needing them will SKIP (run as root to install)" >&2
  fi
fi

if command -v redis-server >/dev/null; then
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
      --logfile /tmp/onemap-redis.log >&2
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  echo "export ONEMAP_TEST_REDIS_URL=redis://127.0.0.1:${REDIS_PORT}/0"
fi

if command -v pg_lsclusters >/dev/null && [ "$(id -u)" = 0 ]; then
  read -r ver name port status _ < <(pg_lsclusters --no-header | head -n 1)
  if [ "$status" != online ]; then
    pg_ctlcluster "$ver" "$name" start >&2
  fi
  for _ in $(seq 100); do su postgres -c "psql -p $port -Atc 'select 1'" >/dev/null 2>&1 && break; sleep 0.1; done
  su postgres -c "psql -p $port -v ON_ERROR_STOP=1 -q" >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'onemap') THEN
    CREATE ROLE onemap LOGIN SUPERUSER PASSWORD 'onemap';
  END IF;
END \$\$;
SQL
  su postgres -c "psql -p $port -Atc \"select 1 from pg_database where datname='onemap_test'\"" | grep -q 1 \
    || su postgres -c "createdb -p $port -O onemap onemap_test" >&2
  su postgres -c "psql -p $port -d onemap_test -qc 'CREATE EXTENSION IF NOT EXISTS postgis'" >&2
  echo "export ONEMAP_TEST_DATABASE_URL=postgresql+psycopg://onemap:onemap@127.0.0.1:${port}/onemap_test"
fi

command -v chromium >/dev/null && echo "export ONEMAP_TEST_CHROMIUM=$(command -v chromium)"
exit 0
