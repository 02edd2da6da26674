import { rmSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type RedisServerProcess, startRedisServer } from "./support/redis-server.js";
import { redisUrlOrSkip, uniquePrefix } from "./support/redis-url.js";
import { type CountingTokenEndpoint, startCountingTokenEndpoint } from "./support/token-endpoint.js";
import { bundleWorker, startWorker, type WorkerProcess } from "./support/workers.js";

// This test runs its own redis-server (it stops and restarts it); the shared one only proves that
// the binary is installed.
const url = redisUrlOrSkip("redis-outage.test.ts");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!url)("Redis stopped mid-run and started again", () => {
  let workerFile = "";
  const workers: WorkerProcess[] = [];
  let endpoint: CountingTokenEndpoint | undefined;
  let redis: RedisServerProcess | undefined;

  beforeAll(async () => {
    workerFile = await bundleWorker("manager-worker");
  });
  afterAll(() => rmSync(workerFile, { force: true }));
  afterEach(async () => {
    for (const worker of workers.splice(0)) worker.kill();
    await endpoint?.close();
    await redis?.stop();
  });

  it("fails no caller, and stats() shows the degraded period", async () => {
    redis = await startRedisServer();
    endpoint = await startCountingTokenEndpoint(1); // 1-second tokens: fetched again during the outage
    const prefix = uniquePrefix("outage");
    const fleet = Array.from({ length: 2 }, (_, index) => {
      const worker = startWorker(workerFile);
      workers.push(worker);
      worker.send({
        type: "init",
        workerId: `w${index}`,
        redisUrl: redis!.url,
        tokenUrl: endpoint!.url,
        prefix,
        commandTimeoutMs: 1_000,
        share: { timeoutMs: 1_000, probeIntervalMs: 200, leaseTtlMs: 2_000 },
      });
      return worker;
    });
    await Promise.all(fleet.map((worker) => worker.next("ready")));

    for (const worker of fleet)
      worker.send({ type: "loop", durationMs: 5_500, concurrency: 20, pauseMs: 10 });
    await sleep(1_000);
    await redis.stop();
    const stoppedAt = endpoint.requests.length;
    await sleep(1_500);
    const duringOutage = endpoint.requests.length - stoppedAt;
    await redis.restart();

    const results = await Promise.all(
      fleet.map((worker) => worker.next<{ ok: number; failed: number; errors: string[] }>("loop-done")),
    );
    for (const result of results) {
      expect(result.errors).toEqual([]);
      expect(result.failed).toBe(0);
      expect(result.ok).toBeGreaterThan(100);
    }
    // Tokens kept being fetched while Redis was down (per process).
    expect(duringOutage).toBeGreaterThan(0);

    const reports = await Promise.all(
      fleet.map((worker) => worker.ask<StatsReport>({ type: "stats" }, "stats")),
    );
    for (const { stats, events } of reports) {
      expect(stats.storeDegradedCount).toBeGreaterThanOrEqual(1);
      expect(stats.storeDegradedMs).toBeGreaterThan(0);
      expect(stats.storeFailures).toBeGreaterThan(0);
      expect(stats.storeDegraded).toBe(false); // sharing resumed once Redis was back
      // Reported once per degraded period, each followed by its recovery.
      expect(events.filter((type) => type === "store-degraded")).toHaveLength(stats.storeDegradedCount);
      expect(events.at(-1)).toBe("store-recovered");
    }
  }, 30_000);
});

interface StatsReport {
  stats: {
    storeDegradedCount: number;
    storeDegradedMs: number;
    storeDegraded: boolean;
    storeFailures: number;
  };
  events: string[];
}
