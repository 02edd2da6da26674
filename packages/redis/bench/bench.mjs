/**
 * The Redis benchmark: `pnpm --filter @tokenkeep/redis bench` (builds first). Prints, from one run:
 * - warm `getToken` throughput with the Redis store as a ratio to the memory store (target >= 0.9);
 * - token-endpoint calls for 4 processes x 2,500 concurrent cold callers sharing one Redis (target 1);
 * - Redis commands per warm `getToken` (target 0), counted exactly by wrapping the client's
 *   `sendCommand`, and cross-checked with the server's `INFO commandstats`.
 * Uses TOKENKEEP_REDIS_URL, or starts the private Redis of scripts/services/redis.sh (and stops it).
 * Plain JavaScript importing the built package.
 */
import { execFileSync, fork } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { createTokenManager } from "@tokenkeep/core";
import { createMemoryStore } from "@tokenkeep/core/memory-store";
import { shareStore } from "@tokenkeep/core/shared";
import { createClient } from "redis";
import { createRedisStore } from "../dist/index.js";

const script = fileURLToPath(new URL("../../../scripts/services/redis.sh", import.meta.url));
/** The export line of the script's `status` (a running instance) or `start`; `undefined` on failure. */
const runScript = (command) => {
  try {
    return /TOKENKEEP_REDIS_URL=(\S+)/.exec(
      execFileSync("bash", [script, command], { encoding: "utf8" }),
    )?.[1];
  } catch {
    return undefined;
  }
};
let redisUrl = process.env.TOKENKEEP_REDIS_URL ?? runScript("status");
// Only an instance this run started is stopped at the end.
const startedRedis = redisUrl === undefined;
redisUrl ??= runScript("start");
if (redisUrl === undefined) {
  console.error("bench: no Redis (set TOKENKEEP_REDIS_URL or install redis-server)");
  process.exit(1);
}
const prefix = `tkbench:${process.pid}:`;
const rows = [];
const report = (name, value, target, ok) => {
  rows.push(ok);
  console.log(`${ok ? "ok  " : "FAIL"} ${name}: ${value} (target ${target})`);
};

const creator = async () => ({ access_token: "bench-token", token_type: "Bearer", expires_in: 3600 });

// A node-redis client whose commands are counted: every command the store sends passes here.
const client = createClient({ url: redisUrl });
client.on("error", () => {});
await client.connect();
let storeCommands = 0;
const countingClient = {
  sendCommand(args, options) {
    storeCommands++;
    return client.sendCommand(args, options);
  },
};

const memoryManager = createTokenManager({
  creator,
  shared: shareStore(createMemoryStore(), { keyPrefix: prefix }),
});
const redisManager = createTokenManager({
  creator,
  shared: shareStore(createRedisStore({ client: countingClient, prefix }), { keyPrefix: prefix }),
});
await memoryManager.getToken();
await redisManager.getToken();

// 1. Warm throughput: the same awaited loop on each manager, alternated, best of 7 rounds each.
const CALLS = 200_000;
const loop = async (manager) => {
  const start = performance.now();
  for (let i = 0; i < CALLS; i++) await manager.getToken();
  return performance.now() - start;
};
const commandstats = async () => {
  const info = await client.info("commandstats");
  let total = 0;
  for (const match of info.matchAll(/calls=(\d+)/g)) total += Number(match[1]);
  return total;
};
let bestMemory = Number.POSITIVE_INFINITY;
let bestRedis = Number.POSITIVE_INFINITY;
const commandsBefore = storeCommands;
const serverBefore = await commandstats();
for (let round = 0; round < 7; round++) {
  bestMemory = Math.min(bestMemory, await loop(memoryManager));
  bestRedis = Math.min(bestRedis, await loop(redisManager));
}
const serverAfter = await commandstats();
const warmCalls = 7 * CALLS;
const perSecond = (ms) => Math.round((CALLS / ms) * 1000).toLocaleString("en");
const ratio = bestMemory / bestRedis;
report(
  "warm getToken, Redis store / memory store",
  `${ratio.toFixed(2)} (${perSecond(bestRedis)} vs ${perSecond(bestMemory)} calls/s)`,
  ">= 0.9",
  ratio >= 0.9,
);
const perCall = (storeCommands - commandsBefore) / warmCalls;
report("Redis commands per warm getToken (counted at the client)", String(perCall), "0", perCall === 0);
// The server-wide count includes this benchmark's own INFO call and any other client of this Redis.
console.log(
  `     server-wide INFO commandstats delta over ${warmCalls.toLocaleString("en")} warm calls: ${serverAfter - serverBefore - 1}`,
);
await memoryManager.dispose();
await redisManager.dispose();

// 2. Four processes x 2,500 concurrent cold callers of one identity, one shared Redis.
let endpointCalls = 0;
const endpoint = createServer((request, response) => {
  endpointCalls++;
  request.resume();
  response.writeHead(200, { "content-type": "application/json" });
  response.end(
    JSON.stringify({ access_token: `fleet-${endpointCalls}`, token_type: "Bearer", expires_in: 3600 }),
  );
});
endpoint.listen(0, "127.0.0.1");
await once(endpoint, "listening");
const tokenUrl = `http://127.0.0.1:${endpoint.address().port}/token`;
const workerFile = fileURLToPath(new URL("./fleet-worker.mjs", import.meta.url));
const fleet = Array.from({ length: 4 }, () =>
  fork(workerFile, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] }),
);
const next = (child, type) =>
  new Promise((resolve) => {
    const listener = (message) => {
      if (message.type !== type) return;
      child.off("message", listener);
      resolve(message);
    };
    child.on("message", listener);
  });
const fleetPrefix = `${prefix}fleet:`;
await Promise.all(
  fleet.map((child) => {
    const ready = next(child, "ready");
    child.send({ type: "init", redisUrl, tokenUrl, prefix: fleetPrefix });
    return ready;
  }),
);
const done = fleet.map((child) => next(child, "done"));
for (const child of fleet) child.send({ type: "burst", callers: 2_500 });
const failed = (await Promise.all(done)).reduce((sum, message) => sum + message.failed, 0);
report(
  "token-endpoint calls, 4 processes x 2,500 cold callers",
  `${endpointCalls}${failed ? ` (${failed} callers failed)` : ""}`,
  "1",
  endpointCalls === 1 && failed === 0,
);
for (const child of fleet) child.send({ type: "close" });
await Promise.all(fleet.map((child) => once(child, "exit")));
endpoint.close();

// Leave the shared Redis as it was.
for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) {
  if (keys.length > 0) await client.del(keys);
}
await client.close();
if (startedRedis) execFileSync("bash", [script, "stop"], { stdio: "ignore" });
process.exitCode = rows.every(Boolean) ? 0 : 1;
