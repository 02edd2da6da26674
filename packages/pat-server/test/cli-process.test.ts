// The built `tokenkeep-pat-server` command as a real process: flags and environment, the health
// route, SIGTERM ending it gracefully, and a closed stdout pipe ending it quietly. (cli.test.ts
// covers the same commands in-process, with more cases.)
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";

const BIN = fileURLToPath(new URL("../bin/tokenkeep-pat-server.js", import.meta.url));

interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function start(args: readonly string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<Exited>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  const output = () => stdout;
  return { child, exited, output };
}

async function waitFor<T>(probe: () => T | undefined, what: string, child: ChildProcess): Promise<T> {
  // Up to 20 s: a loaded CI machine can be slow to start Node and open SQLite.
  for (let i = 0; i < 1_000; i++) {
    const value = probe();
    if (value !== undefined) return value;
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe("tokenkeep-pat-server (the built command, as a process)", { timeout: 60_000 }, () => {
  let dir: string;
  beforeAll(() => {
    if (!existsSync(BIN.replace("bin/tokenkeep-pat-server.js", "dist/cli.js"))) {
      throw new Error("dist/cli.js is missing: run `pnpm run build` first");
    }
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tk-pat-bin-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("bootstraps, serves, and shuts down gracefully on SIGTERM with exit code 0", async () => {
    const database = join(dir, "tokens.db");
    const boot = await start(["bootstrap", "--database", database]).exited;
    expect(boot.code, boot.stderr).toBe(0);
    const admin = boot.stdout.trim();
    expect(admin).toMatch(/^pat_[A-Za-z0-9]{21}\./);

    // The database comes from the environment this time, the port from a flag.
    const server = start(["start", "--port", "0"], { TOKENKEEP_PAT_DATABASE: database });
    const url = await waitFor(
      () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output())?.[1],
      "the listening line",
      server.child,
    );
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: "ok" });
    const exchanged = await fetch(`${url}/auth/token`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(exchanged.status).toBe(200);

    server.child.kill("SIGTERM");
    const exited = await server.exited;
    expect(exited.code, exited.stderr).toBe(0);
    expect(exited.stdout).toContain("shutting down");
    expectNoSecretIn(`${exited.stdout}${exited.stderr}`, admin.split(".")[1]!, "the output");
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it("ends quietly when its reader closes the pipe early (`| head`)", async () => {
    const run = start(["--help"]);
    run.child.stdout?.destroy();
    const exited = await run.exited;
    expect(exited.stderr).not.toContain("EPIPE");
    expect(exited.code).toBe(0);
  });
});
