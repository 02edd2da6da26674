import type { Store } from "../store/store.js";
import type { JsonValue } from "../token/token-set.js";

/** The assertions the contract suite uses; vitest's and Jest's `expect` fit. */
export interface StoreContractAssertion {
  /** Strict equality (`Object.is`). */
  toBe(expected: unknown): void;
  /** Deep equality. */
  toEqual(expected: unknown): void;
  /** The value is `undefined`. */
  toBeUndefined(): void;
}

/**
 * The test functions of your runner, passed in so the published suite imports no test framework.
 * With vitest: `{ describe, it, expect }` from `"vitest"`.
 */
export interface StoreContractHarness {
  /** Groups the tests. */
  describe(name: string, body: () => void): void;
  /** Registers one test. */
  it(name: string, body: () => Promise<void>): void;
  /** Starts an assertion. */
  expect(actual: unknown): StoreContractAssertion;
}

/** Options of {@link describeStoreContract}. */
export interface StoreContractOptions {
  /** Called after every test with the store that test created (close a client, flush a prefix). */
  dispose?: ((store: Store) => void | Promise<void>) | undefined;
  /**
   * The TTL of the entries and leases that must expire during a test. The test then waits
   * `3 * shortTtlMs`, so keep it short, but well above the store's expiry resolution.
   * @default 40
   */
  shortTtlMs?: number | undefined;
}

/** A TTL that outlives every test: entries written with it must still be there. */
const LONG_TTL_MS = 60_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function rejects(operation: () => Promise<unknown>): Promise<boolean> {
  try {
    await operation();
    return false;
  } catch {
    return true;
  }
}

/**
 * Registers the behaviour every {@link Store} must have, as tests of your runner: get/set/delete,
 * JSON round-trips, overwrite, TTL expiry, copies on read, and, when the store has `acquire`, lease
 * exclusivity, expiry, owner-checked and idempotent release, exactly one winner among 50
 * concurrent acquirers, and `renew` when the release offers it; `compareAndDelete` and
 * `compareAndSet` when offered.
 *
 * `makeStore` is called once per test. Keys are unique per test (a random prefix), so a shared
 * backend (one Redis database) can serve every test.
 *
 * @example
 * ```ts
 * import { describe, expect, it } from "vitest";
 * import { createMemoryStore } from "@tokenkeep/core/memory-store";
 * import { describeStoreContract } from "@tokenkeep/core/testing";
 *
 * describeStoreContract("memory store", () => createMemoryStore(), { describe, it, expect });
 * ```
 */
export function describeStoreContract(
  name: string,
  makeStore: () => Store | Promise<Store>,
  harness: StoreContractHarness,
  options: StoreContractOptions = {},
): void {
  const { describe, it, expect } = harness;
  const shortTtlMs = options.shortTtlMs ?? 40;
  const expire = () => sleep(shortTtlMs * 3);

  /** Runs `body` with a fresh store and a key maker unique to this test. */
  const test = (title: string, body: (store: Store, key: (name: string) => string) => Promise<void>) =>
    it(title, async () => {
      const store = await makeStore();
      const prefix = `tokenkeep-contract:${Math.random().toString(36).slice(2)}:`;
      try {
        await body(store, (suffix) => prefix + suffix);
      } finally {
        await options.dispose?.(store);
      }
    });

  /** Like `test`, for stores with leases; `acquire` is passed bound. */
  const leaseTest = (
    title: string,
    body: (
      acquire: NonNullable<Store["acquire"]>,
      key: (name: string) => string,
      store: Store,
    ) => Promise<void>,
  ) =>
    test(title, async (store, key) => {
      if (!store.acquire) return; // this store does not offer leases: nothing to check
      await body(store.acquire.bind(store), key, store);
    });

  describe(`${name}: store contract`, () => {
    test("get of an absent key resolves undefined", async (store, key) => {
      expect(await store.get(key("absent"))).toBeUndefined();
    });

    test("set then get round-trips JSON values, nested ones included", async (store, key) => {
      const values: JsonValue[] = [
        'text with ünïcode and "quotes"',
        0,
        -1.5,
        true,
        false,
        null,
        [],
        {},
        [1, "two", [3], { four: 4 }],
        { accessToken: "a", expiresAt: 1_700_000_000_000, raw: { nested: { deep: [null, true] } } },
      ];
      for (const [index, value] of values.entries()) {
        await store.set(key(`value-${index}`), value, LONG_TTL_MS);
      }
      for (const [index, value] of values.entries()) {
        expect(await store.get(key(`value-${index}`))).toEqual(value);
      }
    });

    test("get returns a copy: changing it does not change the stored value", async (store, key) => {
      await store.set(key("copy"), { list: [1] }, LONG_TTL_MS);
      const first = (await store.get(key("copy"))) as { list: number[] };
      first.list.push(2);
      expect(await store.get(key("copy"))).toEqual({ list: [1] });
    });

    test("set overwrites the previous value", async (store, key) => {
      await store.set(key("k"), { version: 1 }, LONG_TTL_MS);
      await store.set(key("k"), { version: 2 }, LONG_TTL_MS);
      expect(await store.get(key("k"))).toEqual({ version: 2 });
    });

    test("delete removes a key; deleting an absent key is not an error", async (store, key) => {
      await store.set(key("k"), "v", LONG_TTL_MS);
      await store.set(key("other"), "kept", LONG_TTL_MS);
      await store.delete(key("k"));
      expect(await store.get(key("k"))).toBeUndefined();
      expect(await store.get(key("other"))).toBe("kept");
      await store.delete(key("k"));
      await store.delete(key("never-set"));
    });

    test("an entry expires after its TTL; others keep theirs", async (store, key) => {
      await store.set(key("short"), "gone soon", shortTtlMs);
      await store.set(key("long"), "stays", LONG_TTL_MS);
      await expire();
      expect(await store.get(key("short"))).toBeUndefined();
      expect(await store.get(key("long"))).toBe("stays");
    });

    test("overwriting an entry replaces its TTL", async (store, key) => {
      await store.set(key("k"), "first", shortTtlMs);
      await store.set(key("k"), "second", LONG_TTL_MS);
      await expire();
      expect(await store.get(key("k"))).toBe("second");
    });

    test("set rejects a TTL that is not a finite number above 0", async (store, key) => {
      for (const ttlMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(await rejects(() => store.set(key("k"), "v", ttlMs))).toBe(true);
      }
      expect(await store.get(key("k"))).toBeUndefined();
    });

    leaseTest("acquire is exclusive until released", async (acquire, key) => {
      const release = await acquire(key("lease"), LONG_TTL_MS);
      expect(typeof release).toBe("function");
      expect(await acquire(key("lease"), LONG_TTL_MS)).toBeUndefined();
      expect(typeof (await acquire(key("another-lease"), LONG_TTL_MS))).toBe("function");
      await release?.();
      const next = await acquire(key("lease"), LONG_TTL_MS);
      expect(typeof next).toBe("function");
      await next?.();
    });

    leaseTest("a lease that is not released expires and another caller can take it", async (acquire, key) => {
      expect(typeof (await acquire(key("lease"), shortTtlMs))).toBe("function");
      await expire();
      const next = await acquire(key("lease"), LONG_TTL_MS);
      expect(typeof next).toBe("function");
      await next?.();
    });

    leaseTest(
      "release by a holder whose lease expired leaves the new holder's lease",
      async (acquire, key) => {
        const stale = await acquire(key("lease"), shortTtlMs);
        await expire();
        const current = await acquire(key("lease"), LONG_TTL_MS);
        expect(typeof current).toBe("function");
        await stale?.();
        expect(await acquire(key("lease"), LONG_TTL_MS)).toBeUndefined();
        await current?.();
        const after = await acquire(key("lease"), LONG_TTL_MS);
        expect(typeof after).toBe("function");
        await after?.();
      },
    );

    leaseTest("release is idempotent and never frees a lease taken since", async (acquire, key) => {
      const first = await acquire(key("lease"), LONG_TTL_MS);
      await first?.();
      await first?.();
      const second = await acquire(key("lease"), LONG_TTL_MS);
      expect(typeof second).toBe("function");
      await first?.();
      expect(await acquire(key("lease"), LONG_TTL_MS)).toBeUndefined();
      await second?.();
    });

    leaseTest("of 50 concurrent acquirers exactly one wins", async (acquire, key) => {
      const results = await Promise.all(Array.from({ length: 50 }, () => acquire(key("lease"), LONG_TTL_MS)));
      const winners = results.filter((release) => typeof release === "function");
      expect(winners.length).toBe(1);
      await winners[0]?.();
    });

    leaseTest("acquire rejects a TTL that is not a finite number above 0", async (acquire, key) => {
      for (const ttlMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(await rejects(() => acquire(key("lease"), ttlMs))).toBe(true);
      }
    });

    leaseTest(
      "renew, when offered, extends the holder's lease and fails once it was lost",
      async (acquire, key) => {
        const release = await acquire(key("lease"), shortTtlMs);
        if (typeof release?.renew !== "function") return; // leases without renewal: nothing to check
        expect(await release.renew(LONG_TTL_MS)).toBe(true);
        await expire();
        // Renewed: still held past its first TTL.
        expect(await acquire(key("lease"), LONG_TTL_MS)).toBeUndefined();
        await release();
        expect(await release.renew(LONG_TTL_MS)).toBe(false);
        const other = await acquire(key("lease"), shortTtlMs);
        expect(await release.renew(LONG_TTL_MS)).toBe(false);
        await other?.();
      },
    );

    test("compareAndDelete, when offered, deletes only the value it was given", async (store, key) => {
      if (typeof store.compareAndDelete !== "function") return; // not offered: nothing to check
      const value = { set: { accessToken: "a" }, obtainedAt: 1 };
      await store.set(key("k"), value, LONG_TTL_MS);
      const read = await store.get(key("k"));
      await store.set(key("k"), { set: { accessToken: "b" }, obtainedAt: 2 }, LONG_TTL_MS);
      expect(await store.compareAndDelete(key("k"), read as JsonValue)).toBe(false);
      expect(await store.get(key("k"))).toEqual({ set: { accessToken: "b" }, obtainedAt: 2 });
      const current = await store.get(key("k"));
      expect(await store.compareAndDelete(key("k"), current as JsonValue)).toBe(true);
      expect(await store.get(key("k"))).toBeUndefined();
      expect(await store.compareAndDelete(key("absent"), "x")).toBe(false);
    });

    test("compareAndSet, when offered, writes only over the value it was given, with its TTL", async (store, key) => {
      if (typeof store.compareAndSet !== "function") return; // not offered: nothing to check
      // `undefined`: only while absent.
      expect(await store.compareAndSet(key("k"), undefined, { version: 1 }, LONG_TTL_MS)).toBe(true);
      expect(await store.compareAndSet(key("k"), undefined, { version: 0 }, LONG_TTL_MS)).toBe(false);
      const read = await store.get(key("k"));
      expect(read).toEqual({ version: 1 });
      // Another writer in between: the stale expectation writes nothing.
      await store.set(key("k"), { version: 2 }, LONG_TTL_MS);
      expect(await store.compareAndSet(key("k"), read as JsonValue, { version: 3 }, LONG_TTL_MS)).toBe(false);
      expect(await store.get(key("k"))).toEqual({ version: 2 });
      const current = await store.get(key("k"));
      expect(await store.compareAndSet(key("k"), current as JsonValue, { version: 3 }, shortTtlMs)).toBe(
        true,
      );
      expect(await store.get(key("k"))).toEqual({ version: 3 });
      expect(await store.compareAndSet(key("absent"), "x", "y", LONG_TTL_MS)).toBe(false);
      expect(await store.get(key("absent"))).toBeUndefined();
      expect(await rejects(() => store.compareAndSet!(key("k"), { version: 3 }, "v", 0))).toBe(true);
      await expire();
      expect(await store.get(key("k"))).toBeUndefined();
    });

    leaseTest("a lease does not touch the values stored under other keys", async (acquire, key, store) => {
      await store.set(key("value"), { kept: true }, LONG_TTL_MS);
      const release = await acquire(key("value:lease"), LONG_TTL_MS);
      expect(await store.get(key("value"))).toEqual({ kept: true });
      await release?.();
      expect(await store.get(key("value"))).toEqual({ kept: true });
    });
  });
}
