/**
 * The core benchmark: `pnpm --filter @tokenkeep/core bench` (builds first). Every number is printed
 * next to its target and, for speeds, as a ratio to a floor measured in the same run, so the result
 * does not depend on the machine. Plain JavaScript (no type stripping, whose
 * own allocations would blur the heap figure); imports the built package.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { createTokenManager } from "../dist/index.js";

const here = new URL("..", import.meta.url).pathname;
/** @type {{ name: string; value: string; target: string; ok: boolean }[]} */
const rows = [];
const report = (name, value, target, ok) => {
  rows.push({ name, value, target, ok });
  console.log(`${ok ? "ok  " : "FAIL"} ${name}: ${value} (target ${target})`);
};

/** Best time of `rounds` runs of `loop`, in ms. */
async function best(loop, rounds = 7) {
  let fastest = Number.POSITIVE_INFINITY;
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    await loop();
    fastest = Math.min(fastest, performance.now() - start);
  }
  return fastest;
}

const gc = globalThis.gc;
const collect = async () => {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

// 1. Heap growth after 1,000,000 getToken across 100,000 identities, 1,000-entry bound. Measured
// first, after a warm-up of 10,000 calls, so start-up garbage is not counted as (negative) growth.
{
  const manager = createTokenManager({
    maxEntries: 1000,
    creator: async ({ identity }) => ({
      access_token: `t-${identity.user}`,
      token_type: "Bearer",
      expires_in: 3600,
    }),
  });
  const identities = Array.from({ length: 100_000 }, (_, i) => ({ user: `user-${i}` }));
  const run = async (calls) => {
    const batch = 1000;
    for (let done = 0; done < calls; done += batch) {
      const pending = [];
      for (let i = done; i < done + batch; i++)
        pending.push(manager.getToken({ identity: identities[i % 100_000] }));
      await Promise.all(pending);
    }
  };
  await run(10_000);
  await collect();
  const before = process.memoryUsage().heapUsed;
  await run(1_000_000);
  await collect();
  const growthMb = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
  const { entries } = manager.stats();
  // Keep the identities reachable until after the measurement: they are the input, not growth.
  if (identities.length !== 100_000) throw new Error("identities lost");
  report(
    "heap growth after 1,000,000 getToken over 100,000 identities (maxEntries 1000)",
    `${growthMb.toFixed(2)} MB, ${entries} entries${gc ? "" : " (run with --expose-gc for an exact figure)"}`,
    "< 10 MB",
    growthMb < 10 && entries <= 1000,
  );
  await manager.dispose();
}

// 2. Cached getToken against the async floor, peek against the sync floor.
{
  const N = 2_000_000;
  const key = "default";
  const map = new Map([[key, { v: { accessToken: "a" }, exp: Date.now() + 3_600_000 }]]);
  const floor = async () => {
    const e = map.get(key);
    if (e && Date.now() < e.exp) return e.v;
  };
  const syncFloor = () => {
    const e = map.get(key);
    if (e && Date.now() < e.exp) return e.v;
  };
  const manager = createTokenManager({
    creator: async () => ({ access_token: "bench", token_type: "Bearer", expires_in: 3600 }),
  });
  await manager.getToken();
  // One loop per candidate, so every call site stays monomorphic; rounds interleave, so both sides
  // of a ratio see the same JIT and GC conditions. The best round of each counts.
  const check = (sink) => {
    if (sink !== N) throw new Error("lost results");
  };
  const loops = {
    floor: async () => {
      let sink = 0;
      for (let i = 0; i < N; i++) if (await floor()) sink++;
      check(sink);
    },
    getToken: async () => {
      let sink = 0;
      for (let i = 0; i < N; i++) if (await manager.getToken()) sink++;
      check(sink);
    },
    syncFloor: () => {
      let sink = 0;
      for (let i = 0; i < N; i++) if (syncFloor()) sink++;
      check(sink);
    },
    peek: () => {
      let sink = 0;
      for (let i = 0; i < N; i++) if (manager.peek()) sink++;
      check(sink);
    },
  };
  let floorMs = Number.POSITIVE_INFINITY;
  let ourMs = Number.POSITIVE_INFINITY;
  let syncFloorMs = Number.POSITIVE_INFINITY;
  let peekMs = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 7; round++) {
    floorMs = Math.min(floorMs, await best(loops.floor, 1));
    ourMs = Math.min(ourMs, await best(loops.getToken, 1));
    syncFloorMs = Math.min(syncFloorMs, await best(loops.syncFloor, 1));
    peekMs = Math.min(peekMs, await best(loops.peek, 1));
  }
  const ratio = floorMs / ourMs;
  report(
    "cached getToken / async Map floor",
    `${ratio.toFixed(2)} (${((N / ourMs) * 1000).toFixed(0)}/s vs ${((N / floorMs) * 1000).toFixed(0)}/s)`,
    ">= 0.90",
    ratio >= 0.9,
  );
  const peekRatio = syncFloorMs / peekMs;
  report(
    "peek() / sync Map floor",
    `${peekRatio.toFixed(2)} (${((N / peekMs) * 1000).toFixed(0)}/s vs ${((N / syncFloorMs) * 1000).toFixed(0)}/s)`,
    ">= 0.50",
    peekRatio >= 0.5,
  );
  await manager.dispose();
}

// 3. 10,000 concurrent cold callers, then again just after expiry: creator calls.
{
  let now = Date.now();
  let calls = 0;
  const manager = createTokenManager({
    now: () => now,
    creator: async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { access_token: `t${calls}`, token_type: "Bearer", expires_in: 60 };
    },
  });
  const burst = () => Promise.all(Array.from({ length: 10_000 }, () => manager.getToken()));
  await burst();
  report("creator calls for 10,000 concurrent cold callers", String(calls), "1", calls === 1);
  now += 60_000 + 1;
  const before = calls;
  await burst();
  report(
    "creator calls for 10,000 callers just after expiry",
    String(calls - before),
    "1",
    calls - before === 1,
  );
  await manager.dispose();
}

// 3b. The rotation coordinator's memory store (its default, 100,000 entries, when given no `shared`):
// heap per remembered rotation, and that 90,000 rotations in 12.5 hours (the clock moves 0.5 s per
// rotation, so successors expire and markers do not) all stay remembered: nothing live evicted.
{
  const { createRotationCoordinator } = await import("../dist/rotation.js");
  const { createMemoryStore } = await import("../dist/memory-store.js");
  const { shareStore } = await import("../dist/shared.js");
  let clock = Date.now();
  const now = () => clock;
  const store = createMemoryStore({ maxEntries: 100_000, now });
  const rotation = createRotationCoordinator({
    shared: shareStore(store),
    now,
    redeem: async ({ refreshToken }) => ({
      access_token: `at-${refreshToken}`,
      expires_in: 300,
      refresh_token: `${refreshToken}-next`,
    }),
  });
  const rotations = 90_000;
  await collect();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < rotations; i++) {
    await rotation.rotate(`refresh-token-${i}`);
    clock += 500;
  }
  await collect();
  const perRotation = (process.memoryUsage().heapUsed - before) / rotations;
  report(
    "the rotation coordinator's default memory store: heap per remembered rotation (one marker)",
    `${Math.round(perRotation)} bytes, so ${((perRotation * 100_000) / 1024 / 1024).toFixed(0)} MB at 100,000 entries`,
    "<= 600 bytes (the README says about 350 bytes, 40 MB)",
    perRotation <= 600,
  );
  report(
    `live entries evicted early after ${rotations} rotations in 12.5 hours`,
    `${store.evicted} (${store.size} entries held)`,
    "0",
    store.evicted === 0,
  );
  await rotation.dispose();
}

// 4. Size: the entry bundled with its dependencies, minified and gzipped; the packed tarball.
{
  const { build } = await import("esbuild");
  const entry = join(here, "dist/index.js");
  /** Minified + gzipped KiB of `contents` (an import statement) bundled from the built entry. */
  const size = async (contents, external = []) => {
    const result = await build({
      stdin: { contents, resolveDir: here, loader: "js" },
      bundle: true,
      minify: true,
      format: "esm",
      platform: "neutral",
      write: false,
      logLevel: "silent",
      external,
    });
    const code = result.outputFiles[0]?.contents;
    return { gzipKiB: gzipSync(code, { level: 9 }).length / 1024, minKiB: code.length / 1024 };
  };
  const whole = await size(`export * from ${JSON.stringify(entry)};`);
  report(
    "core entry (everything `@tokenkeep/core` exports) bundled with deps, minified + gzipped",
    `${whole.gzipKiB.toFixed(2)} KiB (${whole.minKiB.toFixed(1)} KiB minified)`,
    "<= 6 KiB",
    whole.gzipKiB <= 6,
  );
  const manager = await size(`export { createTokenManager } from ${JSON.stringify(entry)};`);
  report(
    "createTokenManager alone (tree-shaken), minified + gzipped",
    `${manager.gzipKiB.toFixed(2)} KiB`,
    "informational",
    true,
  );
  // A library that only recognises tokenkeep errors ships the error classes and guards, not the
  // manager (whose option rules are built when a manager is made, not when the entry loads).
  const errors = await size(
    `export { TokenkeepError, isTokenkeepError, isTransientError } from ${JSON.stringify(entry)};`,
  );
  report(
    "the errors and their guards alone (tree-shaken), minified + gzipped",
    `${errors.gzipKiB.toFixed(2)} KiB`,
    "<= 1 KiB",
    errors.gzipKiB <= 1,
  );
  // The subpaths, each bundled on its own (with what it shares with the main entry).
  for (const subpath of ["http", "shared", "rotation", "memory-store", "options"]) {
    const sub = await size(`export * from ${JSON.stringify(join(here, `dist/${subpath}.js`))};`);
    report(
      `@tokenkeep/core/${subpath} bundled, minified + gzipped`,
      `${sub.gzipKiB.toFixed(2)} KiB`,
      "informational",
      true,
    );
  }
  const folder = mkdtempSync(join(tmpdir(), "tokenkeep-pack-"));
  try {
    execFileSync("pnpm", ["pack", "--pack-destination", folder], { cwd: here, stdio: "ignore" });
    const tarball = readdirSync(folder).find((name) => name.endsWith(".tgz"));
    const packedKiB = tarball ? statSync(join(folder, tarball)).size / 1024 : Number.NaN;
    report("packed tarball", `${packedKiB.toFixed(1)} KiB`, "informational", true);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

const failed = rows.filter((row) => !row.ok);
console.log(failed.length === 0 ? "\nall targets met" : `\n${failed.length} target(s) missed`);
process.exitCode = failed.length === 0 ? 0 : 1;
