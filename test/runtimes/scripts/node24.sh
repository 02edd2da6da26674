#!/bin/sh
# Runs `node "$@"` on Node 24 or newer. This package's node_modules/.bin holds Node 22's `node` (the
# matrix's Node 22 row), and pnpm and turbo put that folder first on PATH, so plain `node` (and even
# $npm_node_execpath under turbo) would be Node 22 here. Takes the first `node` >= 24 on PATH outside
# any node_modules/.bin.
set -eu
IFS=:
for dir in $PATH; do
  case "$dir" in
  "" | .* | */node_modules/.bin) continue ;;
  esac
  if [ -x "$dir/node" ]; then
    major=$("$dir/node" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
    if [ "$major" -ge 24 ]; then exec "$dir/node" "$@"; fi
  fi
done
echo "runtime-tests: needs Node 24 or newer on PATH (outside node_modules/.bin); found none" >&2
exit 1
