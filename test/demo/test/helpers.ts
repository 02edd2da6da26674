// Runs the demo as a user does: `node scripts/demo.mjs` (what `npm run demo` execs after building) as
// a child in a process group of its own, as a terminal would start it, with a private .demo folder.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("../../..", import.meta.url));
const script = join(root, "scripts/demo.mjs");

export interface Demo {
  readonly child: ChildProcess;
  readonly dir: string;
  output(): string;
  /** Resolves once the output matches (polling, 60 s at most). */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  /** Resolves with the exit code. */
  exited(): Promise<number | null>;
}

/** A fresh folder for the demo's state, SQLite file and logs. */
export const demoDir = () => mkdtempSync(join(tmpdir(), "tokenkeep-demo-"));

export function startDemo(env: Record<string, string>, args: string[] = []): Demo {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(VITEST|TEST$|NODE_ENV$|TOKENKEEP_SECRET$)/.test(name)),
  );
  const dir = env.TOKENKEEP_DEMO_DIR ?? demoDir();
  const child = spawn(process.execPath, [script, ...args], {
    cwd: root,
    env: { ...clean, TOKENKEEP_DEMO_DIR: dir, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, whose id is its pid: what Ctrl-C in a terminal reaches
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    dir,
    output: () => output,
    exited: () => exit,
    async waitFor(pattern) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const match = pattern.exec(output);
        if (match) return match;
        if (child.exitCode !== null) throw new Error(`the demo exited (${child.exitCode}):\n${output}`);
        if (Date.now() > deadline) throw new Error(`the demo did not print ${pattern}:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}

/** Whether any process is left in the demo's process group. */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Kills whatever is left of a demo (after a failed test): never leave one running. */
export function killGroup(pid: number | undefined): void {
  if (pid !== undefined && groupAlive(pid)) process.kill(-pid, "SIGKILL");
}

/** Whether something accepts connections on the URL's port. */
export function listening(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Every http://127.0.0.1:<port> the demo printed. */
export const printedUrls = (output: string): string[] => [
  ...new Set([...output.matchAll(/http:\/\/127\.0\.0\.1:\d+/g)].map((match) => match[0])),
];

/** Waits until no process of the group is left (the demo's exit does not wait for a killed child). */
export async function groupGone(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}
