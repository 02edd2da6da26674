/**
 * Runs the scenarios on every runtime of the matrix and prints one row per runtime:
 *
 *   node scripts/run-matrix.ts [--only=deno,bun] [--inject-node-only]
 *
 * Starts the authorization server and the orchestrator on 127.0.0.1 (port 0), bundles the scenarios
 * with the built core and grants, runs every runtime at once, and exits non-zero on any failure.
 * `--inject-node-only` prepends a `Buffer` use to core's code inside the bundle (never the source),
 * to show which rows a Node-only change turns red.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { styleText } from "node:util";
import type { ScenarioResult } from "../src/harness.ts";
import { startAuthorizationServer } from "./authorization-server.ts";
import { bundleScenarios } from "./bundle.ts";
import { startOrchestrator } from "./orchestrator.ts";
import { type Row, rows, scratchDirectory } from "./runtimes.ts";

/** A runtime that has not reported by then is failed (whole matrix: a few seconds when healthy). */
const ROW_TIMEOUT_MS = 90_000;
/** How long a runtime that exited may still take to have its report arrive. */
const REPORT_GRACE_MS = 1_000;
const NODE_ONLY_PROBE = `const tokenkeepNodeOnlyProbe = Buffer.from("node-only").toString("base64");`;

interface RowOutcome {
  row: Row;
  version: string;
  results: ScenarioResult[];
  /** Why the row failed as a whole (crash, wrong runtime, timeout), if it did. */
  problem?: string;
}

const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  // The package's node_modules/.bin holds Node 22's `node`: scripts must be started with pnpm's Node.
  console.error(
    `run-matrix must run on Node 24 or newer, not ${process.version} (start it with scripts/node24.sh)`,
  );
  process.exit(2);
}

const args = process.argv.slice(2);
const only = args
  .find((arg) => arg.startsWith("--only="))
  ?.slice("--only=".length)
  .split(",");
const inject = args.includes("--inject-node-only");
const selected = only ? rows.filter((row) => only.includes(row.name)) : rows;
/** The scenario names (importing them also proves core's and grants' dist load under Node 24). */
async function scenarioNames(): Promise<string[]> {
  try {
    const { scenarios } = await import("../src/scenarios/index.ts");
    return Object.keys(scenarios);
  } catch (error) {
    console.error(
      "cannot load the scenarios: are core and grants built? " +
        `(pnpm --filter @tokenkeep/core --filter @tokenkeep/grants build)\n${String(error)}`,
    );
    process.exit(1);
  }
}
const names = await scenarioNames();

async function runRow(
  row: Row,
  origin: string,
  orchestrator: Awaited<ReturnType<typeof startOrchestrator>>,
  bundles: Awaited<ReturnType<typeof bundleScenarios>>,
  workdir: string,
): Promise<RowOutcome> {
  const version = await row.version().catch((error: unknown) => `unknown (${String(error)})`);
  let started: Awaited<ReturnType<Row["start"]>> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    started = await row.start(origin, bundles, workdir);
    const exited = started.exited.then(async (exit) => {
      await new Promise((resolve) => setTimeout(resolve, REPORT_GRACE_MS));
      return exit;
    });
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), ROW_TIMEOUT_MS);
    });
    const outcome = await Promise.race([orchestrator.report(row.name), exited, timeout]);
    if (outcome === "timeout")
      return { row, version, results: [], problem: `no report within ${ROW_TIMEOUT_MS} ms` };
    if ("results" in outcome) {
      if (!row.userAgent.test(outcome.userAgent)) {
        return { row, version, results: outcome.results, problem: `ran as "${outcome.userAgent}"` };
      }
      return { row, version, results: outcome.results };
    }
    return {
      row,
      version,
      results: [],
      problem: `exited (${outcome.code}) without a report: ${outcome.output.trim().split("\n").slice(-6).join(" | ")}`,
    };
  } catch (error) {
    return { row, version, results: [], problem: `could not start: ${String(error)}` };
  } finally {
    clearTimeout(timer);
    await started?.stop();
  }
}

function counts(outcome: RowOutcome): { passed: number; failed: number } {
  const passed = outcome.problem ? 0 : outcome.results.filter((result) => result.passed).length;
  return { passed, failed: names.length - passed };
}

function printTable(outcomes: RowOutcome[]): void {
  const header = ["runtime", "version", "scenarios"];
  const lines = outcomes.map((outcome) => {
    const { passed } = counts(outcome);
    return [outcome.row.name, outcome.version, `${passed}/${names.length}`];
  });
  const widths = header.map((title, column) =>
    Math.max(title.length, ...lines.map((line) => line[column]!.length)),
  );
  const format = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join("  ");
  console.log(format(header));
  console.log(widths.map((width) => "-".repeat(width)).join("  "));
  for (const [index, line] of lines.entries()) {
    const ok = counts(outcomes[index]!).failed === 0;
    console.log(ok ? format(line) : styleText("red", format(line)));
  }
}

function printFailures(outcomes: RowOutcome[]): void {
  for (const outcome of outcomes) {
    if (outcome.problem) console.log(`\n${outcome.row.name}: ${outcome.problem}`);
    const failed = outcome.results.filter((result) => !result.passed);
    const missing = outcome.problem
      ? []
      : names.filter((name) => !outcome.results.some((r) => r.name === name));
    if (failed.length === 0 && missing.length === 0) continue;
    if (!outcome.problem) console.log(`\n${outcome.row.name}:`);
    for (const result of failed) console.log(`  FAIL ${result.name}: ${result.error}`);
    for (const name of missing) console.log(`  FAIL ${name}: not reported`);
  }
}

const workdir = await scratchDirectory();
const authorizationServer = await startAuthorizationServer();
let exitCode = 1;
try {
  const bundles = await bundleScenarios(
    join(workdir, "bundles"),
    inject ? { injectIntoCore: NODE_ONLY_PROBE } : {},
  );
  const orchestrator = await startOrchestrator(authorizationServer, bundles.browser);
  try {
    if (inject) console.log("core's code in the bundles starts with a Buffer use (--inject-node-only)\n");
    const outcomes = await Promise.all(
      selected.map((row) => runRow(row, orchestrator.origin, orchestrator, bundles, workdir)),
    );
    printTable(outcomes);
    printFailures(outcomes);
    const passed = outcomes.reduce((sum, outcome) => sum + counts(outcome).passed, 0);
    const failed = outcomes.reduce((sum, outcome) => sum + counts(outcome).failed, 0);
    console.log(`\n${passed} passed, ${failed} failed`);
    exitCode = failed === 0 && selected.length > 0 ? 0 : 1;
  } finally {
    await orchestrator.close();
  }
} finally {
  await authorizationServer.close();
  await rm(workdir, { recursive: true, force: true });
}
process.exitCode = exitCode;
