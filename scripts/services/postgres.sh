#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests: 127.0.0.1 on a free port, its own data and socket
# folders, trust authentication for the `postgres` role, durability off (tests only).
#
#   eval "$(bash scripts/services/postgres.sh start)"   # exports TOKENKEEP_PG_URL
#   bash scripts/services/postgres.sh stop
#
# Installs Debian's postgresql when its server binaries are missing. Idempotent: a running cluster
# is reused.
set -euo pipefail
TK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/system.sh
. "$TK_ROOT/scripts/lib/system.sh"

dir=$(tk_service_dir postgres)
data="$dir/data"

pg_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$found" ] && [ -x "$found/initdb" ] && echo "$found"
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    local runuser
    runuser=$(command -v runuser || echo /usr/sbin/runuser)
    "$runuser" -u postgres -- "$@"
  else
    "$@"
  fi
}

case "${1:-}" in
start)
  tk_require_package postgresql "/usr/lib/postgresql/*/bin/initdb"
  bin=$(pg_bin) || { echo "tokenkeep: initdb not found after installing postgresql." >&2; exit 1; }
  if [ -f "$dir/port" ] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    echo "export TOKENKEEP_PG_URL=postgres://postgres@127.0.0.1:$(cat "$dir/port")/postgres"
    exit 0
  fi
  rm -rf "$dir"
  mkdir -p "$dir/socket"
  [ "$(id -u)" -eq 0 ] && chown -R postgres "$dir"
  as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    echo "tokenkeep: initdb failed (log above)." >&2
    exit 1
  }
  port=$(tk_free_port)
  as_owner "$bin/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 30 \
    -o "-h 127.0.0.1 -p $port -k $dir/socket -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || {
    cat "$dir/postgres.log" >&2
    echo "tokenkeep: PostgreSQL did not start (log above)." >&2
    exit 1
  }
  echo "$port" >"$dir/port"
  echo "export TOKENKEEP_PG_URL=postgres://postgres@127.0.0.1:$port/postgres"
  ;;
stop)
  bin=$(pg_bin) || exit 0
  [ -d "$data" ] && as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
