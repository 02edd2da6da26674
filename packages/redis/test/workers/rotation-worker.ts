/**
 * One "server instance" rotating refresh tokens: a rotation coordinator on the (encrypted) Redis
 * store, redeeming with grants' refresh-token creator. Driven over IPC by the test.
 */
import { createRotationCoordinator, type RotationCoordinator } from "@tokenkeep/core/rotation";
import { refreshTokenGrant } from "@tokenkeep/grants";
import { createRedisStore, type RedisStore } from "../../src/index.js";

let rotation: RotationCoordinator | undefined;
let store: RedisStore | undefined;
const reply = (message: Record<string, unknown>) => process.send?.(message);

process.on("message", async (message: { type: string } & Record<string, unknown>) => {
  try {
    if (message.type === "init") {
      store = createRedisStore({
        url: message.redisUrl as string,
        prefix: message.prefix as string,
        encryptionKey: message.encryptionKey as string,
        commandTimeoutMs: 5_000,
      });
      rotation = createRotationCoordinator({
        store,
        storeTimeoutMs: 5_000,
        redeem: refreshTokenGrant({
          tokenUrl: message.tokenUrl as string,
          clientId: message.clientId as string,
          clientSecret: message.clientSecret as string,
        }),
      });
      await store.get("warm-up");
      reply({ type: "ready" });
    } else if (message.type === "rotate") {
      const callers = message.callers as number;
      const results = await Promise.allSettled(
        Array.from({ length: callers }, () => rotation!.rotate(message.refreshToken as string)),
      );
      const pairs = new Set<string>();
      const errors: string[] = [];
      for (const result of results) {
        if (result.status === "fulfilled")
          pairs.add(`${result.value.accessToken} ${result.value.refreshToken}`);
        else errors.push(String((result.reason as Error)?.message ?? result.reason));
      }
      reply({ type: "rotated", pairs: [...pairs], errors: errors.slice(0, 5), stats: rotation!.stats() });
    } else if (message.type === "close") {
      await rotation?.dispose();
      await store?.close();
      process.disconnect();
    }
  } catch (error) {
    reply({ type: "error", error: String((error as Error)?.message ?? error) });
  }
});
