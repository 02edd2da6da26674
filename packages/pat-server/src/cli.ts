#!/usr/bin/env node
import { runCli } from "./node/run-cli";

// A reader that stops early (`| head`) closes the pipe: end quietly instead of with a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(process.exitCode ?? 0);
});

const controller = new AbortController();
let signals = 0;
for (const name of ["SIGTERM", "SIGINT"] as const) {
  process.on(name, () => {
    signals += 1;
    if (signals > 1) process.exit(1);
    controller.abort();
  });
}

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  signal: controller.signal,
});
