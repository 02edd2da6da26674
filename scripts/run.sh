#!/usr/bin/env bash
# The entry point behind the README's two commands (`npm run demo`, `npm test`). Works on a machine that
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
test)
  tk_setup
  exec bash "$TK_ROOT/scripts/test.sh" "$@"
  ;;
*)
  echo "usage: scripts/run.sh demo|test" >&2
  exit 2
  ;;
esac
