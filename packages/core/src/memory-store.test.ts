import { describe, expect, it } from "vitest";
import { createMemoryStore } from "./memory-store.js";
import { describeStoreContract } from "./testing/index.js";

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
});
