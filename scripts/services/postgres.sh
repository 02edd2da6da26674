#!/usr/bin/env bash
# A private PostgreSQL cluster for the tests: 127.0.0.1 on a free port, its own data and socket
# folders, trust authentication for the `postgres` role, durability off (tests only).
#
#   eval "$(bash scripts/services/postgres.sh start)"   # exports TOKENKEEP_PG_URL
#   bash scripts/services/postgres.sh stop
#
# Where the server comes from, in this order:
#   1. TOKENKEEP_PG_URL already set (a server of yours): it is used as it is, and never stopped here;
#   2. `initdb` and `pg_ctl` on PATH (Homebrew's postgresql@17, for example);
#   3. Debian's /usr/lib/postgresql/*/bin, installed with apt-get when missing.
# Idempotent: a running cluster is reused.
set -euo pipefail
TK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/system.sh
. "$TK_ROOT/scripts/lib/system.sh"

dir=$(tk_service_dir postgres)
data="$dir/data"

own_url() {
  [ -f "$dir/port" ] && echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/postgres"
}

# The folder of initdb and pg_ctl: PATH first (Homebrew and other installs), then Debian's layout.
pg_bin() {
  local found
  found=$(command -v initdb 2>/dev/null || true)
  if [ -n "$found" ] && [ -x "$(dirname "$found")/pg_ctl" ]; then
    dirname "$found"
    return 0
  fi
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
  if [ -n "${TOKENKEEP_PG_URL:-}" ] && [ "$TOKENKEEP_PG_URL" != "$(own_url || true)" ]; then
    shown=$(tk_url_for_humans "$TOKENKEEP_PG_URL")
    if ! tk_url_answers "$TOKENKEEP_PG_URL" 5432; then
      echo "tokenkeep: TOKENKEEP_PG_URL ($shown) does not answer: start that server, or unset TOKENKEEP_PG_URL to have a private one started here." >&2
      exit 1
    fi
    echo "tokenkeep: using the PostgreSQL server of TOKENKEEP_PG_URL ($shown); it is not started or stopped here." >&2
    printf 'export TOKENKEEP_PG_URL=%q\n' "$TOKENKEEP_PG_URL"
    exit 0
  fi
  bin=$(pg_bin) || {
    tk_require_package postgresql "/usr/lib/postgresql/*/bin/initdb"
    bin=$(pg_bin) || { echo "tokenkeep: initdb not found after installing postgresql." >&2; exit 1; }
  }
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
  # Only the private cluster of this checkout: a server named by TOKENKEEP_PG_URL is never stopped.
  bin=$(pg_bin) || exit 0
  [ -d "$data" ] && as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
