/**
 * A pat-server instance in a child process (`scripts/pat-server-child.mjs`): started, asked for its
 * memory figures, killed with any signal. Its stdout and stderr go to `<name>.log` in the run's output
 * folder, so the no-secret sweep reads what the server printed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { SigningJwk } from "@tokenkeep/pat-server";
import { logLine } from "./output";

const CHILD = fileURLToPath(new URL("../scripts/pat-server-child.mjs", import.meta.url));

/** Where the child keeps its records. */
export type ChildStore = { readonly pgUrl: string; readonly schema: string } | { readonly sqlite: string };

/** A running child pat-server. */
export interface PatServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited (with its signal, when killed). */
  readonly exited: Promise<NodeJS.Signals | number | null>;
  /** The child's `process.memoryUsage()` figures, in bytes. */
  memory(): Promise<{ rss: number; heapUsed: number }>;
  /** Sends `signal` and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Starts one instance and waits for its `listening on` line (rejects if it exits first). */
export async function startPatServerProcess(
  name: string,
  store: ChildStore,
  signingKeys: readonly SigningJwk[],
): Promise<PatServerProcess> {
  const child = spawn(process.execPath, ["--expose-gc", CHILD], {
    env: {
      PATH: process.env.PATH ?? "",
      PAT_CHILD_SIGNING_KEYS: JSON.stringify(signingKeys),
      ...("sqlite" in store
        ? { PAT_CHILD_SQLITE: store.sqlite }
        : { PAT_CHILD_PG_URL: store.pgUrl, PAT_CHILD_PG_SCHEMA: store.schema }),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on("exit", (code, signal) => resolve(signal ?? code)),
  );
  const lineWaiters = new Set<(line: string) => boolean>();
  const onLines = (stream: string) => (chunk: Buffer) => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line === "") continue;
      logLine(`${name}.log`, `${stream}: ${line}`);
      for (const waiter of lineWaiters) if (waiter(line)) lineWaiters.delete(waiter);
    }
  };
  child.stdout?.on("data", onLines("stdout"));
  child.stderr?.on("data", onLines("stderr"));
  const nextLine = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const waiter = (line: string) => {
        const match = pattern.exec(line);
        if (match) resolve(match);
        return match !== null;
      };
      lineWaiters.add(waiter);
      void exited.then((how) => {
        if (lineWaiters.delete(waiter))
          reject(new Error(`${name} exited (${String(how)}) before ${pattern}`));
      });
    });
  const url = (await nextLine(/^listening on (http:\/\/\S+)/))[1]!;
  return {
    url,
    child,
    exited,
    async memory() {
      const answer = nextLine(/^memory rss=(\d+) heapUsed=(\d+)/);
      child.kill("SIGUSR2");
      const match = await answer;
      return { rss: Number(match[1]), heapUsed: Number(match[2]) };
    },
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
