// The closing "no secret anywhere" stage of scripts/test.sh: every secret the run's tests registered
// (test/reliability/src/secret-registry.ts) searched for in the run's logs, in clear, URL-encoded and
// base64 forms. One hit, or no secret registered at all (the search would prove nothing), fails.
// Usage: node scripts/secret-scan.mjs LOGFILE...
import { fileURLToPath } from "node:url";
import { scanWorkspace } from "../test/reliability/src/workspace-scan.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const result = scanWorkspace(root, process.argv.slice(2));
for (const leak of result.leaks) {
  console.error(`LEAK: a registered ${leak.label} appears (${leak.form}) in ${leak.where}`);
}
if (result.secrets === 0) {
  console.error(
    "no-secret scan: no test registered a secret (TOKENKEEP_TEST_SECRETS=1 unset?): it proves nothing",
  );
}
const clean = result.secrets > 0 && result.leaks.length === 0;
console.log(
  `no-secret scan of the run's logs (${result.secrets} secrets from ${result.packages} packages, ${result.logs} logs): ${clean ? "1 passed, 0 failed" : "0 passed, 1 failed"}`,
);
process.exitCode = clean ? 0 : 1;
