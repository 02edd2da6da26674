# shellcheck shell=bash
# Sourced by the service scripts: installs a Debian package when one of its commands is missing, or
# says in one sentence what to install when that is not possible here.

# tk_require_package PACKAGE COMMAND_PATH...: succeeds when any COMMAND_PATH exists (globs allowed).
tk_require_package() {
  local package=$1
  shift
  local candidate
  for candidate in "$@"; do
    # shellcheck disable=SC2086
    for found in $candidate; do [ -x "$found" ] && return 0; done
  done
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "tokenkeep: '$package' is needed for the tests but is not installed, and this machine has no apt-get: install $package with your system's package manager and run again." >&2
    exit 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "tokenkeep: '$package' is needed for the tests but is not installed: run 'sudo apt-get install $package' and run again." >&2
    exit 1
  fi
  echo "tokenkeep: installing Debian's $package (apt-get)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package") >/dev/null 2>&1 || {
    echo "tokenkeep: 'apt-get install $package' failed: install $package by hand and run again." >&2
    exit 1
  }
}

# Prints a free TCP port on 127.0.0.1.
tk_free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# A state folder for services of this checkout, outside the repo so service users (postgres) can enter it.
tk_service_dir() {
  local sum
  sum=$(printf '%s' "$TK_ROOT" | cksum | cut -d' ' -f1)
  echo "${TMPDIR:-/tmp}/tokenkeep-services-$sum/$1"
}

# tk_url_answers URL DEFAULT_PORT: succeeds when something accepts TCP connections at URL's host and port.
tk_url_answers() {
  node -e '
    const url = new URL(process.argv[1]);
    const host = url.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1";
    const socket = require("net").connect({ host, port: Number(url.port || process.argv[2]) });
    socket.setTimeout(3000, () => process.exit(1));
    socket.on("connect", () => process.exit(0)).on("error", () => process.exit(1));
  ' "$1" "$2"
}

# tk_url_for_humans URL: URL without its user name and password, for messages.
tk_url_for_humans() {
  node -e 'const u = new URL(process.argv[1]); u.username = ""; u.password = ""; console.log(u.href)' "$1"
}
