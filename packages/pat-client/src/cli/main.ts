#!/usr/bin/env node
/**
 * The `tokenkeep-pat` command (Node only). Everything is in `program.ts`; this file wires it to the
 * process.
 */
import { processTitle } from "./process-title";
import { runCli } from "./program";

// `ps` and /proc/<pid>/cmdline show the arguments, a `--token` among them, for as long as the command
// runs: on Linux this overwrites them with a copy whose PATs are hidden.
process.title = processTitle(process.argv.slice(2));

// A reader that stops early (`| head`) closes the pipe: end quietly instead of with a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(process.exitCode ?? 0);
});

const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
process.exitCode = code;
