/**
 * The rows of the matrix: how each runtime is found, asked for its version and started on its bundle.
 * Every runtime but Chromium comes from a pinned devDependency; Chromium is Debian's, driven by
 * playwright-core. Processes are started here and always ended here.
 */
import { execFile, spawn } from "node:child_process";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { chromium } from "playwright-core";
import type { Bundles } from "./bundle.ts";

const run = promisify(execFile);
const modules = fileURLToPath(new URL("../node_modules/", import.meta.url));

/** A started runtime: `exited` settles when it is gone; `stop` ends it (idempotent). */
export interface Started {
  exited: Promise<{ code: number | null; output: string }>;
  stop(): Promise<void>;
}

export interface Row {
  /** The row name, also the runtime name the scenarios report under. */
  name: string;
  /** What `navigator.userAgent` must look like, so a wrong binary cannot pass as this row. */
  userAgent: RegExp;
  version(): Promise<string>;
  start(origin: string, bundles: Bundles, workdir: string): Promise<Started>;
}

const OUTPUT_LIMIT = 4_000;

function startProcess(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Started {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-OUTPUT_LIMIT);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = new Promise<{ code: number | null; output: string }>((resolve) => {
    child.on("error", (error) => resolve({ code: null, output: `${output}\n${error.message}` }));
    child.on("close", (code) => resolve({ code, output }));
  });
  return {
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

async function firstLine(command: string, args: string[]): Promise<string> {
  const { stdout } = await run(command, args);
  return stdout.split("\n")[0]?.trim() ?? "";
}

const node22 = join(modules, "node22/bin/node");
const deno = join(modules, "deno/deno");
const bun = join(modules, "bun/bin/bun.exe");
const workerd = join(modules, "workerd/bin/workerd");
/** Debian's Chromium (the lead's test command exports CHROMIUM_PATH). */
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/**
 * The worker's config: only the loopback network reachable; no Node compatibility at all (the
 * `workerd` row), or workerd's defaults, which include `nodejs_compat` since 2026-08-04 (the
 * `workerd-compat` row: a Worker as most are deployed, where pat-server's handler finds scrypt).
 */
function workerdConfig(origin: string, compatibilityDate: string, runtime: string): string {
  const flags = runtime === "workerd" ? `["no_nodejs_compat", "no_nodejs_compat_v2"]` : "[]";
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .matrixWorker),
    (name = "loopback", network = (allow = ["local"])),
  ],
);

const matrixWorker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "${compatibilityDate}",
  compatibilityFlags = ${flags},
  bindings = [(name = "ORCHESTRATOR", text = "${origin}"), (name = "RUNTIME", text = "${runtime}")],
  globalOutbound = "loopback",
);
`;
}

function workerdRow(name: "workerd" | "workerd-compat"): Row {
  return {
    name,
    userAgent: /^Cloudflare-Workers$/,
    version: async () => (await firstLine(workerd, ["--version"])).split(" ")[1] ?? "?",
    async start(origin, bundles, workdir) {
      // The newest date this workerd knows is its own build date (`workerd --version`).
      const date = (await this.version()).replace(/[^0-9-]/g, "");
      const dir = await mkdtemp(join(workdir, `${name}-`));
      await copyFile(bundles.worker, join(dir, "worker.js"));
      await writeFile(join(dir, "config.capnp"), workerdConfig(origin, date, name));
      return startProcess(workerd, ["test", "config.capnp"], { cwd: dir });
    },
  };
}

export const rows: readonly Row[] = [
  {
    name: "node22",
    userAgent: /^Node\.js\/22\b/,
    version: () => firstLine(node22, ["--version"]),
    start: async (origin, bundles, workdir) =>
      startProcess(node22, [bundles.cli, origin, "node22"], { cwd: workdir }),
  },
  {
    name: "node24",
    userAgent: /^Node\.js\/24\b/,
    version: async () => process.version,
    start: async (origin, bundles, workdir) =>
      startProcess(process.execPath, [bundles.cli, origin, "node24"], { cwd: workdir }),
  },
  {
    name: "deno",
    userAgent: /^Deno\//,
    version: async () => (await firstLine(deno, ["--version"])).split(" ")[1] ?? "?",
    start: async (origin, bundles, workdir) =>
      startProcess(
        deno,
        [
          "run",
          "--no-config",
          "--no-lock",
          "--no-prompt",
          "--allow-net=127.0.0.1",
          bundles.cli,
          origin,
          "deno",
        ],
        { cwd: workdir, env: { DENO_DIR: join(workdir, "deno-dir"), DENO_NO_UPDATE_CHECK: "1" } },
      ),
  },
  {
    name: "bun",
    userAgent: /^Bun\//,
    version: () => firstLine(bun, ["--version"]),
    start: async (origin, bundles, workdir) =>
      startProcess(bun, [bundles.cli, origin, "bun"], { cwd: workdir, env: { DO_NOT_TRACK: "1" } }),
  },
  workerdRow("workerd"),
  workerdRow("workerd-compat"),
  {
    name: "chromium",
    userAgent: /Chrome\/\d+/,
    version: async () =>
      (await firstLine(chromiumPath, ["--version"])).replace(/^Chromium\s+/, "").split(" ")[0] ?? "?",
    async start(origin, _bundles, workdir) {
      const profile = await mkdtemp(join(workdir, "chromium-profile-"));
      const context = await chromium.launchPersistentContext(profile, {
        executablePath: chromiumPath,
        headless: true,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
      });
      let output = "";
      let resolveExit!: (value: { code: number | null; output: string }) => void;
      const exited = new Promise<{ code: number | null; output: string }>((resolve) => {
        resolveExit = resolve;
      });
      context.on("close", () => resolveExit({ code: null, output }));
      try {
        const page = await context.newPage();
        page.on("pageerror", (error) => {
          output += `page error: ${error.message}\n`;
          resolveExit({ code: 1, output });
        });
        page.on("console", (message) => {
          if (message.type() === "error")
            output = `${output}console: ${message.text()}\n`.slice(-OUTPUT_LIMIT);
        });
        await page.goto(`${origin}/page?runtime=chromium`);
      } catch (error) {
        await context.close();
        throw error;
      }
      return {
        exited,
        async stop() {
          await context.close();
          resolveExit({ code: null, output });
          await rm(profile, { recursive: true, force: true });
        },
      };
    },
  },
];

/** A scratch directory for one matrix run, removed by the caller. */
export function scratchDirectory(): Promise<string> {
  return mkdtemp(join(tmpdir(), "tokenkeep-runtimes-"));
}
