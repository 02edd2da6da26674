#!/usr/bin/env node
/**
 * The `tokenkeep-pat` command (Node only). Everything is in `program.ts`; this file wires it to the
 * process.
 */
import { processTitle } from "./process-title";
import { runCli } from "./program";

// `ps` and /proc/<pid>/cmdline show the arguments, a `--token` among them, for as long as the command
// runs: on Linux this overwrites them with a copy whose PATs are hidden. (Elsewhere the title does not
// reach the arguments `ps` shows, and on Windows it would rename the console window.)
if (process.platform === "linux") process.title = processTitle(process.argv.slice(2));

/** Set while a new token is written: its failure is reported by `issue` itself (exit code 1). */
let delivering = false;

// A reader that stops early (`| head`) closes the pipe: end quietly instead of with a stack trace,
// unless what could not be written is a new token, which would then be lost without a word.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  if (!delivering) process.exit(process.exitCode ?? 0);
});

// A reader of stderr that has gone (`2>&1 | head`, a closed log pipe) must not turn the command's exit
// code into a crash's: what stderr would have said is lost, the command goes on (`issue` still
// delivers its token on stdout) and ends with its own code.
process.stderr.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
});

const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  deliver: (text) => {
    delivering = true;
    return new Promise((resolve, reject) => {
      process.stdout.write(text, (error) => (error ? reject(error) : resolve()));
    });
  },
});
process.exitCode = code;
