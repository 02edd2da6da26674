import type { Store } from "../../src/store/store.js";
import type { FakeTime } from "./fake-time.js";

/**
 * A store that is down in the slowest way: every read hangs until the test fails it (`failReads`),
 * writes fail at once, and every call is counted. With `leases`, it offers `acquire` (never granted).
 */
export function hangingStore(options: { leases?: boolean } = {}) {
  const pending: ((error: Error) => void)[] = [];
  const counted = { calls: 0 };
  const store: Store = {
    get: () => {
      counted.calls++;
      return new Promise((_, reject) => pending.push(reject));
    },
    set: async () => {
      counted.calls++;
      throw new Error("ECONNREFUSED");
    },
    delete: async () => {
      counted.calls++;
    },
    ...(options.leases
      ? {
          acquire: async () => {
            counted.calls++;
            return undefined;
          },
        }
      : {}),
  };
  /** Fails every read still hanging, as a connection refused. */
  const failReads = () => {
    for (const reject of pending.splice(0)) reject(new Error("ECONNREFUSED"));
  };
  return { store, counted, failReads };
}

/**
 * `inner` whose reads see the store as it was when they started and answer `lagMs` later on `time`'s
 * clock (a replica behind, a slow network): a read that starts before another instance's write misses
 * it, though it answers after.
 */
export function staleReads(inner: Store, time: FakeTime, lagMs: number): Store {
  return {
    ...inner,
    get: async (key) => {
      const value = await inner.get(key);
      await new Promise<void>((resolve) => time.timers.setTimeout(resolve, lagMs));
      return value;
    },
  };
}
