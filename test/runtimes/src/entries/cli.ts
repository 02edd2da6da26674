/**
 * Entry for the command-line runtimes (Node 22, Node 24, Deno, Bun): `<runtime> cli.js <origin> <row>`.
 * The arguments come from `Deno.args` or `process.argv`, the only runtime-specific lines of the matrix.
 */
import { runMatrix } from "../run.ts";

interface ArgvHost {
  Deno?: { args: string[] };
  process?: { argv: string[] };
}

const host = globalThis as ArgvHost;
const args = host.Deno ? host.Deno.args : (host.process?.argv.slice(2) ?? []);
const [origin, runtime] = args;
if (!origin || !runtime) throw new Error("usage: cli.js <orchestrator origin> <runtime name>");
await runMatrix(origin, runtime);
