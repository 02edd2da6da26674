#!/usr/bin/env node
// `node:sqlite` loads without a flag from Node 22.13: say so rather than fail with a raw stack.
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(`tokenkeep-pat-server needs Node.js 22.13 or newer (this is ${process.version}).\n`);
  process.exit(1);
}
const { runCli } = await import("./node/run-cli");

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
