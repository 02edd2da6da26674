/**
 * One "server instance" for the multi-process tests: a token manager whose store is the Redis store,
 * driven over IPC by the test. Its creator posts to the test's counting token endpoint.
 */
import { createTokenManager, type TokenEvent, type TokenManager } from "@tokenkeep/core";
import { shareStore } from "@tokenkeep/core/shared";
import { createRedisStore, type RedisStore } from "../../src/index.js";

interface Init {
  type: "init";
  workerId: string;
  redisUrl: string;
  tokenUrl: string;
  prefix: string;
  manager?: Record<string, number>;
  /** Options of `shareStore`. */
  share?: Record<string, number>;
  commandTimeoutMs?: number;
}

let manager: TokenManager | undefined;
/** Added to `Date.now()` for the manager's clock: the test moves time instead of sleeping. */
let clockOffsetMs = 0;
let store: RedisStore | undefined;
let workerId = "";
const events: TokenEvent["type"][] = [];

const reply = (message: Record<string, unknown>) => process.send?.(message);

function describeError(error: unknown): string {
  const e = error as { name?: string; code?: string; message?: string };
  return `${e?.name ?? "Error"} ${e?.code ?? ""} ${e?.message ?? String(error)}`;
}

async function burst(callers: number) {
  const results = await Promise.allSettled(Array.from({ length: callers }, () => manager!.getToken()));
  const tokens = new Set<string>();
  const errors: string[] = [];
  for (const result of results) {
    if (result.status === "fulfilled") tokens.add(result.value.accessToken);
    else if (errors.length < 5) errors.push(describeError(result.reason));
  }
  const failed = results.filter((result) => result.status === "rejected").length;
  return { ok: callers - failed, failed, tokens: [...tokens], errors, stats: manager!.stats() };
}

/** Set by `stop-loop`: a running loop ends before its `durationMs`. */
let loopStopped = false;

async function loop(durationMs: number, concurrency: number, pauseMs: number) {
  const until = Date.now() + durationMs;
  loopStopped = false;
  let ok = 0;
  let failed = 0;
  /** The slowest `getToken` call, in ms. */
  let maxMs = 0;
  const errors: string[] = [];
  const tokens = new Set<string>();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until && !loopStopped) {
        const started = performance.now();
        try {
          tokens.add((await manager!.getToken()).accessToken);
          ok++;
        } catch (error) {
          failed++;
          if (errors.length < 5) errors.push(describeError(error));
        }
        maxMs = Math.max(maxMs, performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    }),
  );
  return { ok, failed, errors, tokens: tokens.size, maxMs: Math.round(maxMs) };
}

process.on("message", async (message: { type: string } & Record<string, unknown>) => {
  try {
    switch (message.type) {
      case "init": {
        const init = message as unknown as Init;
        workerId = init.workerId;
        store = createRedisStore({
          url: init.redisUrl,
          keyPrefix: init.prefix,
          timeoutMs: init.commandTimeoutMs,
        });
        manager = createTokenManager({
          shared: shareStore(store, { keyPrefix: init.prefix, ...init.share }),
          now: () => Date.now() + clockOffsetMs,
          ...init.manager,
          onEvent: (event) => {
            if (event.type.startsWith("store-")) events.push(event.type);
          },
          creator: async ({ signal }) => {
            const response = await fetch(init.tokenUrl, {
              method: "POST",
              headers: { "x-worker": workerId },
              signal,
            });
            return response.json();
          },
        });
        // Connected before the test starts, as a running server instance would be.
        for (let attempt = 0; ; attempt++) {
          try {
            await store.get("warm-up");
            break;
          } catch (error) {
            if (attempt === 20) throw error;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
        reply({ type: "ready" });
        break;
      }
      case "burst":
        reply({ type: "burst-done", ...(await burst(message.callers as number)) });
        break;
      case "loop":
        reply({
          type: "loop-done",
          ...(await loop(
            message.durationMs as number,
            message.concurrency as number,
            message.pauseMs as number,
          )),
        });
        break;
      case "stop-loop":
        loopStopped = true;
        break;
      case "advance-clock":
        clockOffsetMs += message.ms as number;
        reply({ type: "clock-advanced" });
        break;
      case "stats":
        reply({ type: "stats", stats: manager!.stats(), events });
        break;
      case "leave":
        // Neither dispose nor close: the process must still exit once its work is done.
        process.disconnect();
        break;
      case "close":
        await manager?.dispose();
        await store?.close();
        reply({ type: "closed" });
        process.disconnect();
        break;
    }
  } catch (error) {
    reply({ type: "error", error: describeError(error) });
  }
});
