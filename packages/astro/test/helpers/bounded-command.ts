/**
 * A command run for a test, bounded in time: in its own process group, so one still running after
 * its time is killed with everything it started (`astro add` runs pnpm), and the test fails with its
 * output instead of waiting on it.
 */
import { spawn } from "node:child_process";

/** How a command ended: its exit code (1 when it could not start or was killed) and its output. */
export interface CommandResult {
  readonly code: number;
  readonly output: string;
}

/** Options of {@link runBounded}. */
export interface RunBoundedOptions {
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** After this long the command's process group is killed and the result returned. */
  readonly timeoutMs: number;
}

/**
 * Runs `command`; resolves with its exit code and its stdout and stderr interleaved (it does not
 * throw). Past `timeoutMs` its process group is killed, and its output streams are closed: a process
 * it started outside that group (a daemon, a `setsid`) may hold them open for ever, and the result
 * must not wait for it. A group already gone by then is no error.
 */
export function runBounded(command: string, args: readonly string[], options: RunBoundedOptions) {
  return new Promise<CommandResult>((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true });
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk.toString("utf8");
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const timer = setTimeout(() => {
      const what = `${command} ${args.join(" ")}`;
      output +=
        child.exitCode === null
          ? `\n[${what}: still running after ${options.timeoutMs} ms, killed]`
          : `\n[${what}: exited, but its output was still held open after ${options.timeoutMs} ms]`;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // ESRCH: the group has ended; what holds the output open is outside it.
      }
      child.stdout.destroy();
      child.stderr.destroy();
    }, options.timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({ code: 1, output: `${output}${error.message}` });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output });
    });
  });
}
