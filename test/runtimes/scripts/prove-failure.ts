/**
 * Proves, on every run, that the matrix can fail: runs it with a `Buffer` use injected into core's
 * bundled code (`--inject-node-only`, never the source) on the rows that have no Node globals
 * (workerd, Chromium), and succeeds only when each of those rows passes no scenario at all.
 *
 * Deno is not among them: Deno 2 defines `Buffer` and `process` as globals on purpose, so a `Buffer`
 * use runs there; scripts/check-bundles.ts catches it for every runtime instead.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const expectedRed = ["workerd", "chromium"];
const run = spawnSync(
  process.execPath,
  ["scripts/run-matrix.ts", `--only=${expectedRed.join(",")}`, "--inject-node-only"],
  { cwd: fileURLToPath(new URL("..", import.meta.url)), encoding: "utf8" },
);
const output = `${run.stdout}\n${run.stderr}`;
const problems: string[] = [];
if (run.status === 0) problems.push("the matrix exited 0 with a Node-only change in core");
for (const name of expectedRed) {
  const row = new RegExp(`^${name}\\s+\\S+\\s+(\\d+)/(\\d+)`, "m").exec(output);
  if (!row) problems.push(`no ${name} row in the matrix output`);
  else if (row[1] !== "0")
    problems.push(`${name} still passed ${row[1]}/${row[2]} scenarios with Buffer in core`);
}
if (problems.length > 0) {
  console.error(`${output}\nthe matrix did not fail as it must:\n- ${problems.join("\n- ")}`);
  process.exit(1);
}
console.log(
  `ok    a Buffer use in core turns the ${expectedRed.join(" and ")} rows red (0 scenarios passed)`,
);
