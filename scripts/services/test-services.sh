#!/usr/bin/env bash
# Checks the service scripts' choice of server, without starting a real one: a server named by
# TOKENKEEP_PG_URL / TOKENKEEP_REDIS_URL is used as it is (and never stopped), one that does not
# answer is an error, and PostgreSQL's initdb/pg_ctl are taken from PATH before Debian's layout.
# Run by scripts/test.sh; prints "ok"/"FAIL" lines and exits non-zero on a failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
scratch="$(mktemp -d)"
chmod 755 "$scratch"
listener_pid=""
cleanup() {
  [[ -n "$listener_pid" ]] && kill "$listener_pid" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

passed=0
failed=0
check() { # check NAME CONDITION...
  local name=$1
  shift
  if "$@"; then
    echo "ok   services: $name"
    passed=$((passed + 1))
  else
    echo "FAIL services: $name"
    failed=$((failed + 1))
  fi
}

# Something listening on 127.0.0.1, standing for "a server of yours".
node -e 'const s = require("net").createServer((c) => c.end()); s.listen(0, "127.0.0.1", () => { require("fs").writeFileSync(process.argv[1], String(s.address().port)); });' "$scratch/port" &
listener_pid=$!
for _ in $(seq 1 50); do [[ -s "$scratch/port" ]] && break; sleep 0.1; done
port="$(cat "$scratch/port")"

for service in postgres redis; do
  var=TOKENKEEP_PG_URL
  url="postgres://tk:hunter2@127.0.0.1:$port/db"
  if [[ $service == redis ]]; then
    var=TOKENKEEP_REDIS_URL
    url="redis://:hunter2@127.0.0.1:$port"
  fi
  # TMPDIR isolates postgres.sh's state folder from this checkout's real one.
  out="$(env "$var=$url" TMPDIR="$scratch" bash "$root/scripts/services/$service.sh" start 2>"$scratch/err")"
  check "$service: an existing server in $var is used as it is" [ "$out" = "export $var=$url" ]
  check "$service: says it is not started or stopped here" grep -q "not started or stopped here" "$scratch/err"
  check "$service: no password in its messages" bash -c "! grep -q hunter2 '$scratch/err'"
  # redis.sh keeps its own instance under the checkout: never stop a developer's running one here.
  if [[ $service == postgres || ! -d "$root/.tmp/services/redis" ]]; then
    env "$var=$url" TMPDIR="$scratch" bash "$root/scripts/services/$service.sh" stop 2>/dev/null
    check "$service: stop leaves that server running" kill -0 "$listener_pid"
  fi

  dead="${url/$port/1}"
  if env "$var=$dead" TMPDIR="$scratch" bash "$root/scripts/services/$service.sh" start >/dev/null 2>"$scratch/err"; then
    check "$service: a $var that does not answer is an error" false
  else
    check "$service: a $var that does not answer is an error" grep -q "does not answer" "$scratch/err"
  fi
done

# initdb and pg_ctl from PATH (as Homebrew installs them) come before Debian's /usr/lib/postgresql.
mkdir -p "$scratch/bin"
printf '#!/bin/sh\necho "initdb from PATH"\nexit 3\n' >"$scratch/bin/initdb"
printf '#!/bin/sh\nexit 3\n' >"$scratch/bin/pg_ctl"
chmod 755 "$scratch/bin" "$scratch/bin/initdb" "$scratch/bin/pg_ctl"
if env -u TOKENKEEP_PG_URL PATH="$scratch/bin:$PATH" TMPDIR="$scratch" bash "$root/scripts/services/postgres.sh" start >/dev/null 2>"$scratch/err"; then
  check "postgres: initdb is taken from PATH first" false
else
  check "postgres: initdb is taken from PATH first" grep -q "initdb from PATH" "$scratch/err"
fi

echo "services: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
