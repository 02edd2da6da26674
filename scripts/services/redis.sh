#!/usr/bin/env bash
# A private Redis for tokenkeep's tests: 127.0.0.1 only, a free port, no persistence, its own
# directory under <repo>/.tmp/services/redis.
#
#   eval "$(bash scripts/services/redis.sh start)"   # prints: export TOKENKEEP_REDIS_URL=redis://127.0.0.1:PORT
#   bash scripts/services/redis.sh status             # prints the export line when running, exit 1 otherwise
#   bash scripts/services/redis.sh stop
#
# Where the server comes from, in this order:
#   1. TOKENKEEP_REDIS_URL already set (a server of yours): it is used as it is, and never stopped here;
#   2. `redis-server` and `redis-cli` on PATH (Homebrew's redis, for example);
#   3. Debian's redis-server, installed with apt-get.
# `start` reuses an instance of its own that is already running (idempotent). Only the export line goes
# to stdout; progress goes to stderr.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../lib/system.sh
. "$root/scripts/lib/system.sh"
dir="$root/.tmp/services/redis"
pidfile="$dir/redis.pid"
portfile="$dir/port"
logfile="$dir/redis.log"

say() { printf 'redis.sh: %s\n' "$*" >&2; }

# The port of the running instance, or nothing (exit 1) when none answers.
running_port() {
  [[ -f "$portfile" && -f "$pidfile" ]] || return 1
  local port pid
  port="$(cat "$portfile")"
  pid="$(cat "$pidfile")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == "PONG" ]] || return 1
  printf '%s' "$port"
}

print_export() { printf 'export TOKENKEEP_REDIS_URL=redis://127.0.0.1:%s\n' "$1"; }

ensure_installed() {
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    return 0
  fi
  if ! command -v apt-get >/dev/null || [[ "$(id -u)" != "0" ]]; then
    echo "redis.sh: redis-server is not installed; install it (Debian/Ubuntu: 'sudo apt-get install redis-server', or any Redis >= 6.2 providing redis-server and redis-cli on PATH) and run this again." >&2
    exit 1
  fi
  say "installing redis-server with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -q >&2
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends redis-server >&2
  # Debian's package may start a system-wide instance on 6379; ours never uses it.
}

free_port_candidate() {
  local port
  for _ in $(seq 1 50); do
    port=$(((RANDOM << 15 | RANDOM) % 30000 + 20000))
    # A successful connect means something listens there already.
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      printf '%s' "$port"
      return 0
    fi
  done
  return 1
}

# The URL of this checkout's own instance, when it has one.
own_url() {
  [[ -f "$portfile" ]] && printf 'redis://127.0.0.1:%s' "$(cat "$portfile")"
}

start() {
  if [[ -n "${TOKENKEEP_REDIS_URL:-}" && "$TOKENKEEP_REDIS_URL" != "$(own_url || true)" ]]; then
    local shown
    shown="$(tk_url_for_humans "$TOKENKEEP_REDIS_URL")"
    if ! tk_url_answers "$TOKENKEEP_REDIS_URL" 6379; then
      say "TOKENKEEP_REDIS_URL ($shown) does not answer: start that server, or unset TOKENKEEP_REDIS_URL to have a private one started here."
      exit 1
    fi
    say "using the Redis server of TOKENKEEP_REDIS_URL ($shown); it is not started or stopped here."
    printf 'export TOKENKEEP_REDIS_URL=%q\n' "$TOKENKEEP_REDIS_URL"
    return 0
  fi
  ensure_installed
  mkdir -p "$dir"
  exec 9>"$dir/lock"
  flock 9
  local port
  if port="$(running_port)"; then
    print_export "$port"
    return 0
  fi
  rm -f "$pidfile" "$portfile"
  for _ in 1 2 3 4 5; do
    port="$(free_port_candidate)" || break
    : >"$logfile"
    redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes \
      --save "" --appendonly no --dir "$dir" \
      --daemonize yes --pidfile "$pidfile" --logfile "$logfile" \
      </dev/null >/dev/null 2>&1 9>&- || true
    # Wait until it answers (about 5 s), or until it gave up (port taken meanwhile).
    for _ in $(seq 1 50); do
      if [[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == "PONG" ]]; then
        printf '%s' "$port" >"$portfile"
        if running_port >/dev/null; then
          say "redis-server running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
          print_export "$port"
          return 0
        fi
      fi
      if grep -q -E 'Address already in use|Could not create server TCP' "$logfile" 2>/dev/null; then
        break
      fi
      sleep 0.1
    done
    say "could not start on port $port; trying another"
    stop_instance "$port"
  done
  say "redis-server did not start; see $logfile"
  exit 1
}

stop_instance() {
  local port="${1:-}" pid=""
  [[ -f "$pidfile" ]] && pid="$(cat "$pidfile")"
  if [[ -n "$port" ]]; then
    redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
  fi
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile" "$portfile"
}

# Only this checkout's own instance: a server named by TOKENKEEP_REDIS_URL is never stopped.
stop() {
  [[ -d "$dir" ]] || return 0
  exec 9>"$dir/lock"
  flock 9
  local port=""
  [[ -f "$portfile" ]] && port="$(cat "$portfile")"
  stop_instance "$port"
  say "stopped"
}

status() {
  local port
  if port="$(running_port)"; then
    print_export "$port"
  else
    say "not running"
    exit 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: bash scripts/services/redis.sh start|stop|status" >&2
    exit 2
    ;;
esac
