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
  tk_setup
  cd "$TK_ROOT"
  pnpm exec turbo run build --output-logs=errors-only >&2
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
