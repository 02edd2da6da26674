import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { connect, createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { build } from "astro";

/** The root folder of a fixture site. */
export function fixtureRoot(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}/`, import.meta.url));
}

/** Builds a fixture site with Astro's programmatic build() (the `site` fixture once per run: global-setup.ts). */
export async function buildFixture(name: string, logLevel: "error" | "silent" = "error"): Promise<string> {
  const root = fixtureRoot(name);
  process.env.ASTRO_TELEMETRY_DISABLED = "1";
  await build({ root, logLevel });
  return root;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function cleanEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(VITEST|TEST$|NODE_OPTIONS$|NODE_ENV$|MODE$|PROD$|DEV$|SSR$|BASE_URL$)/.test(name),
    ),
  );
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A built site served by its standalone entry (`node dist/server/entry.mjs`). */
export interface RunningSite {
  readonly url: string;
  readonly output: () => string;
  close(): Promise<void>;
}

/**
 * Starts `dist/server/entry.mjs` of a built fixture on 127.0.0.1 with `env` (or `script`, a file of the
 * fixture that serves the built handler itself: @astrojs/node's middleware mode).
 */
export async function serveBuilt(
  root: string,
  env: Record<string, string>,
  script = "dist/server/entry.mjs",
): Promise<RunningSite> {
  const port = await freePort();
  return start(root, [script], port, { HOST: "127.0.0.1", PORT: String(port), ...env });
}

/**
 * Runs `astro dev` on a fixture (the CLI, in the foreground: ASTRO_DEV_BACKGROUND set, since Astro
 * detaches the dev server when it detects a coding agent), on 127.0.0.1 with `env`.
 */
export async function serveDev(root: string, env: Record<string, string>): Promise<RunningSite> {
  const port = await freePort();
  const astro = createRequire(import.meta.url)
    .resolve("astro/package.json")
    .replace(/package\.json$/, "bin/astro.mjs");
  // The dev server accepts connections before its routes are loaded: wait for its ready line.
  return start(
    root,
    [astro, "dev", "--host", "127.0.0.1", "--port", String(port), "--force"],
    port,
    { ASTRO_DEV_BACKGROUND: "0", ASTRO_TELEMETRY_DISABLED: "1", ...env },
    "watching for file changes",
  );
}

async function start(
  root: string,
  args: string[],
  port: number,
  env: Record<string, string>,
  readyText?: string,
): Promise<RunningSite> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: root,
    // The child is a plain Node process: none of the test runner's variables (VITEST, TEST, ...).
    env: { ...cleanEnvironment(), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  // The build's log level is baked into the server (quiet here), so readiness is a TCP connect.
  const deadline = Date.now() + 20_000;
  while (!(await accepts(port)) || (readyText !== undefined && !output.includes(readyText))) {
    if (exited) throw new Error(`the site exited:\n${output}`);
    if (Date.now() > deadline) throw new Error(`the site did not listen within 20 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** How a built server that was expected to exit ended. */
export interface ExitedSite {
  /** The exit code (`null` when it was still running at the deadline and was killed). */
  readonly code: number | null;
  readonly output: string;
  /** Whether 127.0.0.1:`port` accepted a connection while the server ran. */
  readonly listened: boolean;
}

/**
 * Starts `dist/server/entry.mjs` (or `script`) of a built fixture with `env` (nothing of the test
 * runner's, no `TOKENKEEP_SECRET` unless given) and waits up to `deadlineMs` for it to exit on its own; with
 * `untilListening`, it is stopped as soon as it accepts a connection instead.
 */
export async function runBuiltUntilExit(
  root: string,
  env: Record<string, string>,
  {
    deadlineMs = 20_000,
    untilListening = false,
    script = "dist/server/entry.mjs",
  }: { deadlineMs?: number; untilListening?: boolean; script?: string } = {},
): Promise<ExitedSite> {
  const port = await freePort();
  const inherited = cleanEnvironment();
  delete inherited.TOKENKEEP_SECRET;
  const child = spawn(process.execPath, [script], {
    cwd: root,
    env: { ...inherited, HOST: "127.0.0.1", PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let listened = false;
  let code: number | null | undefined;
  void exited.then((value) => {
    code = value;
  });
  const deadline = Date.now() + deadlineMs;
  while (code === undefined && Date.now() < deadline && !(untilListening && listened)) {
    if (await accepts(port)) listened = true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  if (code === undefined) {
    child.kill("SIGKILL");
    await exited;
    return { code: null, output, listened };
  }
  return { code, output, listened };
}
