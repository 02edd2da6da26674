/**
 * The time bound of the commands the `astro add` test runs (helpers/bounded-command.ts): it must
 * hold whatever the command leaves behind.
 */
import { describe, expect, it, onTestFinished } from "vitest";
import { runBounded } from "./helpers/bounded-command.js";

/** A script that starts `code` in a process group of its own, holding this process's output, then prints its pid. */
const leaving = (code: string) =>
  `const { spawn } = require("node:child_process");
   const held = spawn(process.execPath, ["-e", ${JSON.stringify(code)}], { detached: true, stdio: ["ignore", "inherit", "inherit"] });
   held.unref();
   console.log("held " + held.pid);`;

/** Kills the process a {@link leaving} script printed, when the test ends. */
const killHeld = (output: string) => {
  const pid = Number(/held (\d+)/.exec(output)?.[1]);
  onTestFinished(() => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  });
  return pid;
};

describe("runBounded", () => {
  it("answers within its bound when the command exited but a process outside its group holds its output", async () => {
    const started = performance.now();
    const result = await runBounded(process.execPath, ["-e", leaving("setTimeout(() => {}, 20_000)")], {
      cwd: process.cwd(),
      timeoutMs: 1_000,
    });
    expect(killHeld(result.output)).toBeGreaterThan(0);
    // Well before the held process ends (20 s), and no uncaught ESRCH from killing a group already gone.
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(result).toMatchObject({ code: 0 });
    expect(result.output).toMatch(/exited, but its output was still held open after 1000 ms/);
  }, 15_000);

  it("kills a command still running with its group, and says so", async () => {
    const result = await runBounded(process.execPath, ["-e", "setTimeout(() => {}, 20_000)"], {
      cwd: process.cwd(),
      timeoutMs: 300,
    });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/still running after 300 ms, killed\]$/);
  }, 10_000);
});
