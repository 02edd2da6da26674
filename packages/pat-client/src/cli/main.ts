#!/usr/bin/env node
/**
 * The `tokenkeep-pat` command (Node only). Everything is in `program.ts`; this file wires it to the
 * process.
 */
import { runCli } from "./program";

const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
process.exitCode = code;
