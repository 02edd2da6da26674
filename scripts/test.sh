#!/usr/bin/env bash
# The whole test suite: lint, typecheck, build, unit and integration tests (against private PostgreSQL
# and Redis instances started here), package checks, and the pack-and-import test. Called by
# scripts/run.sh with the toolchain on PATH; exits non-zero on the first failing stage.
set -euo pipefail
TK_ROOT=${TK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$TK_ROOT"

started=$(date +%s)
stage() { printf '\n==> %s (%ss)\n' "$1" "$(($(date +%s) - started))"; }

services=()
stop_services() {
  local service
  for service in "${services[@]}"; do bash "scripts/services/$service.sh" stop || true; done
}
trap stop_services EXIT

stage "services"
mkdir -p .tmp
# Before ours start: the scripts' choice of server (TOKENKEEP_*_URL, PATH, apt-get).
bash scripts/services/test-services.sh | tee .tmp/services.log
for service in postgres redis; do
  if [ -f "scripts/services/$service.sh" ]; then
    exports=$(bash "scripts/services/$service.sh" start) || exit 1
    eval "$exports"
    services+=("$service")
  fi
done
if [ -f test/runtimes/package.json ]; then
  # shellcheck source=lib/system.sh
  . scripts/lib/system.sh
  tk_require_package chromium /usr/bin/chromium
  export CHROMIUM_PATH=/usr/bin/chromium
fi

stage "lint, typecheck, build, test, package checks"
pnpm exec biome check scripts
mkdir -p .tmp
# Every secret a test registers goes to its package's test-secrets.jsonl (turbo keeps it as the
# test task's output, so a cached task brings back the secrets of its replayed log); the last stage
# searches the logs for them. Stale registries of earlier runs go first.
export TOKENKEEP_TEST_SECRETS=1
rm -f packages/*/test-secrets.jsonl examples/*/test-secrets.jsonl test/*/test-secrets.jsonl
# Full logs, also for tasks served from turbo's cache, so the closing count covers every test.
pnpm exec turbo run lint typecheck build test test:storm check:pkg --concurrency=2 --output-logs=full | tee .tmp/turbo.log

stage "npm run demo and npm run example, word for word, through npm and scripts/run.sh"
# After turbo's stage, not inside it: run.sh builds what the demo runs (cached by now), which would
# race other tasks' builds of the same dist/ folders there.
pnpm --filter @tokenkeep/demo-tests run test:npm 2>&1 | tee .tmp/demo-npm.log

stage "@tokenkeep/astro on Astro 6 (the latest 6.x and @astrojs/node 10.x from the registry)"
# After turbo's stage: it packs the built packages and installs a second Astro into a temp project.
pnpm --filter @tokenkeep/astro run test:astro6 2>&1 | tee .tmp/astro6.log

stage "pack every package and import it under plain Node"
node scripts/pack-smoke.mjs | tee .tmp/pack-smoke.log

stage "no secret in the run's output"
node scripts/secret-scan.mjs .tmp/services.log .tmp/turbo.log .tmp/demo-npm.log .tmp/astro6.log .tmp/pack-smoke.log | tee .tmp/secret-scan.log

stage "done"
node scripts/summarize.mjs .tmp/services.log .tmp/turbo.log .tmp/demo-npm.log .tmp/astro6.log .tmp/pack-smoke.log .tmp/secret-scan.log
