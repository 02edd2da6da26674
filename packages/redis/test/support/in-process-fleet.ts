import { createTokenManager, isTransientError, type TokenManager } from "@tokenkeep/core";
import { createRotationCoordinator, type RotationCoordinator } from "@tokenkeep/core/rotation";
import { shareStore } from "@tokenkeep/core/shared";
import { refreshTokenGrant } from "@tokenkeep/grants";
import { createRedisStore, type RedisStoreAnyClient } from "../../src/index.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Several "instances" in one process: each has its own Redis client (so its own connections), store
 * and token manager, as separate servers would. They share one clock offset, so the test expires
 * every token at once by moving the clock instead of sleeping.
 */
export interface ManagerFleet {
  readonly managers: TokenManager[];
  /** Moves every manager's clock on by `ms`. */
  advance(ms: number): void;
  /** Callers that keep calling `getToken` on every manager until `stop()`. */
  load(options?: { concurrency?: number; pauseMs?: number }): { stop(): Promise<LoadResult> };
  dispose(): Promise<void>;
}

export interface LoadResult {
  ok: number;
  failed: number;
  errors: string[];
}

/** Store and share options generous enough for a loaded 2-core machine: slowness is another test's topic. */
const STORE_TIMEOUT_MS = 5_000;

export function startManagerFleet(options: {
  clients: RedisStoreAnyClient[];
  keyPrefix: string;
  tokenUrl: string;
  /** `shareStore` options over the defaults here (5 s store timeout, 10 s lease). */
  share?: { timeoutMs?: number; leaseTtlMs?: number; probeIntervalMs?: number };
  /** The store's command timeout. @default 5000 */
  storeTimeoutMs?: number;
}): ManagerFleet {
  let offsetMs = 0;
  const managers = options.clients.map((client, index) => {
    const timeoutMs = options.storeTimeoutMs ?? STORE_TIMEOUT_MS;
    const store = createRedisStore({ client, keyPrefix: options.keyPrefix, timeoutMs });
    return createTokenManager({
      shared: shareStore(store, { timeoutMs, leaseTtlMs: 10_000, ...options.share }),
      now: () => Date.now() + offsetMs,
      refreshAheadRatio: 1,
      creator: async ({ signal }) => {
        const response = await fetch(options.tokenUrl, {
          method: "POST",
          headers: { "x-worker": `m${index}` },
          signal,
        });
        return response.json();
      },
    });
  });
  return {
    managers,
    advance(ms) {
      offsetMs += ms;
    },
    load({ concurrency = 10, pauseMs = 5 } = {}) {
      let running = true;
      const result: LoadResult = { ok: 0, failed: 0, errors: [] };
      const loops = managers.flatMap((manager) =>
        Array.from({ length: concurrency }, async () => {
          while (running) {
            try {
              await manager.getToken();
              result.ok++;
            } catch (error) {
              result.failed++;
              if (result.errors.length < 5) result.errors.push(String(error));
            }
            await sleep(pauseMs);
          }
        }),
      );
      return {
        async stop() {
          running = false;
          await Promise.all(loops);
          return result;
        },
      };
    },
    async dispose() {
      await Promise.all(managers.map((manager) => manager.dispose()));
    },
  };
}

/** Several rotation coordinators, one per client, redeeming at one token endpoint. */
export function startRotationFleet(options: {
  clients: RedisStoreAnyClient[];
  keyPrefix: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
}): RotationCoordinator[] {
  const redeem = refreshTokenGrant({
    tokenUrl: options.tokenUrl,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
  });
  return options.clients.map((client) =>
    createRotationCoordinator({
      shared: shareStore(
        createRedisStore({ client, keyPrefix: options.keyPrefix, timeoutMs: STORE_TIMEOUT_MS }),
        { timeoutMs: STORE_TIMEOUT_MS, leaseTtlMs: 10_000 },
      ),
      redeem,
    }),
  );
}

/**
 * `callers` concurrent rotations of `refreshToken` on every coordinator. A transient failure (the
 * store unreachable during a failover) is retried after 100 ms, as an application would, at most
 * `retries` times; what still fails is returned.
 */
export async function rotateEverywhere(
  coordinators: RotationCoordinator[],
  refreshToken: string,
  callers: number,
  retries = 0,
): Promise<{ pairs: Set<string>; errors: string[]; retried: number }> {
  const pairs = new Set<string>();
  const errors: string[] = [];
  let retried = 0;
  await Promise.all(
    coordinators.flatMap((coordinator) =>
      Array.from({ length: callers }, async () => {
        for (let attempt = 0; ; attempt++) {
          try {
            const set = await coordinator.rotate(refreshToken);
            pairs.add(`${set.accessToken} ${set.refreshToken}`);
            return;
          } catch (error) {
            if (!isTransientError(error) || attempt >= retries) {
              errors.push(`${(error as { code?: string }).code ?? ""} ${String(error)}`);
              return;
            }
            retried++;
            await sleep(100);
          }
        }
      }),
    ),
  );
  return { pairs, errors, retried };
}
