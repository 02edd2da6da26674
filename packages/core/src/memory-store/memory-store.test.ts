import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { describeStoreContract } from "../testing/index.js";
import { createMemoryStore } from "./memory-store.js";

describeStoreContract("memory store", () => createMemoryStore(), { describe, it, expect });

describe("createMemoryStore", () => {
  it("expires entries and leases by the injected clock", async () => {
    let now = 1_000;
    const store = createMemoryStore({ now: () => now });
    await store.set("k", "v", 100);
    now = 1_099;
    expect(await store.get("k")).toBe("v");
    now = 1_100;
    expect(await store.get("k")).toBeUndefined();

    const release = await store.acquire("lease", 50);
    expect(release).toBeTypeOf("function");
    now = 1_149;
    expect(await store.acquire("lease", 50)).toBeUndefined();
    now = 1_150;
    expect(await store.acquire("lease", 50)).toBeTypeOf("function");
  });

  it("never holds more than maxEntries and evicts the least recently used", async () => {
    const store = createMemoryStore({ maxEntries: 3 });
    for (const key of ["a", "b", "c"]) await store.set(key, key, 60_000);
    expect(await store.get("a")).toBe("a"); // a is now the most recently used
    await store.set("d", "d", 60_000);
    expect(store.size).toBe(3);
    expect(await store.get("b")).toBeUndefined();
    expect(await store.get("a")).toBe("a");
    expect(await store.get("c")).toBe("c");
    expect(await store.get("d")).toBe("d");
    for (let index = 0; index < 1000; index++) await store.set(`many-${index}`, index, 60_000);
    expect(store.size).toBe(3);
    expect(await store.get("many-999")).toBe(999);
    expect(store.evicted).toBe(1 + 1000); // b, then a, c, d and the many but the last three
  });

  it("drops expired entries at the next write, so a full store evicts no live one, however old", async () => {
    let now = 0;
    const store = createMemoryStore({ maxEntries: 4, now: () => now });
    // A long-lived entry (a day, as a rotation marker), then short ones (as successors) used after it.
    await store.set("marker", "kept", 86_400_000);
    await store.set("successor-1", 1, 30_000);
    await store.set("successor-2", 2, 30_000);
    await store.set("successor-3", 3, 60_000);
    now = 30_000; // the first two have expired, the third has not
    await store.set("new", "n", 60_000);
    expect(store.size).toBe(3);
    expect(store.evicted).toBe(0);
    expect(await store.get("marker")).toBe("kept");
    expect(await store.get("successor-3")).toBe(3);
    // Nothing expired any more: now the least recently used live entry goes, and is counted.
    await store.set("more-1", 1, 60_000);
    await store.set("more-2", 2, 60_000);
    expect(store.evicted).toBe(1);
    // The least recently used: written before marker and successor-3 were read.
    expect(await store.get("new")).toBeUndefined();
    expect(await store.get("marker")).toBe("kept");
  });

  it("stays exact while entries are replaced and renewed over and over (its expiry queue rebuilt)", async () => {
    let now = 0;
    const store = createMemoryStore({ maxEntries: 10, now: () => now });
    const release = await store.acquire("lease", 1_000);
    for (let round = 0; round < 20_000; round++) {
      now++;
      await store.set(`key-${round % 7}`, round, 500 + (round % 300));
      expect(await release!.renew!(1_000)).toBe(true);
    }
    expect(store.size).toBe(8);
    expect(store.evicted).toBe(0);
    // Past every TTL, the next write drops them all: only the live ones stay.
    now += 2_000;
    await store.set("late", 0, 1_000);
    expect(store.size).toBe(1);
    expect(store.evicted).toBe(0);
    expect(await store.get("late")).toBe(0);
  });

  it("after its expiry queue is rebuilt, still drops expired entries first: no live one is evicted", async () => {
    let now = 0;
    const size = 100;
    const store = createMemoryStore({ maxEntries: size, now: () => now });
    // Even keys expire soon, odd ones late; written from the last key down, so neither the order
    // of the writes nor the least-recently-used order is the order of expiry.
    const ttlOf = (index: number) => (index % 2 === 0 ? 1_000 + index : 1_000_000 - index);
    // Every write after the first pass leaves a replaced entry in the queue; past a quarter of the
    // entries held, plus 64, the queue is rebuilt: once in the second pass, which writes every key
    // for the last time, and once more in the three passes that follow, writing only the odd keys.
    // So the even keys are in the queue only through that last rebuild.
    for (let pass = 0; pass < 5; pass++) {
      for (let index = size - 1; index >= 0; index--) {
        if (pass < 2 || index % 2 === 1) await store.set(`k-${index}`, pass, ttlOf(index));
      }
    }
    expect(store.size).toBe(size);
    now = 2_000; // the 50 even keys have expired
    for (let index = 0; index < size / 2; index++) await store.set(`new-${index}`, index, 60_000);
    expect(store.evicted).toBe(0);
    expect(store.size).toBe(size);
    for (let index = 1; index < size; index += 2) expect(await store.get(`k-${index}`)).toBe(4);
    for (let index = 0; index < size / 2; index++) expect(await store.get(`new-${index}`)).toBe(index);
  });

  it("stores a copy: changing a value after set does not change the stored one", async () => {
    const store = createMemoryStore();
    const value = { list: [1] };
    await store.set("k", value, 60_000);
    value.list.push(2);
    expect(await store.get("k")).toEqual({ list: [1] });
  });

  it("rejects invalid options with a TypeError listing path: message", () => {
    for (const options of [{ maxEntries: 0 }, { maxEntries: 1.5 }, { now: 3 }]) {
      let error: unknown;
      try {
        createMemoryStore(options as never);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(TypeError);
      expect((error as { code: string }).code).toBe("ERR_TOKENKEEP_INVALID_OPTIONS");
      const [issue] = (error as { cause: string[] }).cause;
      expect(issue).toMatch(new RegExp(`^${Object.keys(options)[0]}: `));
    }
  });

  it("behaves like a reference model (expired entries first, then LRU) under any sequence of operations", async () => {
    type Op =
      | { type: "set"; key: string; value: number; ttlMs: number }
      | { type: "get" | "delete"; key: string }
      | { type: "acquire"; key: string; ttlMs: number }
      | { type: "advance"; ms: number };
    const key = fc.constantFrom("a", "b", "c", "d", "e");
    const ttlMs = fc.integer({ min: 1, max: 50 });
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ type: fc.constant("set" as const), key, value: fc.integer(), ttlMs }),
      fc.record({ type: fc.constantFrom("get" as const, "delete" as const), key }),
      fc.record({ type: fc.constant("acquire" as const), key, ttlMs }),
      fc.record({ type: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 30 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(op, { maxLength: 60 }),
        async (maxEntries, ops) => {
          let now = 0;
          const store = createMemoryStore({ maxEntries, now: () => now });
          // The model: entries from least to most recently used; a write drops every expired entry,
          // then, past `maxEntries`, the least recently used.
          let model: { key: string; value: unknown; expiresAt: number }[] = [];
          let evicted = 0;
          const touch = (k: string) => {
            const entry = model.find((item) => item.key === k);
            model = model.filter((item) => item.key !== k);
            if (entry === undefined || entry.expiresAt <= now) return undefined;
            model.push(entry);
            return entry;
          };
          const put = (k: string, value: unknown, ttl: number) => {
            model = model.filter((item) => item.key !== k);
            model.push({ key: k, value, expiresAt: now + ttl });
            model = model.filter((item) => item.expiresAt > now);
            while (model.length > maxEntries) {
              model.shift();
              evicted++;
            }
          };
          for (const step of ops) {
            if (step.type === "advance") now += step.ms;
            else if (step.type === "set") {
              await store.set(step.key, step.value, step.ttlMs);
              put(step.key, step.value, step.ttlMs);
            } else if (step.type === "get") {
              expect(await store.get(step.key)).toEqual(touch(step.key)?.value);
            } else if (step.type === "delete") {
              await store.delete(step.key);
              model = model.filter((item) => item.key !== step.key);
            } else if (step.type === "acquire") {
              const release = await store.acquire(step.key, step.ttlMs);
              const free = touch(step.key) === undefined;
              expect(release !== undefined).toBe(free);
              if (free) put(step.key, "lease", step.ttlMs);
            }
            expect(store.size).toBeLessThanOrEqual(maxEntries);
            expect(store.size).toBe(model.length);
            expect(store.evicted).toBe(evicted);
          }
        },
      ),
    );
  });
});
