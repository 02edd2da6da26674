import type { Store } from "../../src/store/store.js";

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
