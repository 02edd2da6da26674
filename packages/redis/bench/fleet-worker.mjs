/**
 * One instance of the benchmark's fleet: a token manager on the Redis store (built package), told
 * over IPC when to fire its burst of cold callers.
 */
import { createTokenManager } from "@tokenkeep/core";
import { shareStore } from "@tokenkeep/core/shared";
import { createRedisStore } from "../dist/index.js";

let manager;
let store;

process.on("message", async (message) => {
  if (message.type === "init") {
    store = createRedisStore({ url: message.redisUrl, prefix: message.prefix, commandTimeoutMs: 5_000 });
    manager = createTokenManager({
      shared: shareStore(store, { keyPrefix: message.prefix, timeoutMs: 5_000 }),
      creator: async ({ signal }) => (await fetch(message.tokenUrl, { method: "POST", signal })).json(),
    });
    await store.get("warm-up");
    process.send({ type: "ready" });
  } else if (message.type === "burst") {
    const results = await Promise.allSettled(
      Array.from({ length: message.callers }, () => manager.getToken()),
    );
    const failed = results.filter((result) => result.status === "rejected").length;
    process.send({ type: "done", failed });
  } else if (message.type === "close") {
    await manager.dispose();
    await store.close();
    process.disconnect();
  }
});
