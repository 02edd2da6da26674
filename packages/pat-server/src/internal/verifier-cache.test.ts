import { describe, expect, it } from "vitest";
import { createVerifierCache } from "./verifier-cache";

const secret = (byte: number) => new Uint8Array(32).fill(byte);

describe("createVerifierCache", () => {
  it("matches only the same id, secret and PHC", async () => {
    const cache = createVerifierCache({ ttlMs: 1000, maxEntries: 10, now: () => 0 });
    await cache.remember("id", secret(1), "$phc1");
    expect(await cache.matches("id", secret(1), "$phc1")).toBe(true);
    expect(await cache.matches("id", secret(2), "$phc1")).toBe(false);
    expect(await cache.matches("id", secret(1), "$phc2")).toBe(false);
    expect(await cache.matches("other", secret(1), "$phc1")).toBe(false);
  });

  it("forgets after ttlMs and beyond maxEntries, least recently used first", async () => {
    let now = 0;
    const cache = createVerifierCache({ ttlMs: 1000, maxEntries: 2, now: () => now });
    await cache.remember("a", secret(1), "$p");
    await cache.remember("b", secret(1), "$p");
    expect(await cache.matches("a", secret(1), "$p")).toBe(true); // "a" is now the most recent
    await cache.remember("c", secret(1), "$p");
    expect(await cache.matches("b", secret(1), "$p")).toBe(false);
    expect(await cache.matches("a", secret(1), "$p")).toBe(true);
    now = 999;
    expect(await cache.matches("c", secret(1), "$p")).toBe(true);
    now = 1000;
    expect(await cache.matches("c", secret(1), "$p")).toBe(false);
  });
});
