/**
 * Whether a Node process lives as long as it should: a caller awaiting a token must keep it alive
 * through every backoff, deadline and lease poll its promise waits on, while an idle manager (or a
 * fetch nobody waits for any more) must never hold it. The defect this guards against is the process
 * exiting, so each case is a real `node` child running a small script against core, bundled from the
 * current source (no stale `dist`).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const source = fileURLToPath(new URL("../src/", import.meta.url));
let folder = "";

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), "tokenkeep-exit-"));
  await build({
    entryPoints: {
      core: join(source, "index.ts"),
      shared: join(source, "shared/index.ts"),
      rotation: join(source, "rotation/index.ts"),
    },
    outdir: folder,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "neutral",
    logLevel: "error",
  });
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** Runs `script` (an ES module that may import `./core.mjs`, `./shared.mjs`, `./rotation.mjs`) with `node`. */
async function run(script: string): Promise<{ code: number | null; stdout: string; ms: number }> {
  const file = join(folder, `script-${crypto.randomUUID()}.mjs`);
  writeFileSync(file, script);
  const started = performance.now();
  return new Promise((resolve) => {
    // Killed (code null) after 6 s: a process kept alive by a timer nobody waits for fails here.
    execFile(process.execPath, [file], { timeout: 6_000 }, (error, stdout) => {
      resolve({
        code: error ? ((error as { code?: number }).code ?? null) : 0,
        stdout: stdout.trim(),
        ms: performance.now() - started,
      });
    });
  });
}

describe("a Node process running a token manager", { timeout: 10_000 }, () => {
  it("stays alive while a top-level await waits through a retry backoff (it exited 13)", async () => {
    const result = await run(`
      import { createTokenManager, NetworkError } from "./core.mjs";
      let calls = 0;
      const manager = createTokenManager({
        creator: async () => {
          if (calls++ === 0) throw new NetworkError("connection refused");
          return { access_token: "at-2", token_type: "Bearer", expires_in: 3600 };
        },
        // A real backoff of about 200 ms, during which nothing else keeps the process alive.
        retry: { retries: 1, baseDelayMs: 200 },
        random: () => 0.999,
      });
      const { accessToken } = await manager.getToken();
      console.log(accessToken, calls);
    `);
    expect(result).toMatchObject({ code: 0, stdout: "at-2 2" });
  });

  it("exits promptly once the caller has its token, with a background refresh still running", async () => {
    // The second getToken falls in the refresh-ahead window: it returns at once and starts a
    // background refresh whose creator never answers (its timers run for 10 and 30 s). The manager
    // is not disposed: nobody waits for that refresh, so it must not hold the process.
    const result = await run(`
      import { createTokenManager } from "./core.mjs";
      let offset = 0;
      let calls = 0;
      const manager = createTokenManager({
        creator: () =>
          calls++ === 0
            ? Promise.resolve({ access_token: "at-1", token_type: "Bearer", expires_in: 3600 })
            : new Promise(() => {}),
        now: () => Date.now() + offset,
      });
      await manager.getToken();
      offset = 3_000_000;
      const { accessToken } = await manager.getToken();
      console.log(accessToken, manager.stats().inFlight);
    `);
    expect(result).toMatchObject({ code: 0, stdout: "at-1 1" });
    expect(result.ms).toBeLessThan(5_000);
  });

  it("stays alive until its caller's own timeoutMs, then exits though the fetch it waited on goes on", async () => {
    // The creator never answers: the caller's timeoutMs is the one timer that can end its wait (it
    // exited 13 before). Once it gave up, the fetch's own timers (creator timeout 10 s, fetch
    // deadline 30 s) must not hold the process any more.
    const result = await run(`
      import { createTokenManager } from "./core.mjs";
      const manager = createTokenManager({ creator: () => new Promise(() => {}) });
      const error = await manager.getToken({ timeoutMs: 100 }).catch((error) => error);
      console.log(error.code, manager.stats().inFlight);
    `);
    expect(result).toMatchObject({ code: 0, stdout: "ERR_TOKENKEEP_TIMEOUT 1" });
    expect(result.ms).toBeLessThan(5_000);
  });

  it("stays alive while invalidate waits out a store call that hangs, then exits though degraded", async () => {
    // The store's timeoutMs is the one timer that can end the wait. Its failure arms the recovery
    // probe (every 5 s) while the caller still waits: unref'd once the wait ends.
    const result = await run(`
      import { createTokenManager } from "./core.mjs";
      import { shareStore } from "./shared.mjs";
      const values = new Map();
      const store = {
        get: async (key) => values.get(key),
        set: async (key, value) => void values.set(key, value),
        delete: () => new Promise(() => {}),
        compareAndDelete: () => new Promise(() => {}),
      };
      const manager = createTokenManager({
        creator: async () => ({ access_token: "at-1", token_type: "Bearer", expires_in: 3600 }),
        shared: shareStore(store, { timeoutMs: 200 }),
      });
      const { accessToken } = await manager.getToken();
      const dropped = await manager.invalidate(accessToken);
      console.log(dropped, manager.stats().storeFailures, manager.stats().storeDegraded);
    `);
    expect(result).toMatchObject({ code: 0, stdout: "true 1 true" });
    expect(result.ms).toBeLessThan(4_000);
  });
});

describe("a Node process running a rotation coordinator", { timeout: 10_000 }, () => {
  it("stays alive until a redemption that never answers is stopped at redeemTimeoutMs (it exited 13)", async () => {
    const result = await run(`
      import { createRotationCoordinator } from "./rotation.mjs";
      const rotation = createRotationCoordinator({ redeem: () => new Promise(() => {}), redeemTimeoutMs: 300 });
      const error = await rotation.rotate("rt-1").catch((error) => error);
      console.log(error.code);
    `);
    expect(result).toMatchObject({ code: 0, stdout: "ERR_TOKENKEEP_ROTATION_IN_DOUBT" });
  });
});
