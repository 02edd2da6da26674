#!/usr/bin/env bash
# The entry point behind the README's commands (`npm run demo`, `npm test`, `npm run example -- <name>`). Works on a machine that
# has only Node.js 20+ with npm: it brings its own Node and pnpm when needed (see lib/toolchain.sh).
set -euo pipefail
TK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export TK_ROOT
# shellcheck source=lib/toolchain.sh
. "$TK_ROOT/scripts/lib/toolchain.sh"

command=${1:-}
shift || true
case "$command" in
demo)
  tk_setup demo
  cd "$TK_ROOT"
  # Only what the demo runs (the examples and the packages they use); turbo's cache makes a second
  # run's build take well under a second. Its log is shown only when it fails, so the demo prints one block.
  demo_dir=${TOKENKEEP_DEMO_DIR:-$TK_ROOT/.demo}
  mkdir -p "$demo_dir"
  # A demo already running: print its URLs before building anything (a build would replace the
  # running site's files under it).
  if [ "${1:-}" != --once ]; then
    node scripts/demo.mjs --check && exit 0
    [ $? -eq 3 ] || exit 1
  fi
  [ -d examples/astro-app/dist ] || tk_log "building the packages and the Astro site (the first time takes a few minutes)"
  filters=()
  for project in "${TK_DEMO_PROJECTS[@]}"; do filters+=("--filter=$project"); done
  if ! pnpm exec turbo run build --output-logs=errors-only "${filters[@]}" >"$demo_dir/build.log" 2>&1; then
    cat "$demo_dir/build.log" >&2
    tk_die "the build failed (output above)"
  fi
  exec node scripts/demo.mjs "$@"
  ;;
example)
  # One example, from a fresh clone: the toolchain, the dependencies, the build of the packages it
  # uses (the Astro site is built too), then its own `start`; the arguments after the name and the
  # environment (TOKEN_URL, AUTH_ISSUER, ...) go to it unchanged.
  name=${1:-}
  case "$name" in
  node-backend | pat-admin | astro-app) shift ;;
  *)
    echo "usage: npm run example -- node-backend|pat-admin|astro-app [arguments]" >&2
    exit 2
    ;;
  esac
  tk_setup demo
  cd "$TK_ROOT"
  project="@tokenkeep/example-$name"
  filter="--filter=$project^..."
  [ "$name" = astro-app ] && filter="--filter=$project..."
  log_dir=${TOKENKEEP_DEMO_DIR:-$TK_ROOT/.demo}
  mkdir -p "$log_dir"
  if ! pnpm exec turbo run build --output-logs=errors-only "$filter" >"$log_dir/example-build.log" 2>&1; then
    cat "$log_dir/example-build.log" >&2
    tk_die "the build failed (output above)"
  fi
  exec pnpm --silent --filter "$project" start "$@"
  ;;
test)
  tk_setup
  exec bash "$TK_ROOT/scripts/test.sh" "$@"
  ;;
*)
  echo "usage: scripts/run.sh demo|test|example <name>" >&2
  exit 2
  ;;
esac
