import { DEFAULT_STORE_MAX_ENTRIES } from "../defaults.js";
import { setRecent } from "../internal/lru.js";
import { func, number, object, optional, validate } from "../options/rules.js";
import type { LeaseRelease, Store } from "../store/store.js";
import type { JsonValue } from "../token/token-set.js";

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Most entries (values and leases) held at once; past it the least recently used is evicted.
   * @default 1000
   */
  maxEntries?: number | undefined;
  /**
   * The clock deciding expiry, in epoch ms. Inject one to make TTLs deterministic in tests.
   * @default Date.now
   */
  now?: (() => number) | undefined;
}

/** The in-memory {@link Store}: always offers leases (with `renew`) and compare-and-delete. */
export interface MemoryStore extends Store {
  acquire(key: string, ttlMs: number): Promise<LeaseRelease | undefined>;
  compareAndDelete(key: string, expected: JsonValue): Promise<boolean>;
  /** Entries held right now, including expired ones not yet collected; never above `maxEntries`. */
  readonly size: number;
}

const optionsRule = object({
  maxEntries: optional(number({ min: 1, int: true })),
  now: optional(func<() => number>()),
});

interface Entry {
  /** The value as JSON text, so every `get` returns a fresh copy, as a remote store would. */
  readonly text: string;
  readonly expiresAt: number;
  /** Set on leases: who holds it. */
  readonly owner?: object;
}

function checkTtl(ttlMs: number): void {
  if (!(ttlMs > 0 && ttlMs < Number.POSITIVE_INFINITY)) {
    throw Object.assign(new TypeError("ttlMs must be a finite number above 0"), {
      code: "ERR_TOKENKEEP_INVALID_ARGUMENT",
    });
  }
}

/**
 * Creates the default {@link Store}: a bounded, in-process map with per-entry TTL and leases. Values
 * are kept as JSON text, so what `get` returns is a copy and behaves exactly like a value read back
 * from Redis. Expired entries are dropped when touched, or evicted as least recently used once the
 * map is full. No timer is used, so it never keeps a process alive.
 *
 * Leases (`acquire`) share the key space with values, as `SET key owner NX PX ttl` does in Redis.
 *
 * @throws TypeError (code `ERR_TOKENKEEP_INVALID_OPTIONS`) for invalid options.
 */
export function createMemoryStore(options?: MemoryStoreOptions): MemoryStore {
  const parsed = validate(optionsRule, options, "createMemoryStore");
  const maxEntries = parsed.maxEntries ?? DEFAULT_STORE_MAX_ENTRIES;
  const now = parsed.now ?? Date.now;
  const entries = new Map<string, Entry>();

  /** The live entry under `key`, marked most recently used; drops it when expired. */
  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    entries.delete(key);
    if (entry.expiresAt <= now()) return undefined;
    entries.set(key, entry);
    return entry;
  };

  // Every use re-inserts (`live`), so the oldest key is the least recently used.
  const put = (key: string, entry: Entry): void => setRecent(entries, key, entry, maxEntries);

  return {
    get size() {
      return entries.size;
    },
    async get(key) {
      const entry = live(key);
      return entry === undefined ? undefined : (JSON.parse(entry.text) as JsonValue);
    },
    async set(key, value, ttlMs) {
      checkTtl(ttlMs);
      put(key, { text: JSON.stringify(value), expiresAt: now() + ttlMs });
    },
    async delete(key) {
      entries.delete(key);
    },
    async compareAndDelete(key, expected) {
      const entry = live(key);
      if (entry === undefined || entry.owner !== undefined || entry.text !== JSON.stringify(expected)) {
        return false;
      }
      entries.delete(key);
      return true;
    },
    async acquire(key, ttlMs) {
      checkTtl(ttlMs);
      if (live(key) !== undefined) return undefined;
      const owner = {};
      put(key, { text: '"lease"', expiresAt: now() + ttlMs, owner });
      // Only the holder touches its own lease: one that expired and was taken by someone else stays.
      const held = () => live(key)?.owner === owner;
      return Object.assign(
        async () => {
          if (held()) entries.delete(key);
        },
        {
          async renew(renewTtlMs: number) {
            checkTtl(renewTtlMs);
            if (!held()) return false;
            put(key, { text: '"lease"', expiresAt: now() + renewTtlMs, owner });
            return true;
          },
        },
      );
    },
  };
}
