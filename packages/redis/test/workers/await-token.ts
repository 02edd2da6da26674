/**
 * The README's "Run this file twice, at the same time" sample as a script: a top-level `await` of one
 * token from a manager sharing Redis, and nothing else to keep the process alive. Prints the token
 * and how often it waited for another instance's lease. Configured by the environment: the Redis URL
 * and the test's key prefix.
 */
import { createTokenManager } from "@tokenkeep/core";
import { shareStore } from "@tokenkeep/core/shared";
import { createRedisStore } from "../../src/index.js";

const url = process.env.TOKENKEEP_REDIS_URL;
const keyPrefix = process.env.TEST_KEY_PREFIX;
await using store = createRedisStore({ url, keyPrefix });
// Prints `lease-wait N` each time the lease is refused (another instance holds it), so the test
// answers once this process is polling: the order of events, not a guess at how long that takes.
// Adds no timer and no I/O: what keeps the process alive is still the manager alone.
let refused = 0;
const watched = new Proxy(store, {
  get(target, name, receiver) {
    const value = Reflect.get(target, name, receiver);
    if (name !== "acquire" || typeof value !== "function") return value;
    return async (...args: Parameters<typeof store.acquire>) => {
      const release = await value.apply(target, args);
      if (release === undefined) console.log(`lease-wait ${++refused}`);
      return release;
    };
  },
});
let calls = 0;
const manager = createTokenManager({
  shared: shareStore(watched, { keyPrefix }),
  creator: async () => ({ access_token: `child-${++calls}`, token_type: "Bearer", expires_in: 3600 }),
});
console.log("started");
const { accessToken } = await manager.getToken();
console.log(accessToken, manager.stats().leaseWaits);
