/**
 * One "server instance" rotating refresh tokens: a rotation coordinator on the (encrypted) Redis
 * store, redeeming with grants' refresh-token creator. Driven over IPC by the test.
 *
 * With `gate`, every redemption first announces itself (`redeeming`, with this pid) and waits for the
 * test's `go`, so the test knows which process holds the lease before the request leaves.
 */
import { isTokenkeepError } from "@tokenkeep/core";
import { createRotationCoordinator, type RotationCoordinator } from "@tokenkeep/core/rotation";
import { shareStore } from "@tokenkeep/core/shared";
import { refreshTokenGrant } from "@tokenkeep/grants";
import { createRedisStore, type RedisStore } from "../../src/index.js";

let rotation: RotationCoordinator | undefined;
let store: RedisStore | undefined;
let release: (() => void) | undefined;
const reply = (message: Record<string, unknown>) => process.send?.(message);

process.on("message", async (message: { type: string } & Record<string, unknown>) => {
  try {
    if (message.type === "init") {
      const timeoutMs = (message.storeTimeoutMs as number | undefined) ?? 5_000;
      store = createRedisStore({
        url: message.redisUrl as string,
        keyPrefix: message.prefix as string,
        encryptionKey: message.encryptionKey as string,
        timeoutMs,
      });
      const grant = refreshTokenGrant({
        tokenUrl: message.tokenUrl as string,
        clientId: message.clientId as string,
        clientSecret: message.clientSecret as string,
      });
      rotation = createRotationCoordinator({
        shared: shareStore(store, {
          timeoutMs,
          leaseTtlMs: (message.leaseTtlMs as number | undefined) ?? 15_000,
        }),
        redeemTimeoutMs: message.redeemTimeoutMs as number | undefined,
        redeem: async (context) => {
          if (message.gate === true) {
            const go = new Promise<void>((resolve) => {
              release = resolve;
            });
            reply({ type: "redeeming", pid: process.pid });
            await go;
          }
          return grant(context);
        },
      });
      await store.get("warm-up");
      reply({ type: "ready" });
    } else if (message.type === "go") {
      release?.();
    } else if (message.type === "rotate") {
      const callers = message.callers as number;
      const durations: number[] = [];
      const results = await Promise.allSettled(
        Array.from({ length: callers }, async () => {
          const started = Date.now();
          try {
            return await rotation!.rotate(message.refreshToken as string);
          } finally {
            durations.push(Date.now() - started);
          }
        }),
      );
      const pairs = new Set<string>();
      const errors: string[] = [];
      const codes: string[] = [];
      for (const result of results) {
        if (result.status === "fulfilled")
          pairs.add(`${result.value.accessToken} ${result.value.refreshToken}`);
        else {
          errors.push(String((result.reason as Error)?.message ?? result.reason));
          codes.push(isTokenkeepError(result.reason) ? result.reason.code : "not a tokenkeep error");
        }
      }
      reply({
        type: "rotated",
        pairs: [...pairs],
        errors: errors.slice(0, 5),
        codes,
        fulfilled: results.filter((result) => result.status === "fulfilled").length,
        maxMs: Math.max(...durations),
        stats: rotation!.stats(),
      });
    } else if (message.type === "close") {
      await rotation?.dispose();
      await store?.close();
      process.disconnect();
    }
  } catch (error) {
    reply({ type: "error", error: String((error as Error)?.message ?? error) });
  }
});
