/**
 * A refresh token dropped by one instance while another writes a newer set, on a real Redis: the
 * drop's stripped copy replaces only the value it read (`compareAndSet`), encrypted or not.
 */
import { afterAll, describe, expect, it } from "vitest";
import { dropWhileAnotherWrites } from "../../core/test/support/drop-race.js";
import { createRedisStore, type RedisStore } from "../src/index.js";
import { redisUrlOrSkip, uniquePrefix } from "./support/redis-url.js";

const url = redisUrlOrSkip("drop-race.test.ts");
const stores: RedisStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
});

describe.skipIf(!url)("dropping a refresh token on Redis while another instance writes", () => {
  it.each([
    ["plain values", undefined],
    ["encrypted values", crypto.getRandomValues(new Uint8Array(32))],
  ])("%s: the newer set is kept, and renewed with its own refresh token", async (_, encryptionKey) => {
    const result = await dropWhileAnotherWrites(() => {
      const store = createRedisStore({ url: url!, keyPrefix: uniquePrefix("drop"), encryptionKey });
      stores.push(store);
      return store;
    }, "tokenkeep:");
    expect(result.failedA).toMatchObject({ status: 502 });
    expect(result.stored).toMatchObject({ set: { accessToken: "b-2", refreshToken: "rt-b" } });
    expect(result.firstB).toBe("b-2");
    expect(result.secondB).toBe("B-3");
    expect(result.presented).toEqual(["A:rt-1", "B:rt-b"]);
  });
});
