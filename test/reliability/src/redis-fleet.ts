/**
 * The Redis fault suite's fleet: four processes, each a token manager on `@tokenkeep/redis` (the
 * package's own test worker, `packages/redis/test/workers/manager-worker.ts`, bundled from source),
 * reaching a private redis-server through a TCP proxy that can add latency, and fetching from a
 * counting token endpoint. Reused from the redis package's tests rather than copied.
 */
import { rmSync } from "node:fs";
import {
  type RedisServerProcess,
  startRedisServer,
} from "../../../packages/redis/test/support/redis-server.js";
import { startTcpProxy, type TcpProxy } from "../../../packages/redis/test/support/tcp-proxy.js";
import {
  type CountingTokenEndpoint,
  startCountingTokenEndpoint,
} from "../../../packages/redis/test/support/token-endpoint.js";
import {
  bundleWorker,
  startWorker,
  type WorkerProcess,
} from "../../../packages/redis/test/support/workers.js";

export interface LoopResult {
  ok: number;
  failed: number;
  errors: string[];
  maxMs: number;
}

export interface WorkerStats {
  stats: {
    storeDegraded: boolean;
    storeDegradedCount: number;
    storeFailures: number;
    creatorCalls: number;
    inFlight: number;
  };
  events: string[];
}

export interface RedisFleet {
  readonly redis: RedisServerProcess;
  readonly proxy: TcpProxy;
  readonly endpoint: CountingTokenEndpoint;
  readonly workers: WorkerProcess[];
  /** Every worker's clock moves on by `ms` (tokens expire without a real wait). */
  advance(ms: number): Promise<void>;
  stats(): Promise<WorkerStats[]>;
  /** Starts `concurrency` callers looping on `getToken` in every worker. */
  startLoad(concurrency: number): void;
  stopLoad(): Promise<LoopResult[]>;
  close(): Promise<void>;
}

export interface RedisFleetOptions {
  size: number;
  /** The store's `timeoutMs` in each worker. */
  commandTimeoutMs: number;
  /** `shareStore` options in each worker. */
  share: { timeoutMs: number; probeIntervalMs: number; leaseTtlMs: number };
  /** Lifetime of the endpoint's tokens, in seconds. */
  tokenLifetimeS: number;
}

export async function startRedisFleet(options: RedisFleetOptions): Promise<RedisFleet> {
  const redis = await startRedisServer();
  const proxy = await startTcpProxy(redis.port);
  const endpoint = await startCountingTokenEndpoint(options.tokenLifetimeS);
  const workerFile = await bundleWorker("manager-worker");
  const prefix = `tkrel:${crypto.randomUUID().slice(0, 8)}:`;
  const workers = Array.from({ length: options.size }, (_, index) => {
    const worker = startWorker(workerFile);
    worker.send({
      type: "init",
      workerId: `w${index}`,
      redisUrl: `redis://127.0.0.1:${proxy.port}`,
      tokenUrl: endpoint.url,
      prefix,
      // Refresh-ahead off: each round's clock jump expires the token outright.
      manager: { refreshAheadRatio: 1 },
      commandTimeoutMs: options.commandTimeoutMs,
      share: options.share,
    });
    return worker;
  });
  const close = async () => {
    for (const worker of workers) {
      if (redis.pid !== undefined) {
        try {
          process.kill(redis.pid, "SIGCONT");
        } catch {}
      }
      worker.kill();
    }
    rmSync(workerFile, { force: true });
    await endpoint.close();
    await proxy.close();
    await redis.stop();
  };
  try {
    await Promise.all(workers.map((worker) => worker.next("ready")));
  } catch (error) {
    await close();
    throw error;
  }
  return {
    redis,
    proxy,
    endpoint,
    workers,
    async advance(ms) {
      await Promise.all(workers.map((worker) => worker.ask({ type: "advance-clock", ms }, "clock-advanced")));
    },
    stats: () => Promise.all(workers.map((worker) => worker.ask<WorkerStats>({ type: "stats" }, "stats"))),
    startLoad(concurrency) {
      for (const worker of workers)
        worker.send({ type: "loop", durationMs: 3_600_000, concurrency, pauseMs: 5 });
    },
    async stopLoad() {
      for (const worker of workers) worker.send({ type: "stop-loop" });
      return Promise.all(workers.map((worker) => worker.next<LoopResult>("loop-done")));
    },
    close,
  };
}
