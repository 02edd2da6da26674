import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = join(here, "..", "..");

/**
 * Bundles `test/workers/<name>.ts` (and the package source it imports) into one ESM file under
 * `.tmp/workers`, so a plain `node` child process runs the current source without a build step.
 * Dependencies (`@tokenkeep/core`, `redis`...) stay imports, resolved from the package's node_modules.
 */
export async function bundleWorker(name: string): Promise<string> {
  const outdir = join(packageRoot, ".tmp", "workers");
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, `${name}-${process.pid}.mjs`);
  await build({
    entryPoints: [join(packageRoot, "test", "workers", `${name}.ts`)],
    outfile,
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node22",
    logLevel: "error",
  });
  return outfile;
}

/** A message from a worker: `{ type, ...fields }`. */
export type WorkerMessage = { type: string } & Record<string, unknown>;

/** A child process running a bundled worker, with typed request/answer messaging over IPC. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  send(message: WorkerMessage): void;
  /** The next message of `type` (messages are queued until someone asks for them). */
  next<T = WorkerMessage>(type: string): Promise<T>;
  /** Sends `message` and waits for the answer of type `answer`. */
  ask<T = WorkerMessage>(message: WorkerMessage, answer: string): Promise<T>;
  /** Resolves with the exit code (or signal) once the process ended. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
  kill(): void;
}

export function startWorker(file: string, env: Record<string, string> = {}): WorkerProcess {
  const child = fork(file, [], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv: [],
  });
  const inbox: WorkerMessage[] = [];
  const waiting: Array<{
    type: string;
    resolve: (message: WorkerMessage) => void;
    reject: (e: Error) => void;
  }> = [];
  child.on("message", (message: WorkerMessage) => {
    const index = waiting.findIndex((w) => w.type === message.type);
    if (index >= 0) waiting.splice(index, 1)[0]!.resolve(message);
    else inbox.push(message);
  });
  const exited = once(child, "exit").then(
    ([code, signal]) => (code ?? signal) as number | NodeJS.Signals | null,
  );
  void exited.then((result) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`worker ${child.pid} exited (${String(result)})`));
  });
  const next = <T>(type: string): Promise<T> => {
    const index = inbox.findIndex((m) => m.type === type);
    if (index >= 0) return Promise.resolve(inbox.splice(index, 1)[0] as T);
    if (child.exitCode !== null || child.signalCode !== null) {
      return Promise.reject(new Error(`worker ${child.pid} already exited`));
    }
    return new Promise<WorkerMessage>((resolve, reject) =>
      waiting.push({ type, resolve, reject }),
    ) as Promise<T>;
  };
  return {
    child,
    pid: child.pid!,
    send: (message) => child.send(message),
    next,
    ask(message, answer) {
      child.send(message);
      return next(answer);
    },
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}
