# shellcheck shell=bash
# Sourced by scripts/run.sh. Makes sure a Node >= 22.23.4 and the pinned pnpm are first on PATH and the
# workspace's dependencies are installed from the frozen lockfile. Idempotent: a second call only checks.
#
# A machine whose Node is older than 22.23.4 (or has none) gets Node and pnpm from the npm registry, in
# .tools/ inside the repository (ignored by git). Nothing is installed globally; corepack is not used.

TK_NODE_VERSION="24.21.0"
TK_PNPM_VERSION="10.34.9"

tk_die() {
  echo "tokenkeep: $*" >&2
  exit 1
}

tk_log() {
  echo "tokenkeep: $*" >&2
}

# The oldest Node the workspace runs on: Astro 7.4 (@tokenkeep/astro's tests and fixtures) needs 22.23.4.
TK_NODE_MIN="22.23.4"

# 0 when the node binary given is >= $TK_NODE_MIN (major, minor and patch compared as numbers).
tk_node_is_recent() {
  local version
  version=$("$1" -p 'process.versions.node' 2>/dev/null) || return 1
  local major minor patch want_major want_minor want_patch
  IFS=. read -r major minor patch <<<"$version"
  IFS=. read -r want_major want_minor want_patch <<<"$TK_NODE_MIN"
  [ "$major" -ne "$want_major" ] && { [ "$major" -gt "$want_major" ]; return; }
  [ "$minor" -ne "$want_minor" ] && { [ "$minor" -gt "$want_minor" ]; return; }
  [ "${patch%%[!0-9]*}" -ge "$want_patch" ]
}

tk_ensure_toolchain() {
  local tools="$TK_ROOT/.tools"
  local stamp="$tools/.installed-node-$TK_NODE_VERSION-pnpm-$TK_PNPM_VERSION"
  local want_node=1 current
  current=$(command -v node 2>/dev/null || true)
  # A recent Node outside .tools/ will do; one inside .tools/ would be deleted by the reinstall below.
  if [ -n "$current" ] && [ "${current#"$tools"/}" = "$current" ] && tk_node_is_recent "$current"; then
    want_node=0
  fi
  if [ -f "$stamp" ] && [ -x "$tools/bin/pnpm" ]; then
    export PATH="$tools/bin:$PATH"
    return 0
  fi
  command -v npm >/dev/null 2>&1 ||
    tk_die "npm was not found: install Node.js 20 or newer with npm (https://nodejs.org), then run this again."
  local packages=("pnpm@$TK_PNPM_VERSION")
  if [ "$want_node" -eq 1 ]; then
    packages=("node@$TK_NODE_VERSION" "${packages[@]}")
    tk_log "Node $(node --version 2>/dev/null || echo '(none)') is older than $TK_NODE_MIN: installing Node $TK_NODE_VERSION and pnpm $TK_PNPM_VERSION into .tools/"
  else
    tk_log "installing pnpm $TK_PNPM_VERSION into .tools/"
  fi
  rm -rf "$tools"
  mkdir -p "$tools"
  if ! NPM_CONFIG_PREFIX="$tools" npm install --global --prefix "$tools" --no-fund --no-audit \
    --loglevel=error "${packages[@]}" >"$tools/install.log" 2>&1; then
    cat "$tools/install.log" >&2
    tk_die "could not install ${packages[*]} from the npm registry (log above)."
  fi
  export PATH="$tools/bin:$PATH"
  tk_node_is_recent "$(command -v node)" || tk_die "the Node installed into .tools/ does not run on this machine."
  touch "$stamp"
}

# `tk_ensure_dependencies` installs every workspace project (what `npm test` needs);
# `tk_ensure_dependencies demo` only the projects `npm run demo` builds and runs (the examples, the
# packages they use, and the root's build tools), so a first demo skips the test-only runtimes
# (Deno, Bun, workerd, Playwright). A full install satisfies both; a later full one completes a demo one.
# The stamp of a demo install names the lockfile's checksum and the project list's: a clone installed
# for a shorter list (before the PAT admin example joined it) installs again, once.
# The projects the demo runs, with their dependencies (`...`): what `npm run demo` installs and builds;
# and the PAT admin example, which `npm run example` also runs (it adds no package the others lack).
TK_DEMO_PROJECTS=("@tokenkeep/example-astro-app..." "@tokenkeep/example-node-backend..."
  "@tokenkeep/example-local-servers...")
TK_EXAMPLE_PROJECTS=("${TK_DEMO_PROJECTS[@]}" "@tokenkeep/example-pat-admin...")

tk_ensure_dependencies() {
  local scope=${1:-all}
  local lock="$TK_ROOT/pnpm-lock.yaml" sum filters=() project
  sum=$(cksum <"$lock" | cut -d' ' -f1)
  local stamp="$TK_ROOT/node_modules/.tokenkeep-lock-$sum"
  [ -f "$stamp" ] && return 0
  if [ "$scope" = demo ]; then
    # The root project too: its devDependencies are the build tools (turbo, tsup, TypeScript).
    for project in tokenkeep-workspace "${TK_EXAMPLE_PROJECTS[@]}"; do filters+=(--filter "$project"); done
    stamp="$stamp-demo-$(printf '%s\n' "${filters[@]}" | cksum | cut -d' ' -f1)"
    [ -f "$stamp" ] && return 0
  fi
  tk_log "installing dependencies (pnpm install --frozen-lockfile${filters:+ for the demo})"
  (cd "$TK_ROOT" && pnpm install --frozen-lockfile ${filters[@]+"${filters[@]}"} --reporter=append-only) >&2 ||
    tk_die "pnpm install failed (output above)."
  rm -f "$TK_ROOT"/node_modules/.tokenkeep-lock-*
  touch "$stamp"
}

# `tk_setup` for `npm test`, `tk_setup demo` for `npm run demo` (see tk_ensure_dependencies).
tk_setup() {
  export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 ASTRO_TELEMETRY_DISABLED=1
  tk_ensure_toolchain
  tk_ensure_dependencies "${1:-all}"
}
