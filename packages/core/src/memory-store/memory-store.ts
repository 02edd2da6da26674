import { DEFAULT_STORE_MAX_ENTRIES } from "../defaults.js";
import { type Expiring, popExpiring, pushExpiring, rebuildExpiring } from "../internal/expiry-queue.js";
import { func, number, object, optional, validate } from "../options/rules.js";
import type { LeaseRelease, Store } from "../store/store.js";
import type { JsonValue } from "../token/token-set.js";

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Most entries (values and leases) held at once. Expired entries go first (at the first write after
   * they expire); a write past it evicts the least recently used live one (counted in `evicted`).
   * @default 1000
   */
  maxEntries?: number | undefined;
  /**
   * The clock deciding expiry, in epoch ms. Inject one to make TTLs deterministic in tests.
   * @default Date.now
   */
  now?: (() => number) | undefined;
}

/** The in-memory {@link Store}: always offers leases (with `renew`), compare-and-delete and compare-and-set. */
export interface MemoryStore extends Store {
  acquire(key: string, ttlMs: number): Promise<LeaseRelease | undefined>;
  compareAndDelete(key: string, expected: JsonValue): Promise<boolean>;
  compareAndSet(
    key: string,
    expected: JsonValue | undefined,
    value: JsonValue,
    ttlMs: number,
  ): Promise<boolean>;
  /** Entries held right now, including expired ones not yet collected; never above `maxEntries`. */
  readonly size: number;
  /**
   * Live entries evicted before their expiry because the store was full, since it was created. Above
   * 0, `maxEntries` is too small for the load: for the rotation coordinator, each one may be the
   * marker that keeps a redeemed refresh token from being presented again.
   */
  readonly evicted: number;
}

const optionsRule = object({
  maxEntries: optional(number({ min: 1, int: true })),
  now: optional(func<() => number>()),
});

interface Entry extends Expiring {
  readonly key: string;
  /** The value as JSON text, so every `get` returns a fresh copy, as a remote store would. */
  readonly text: string;
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
 * from Redis. Expired entries are dropped when touched, and otherwise at the first write after they
 * expire: an expiry queue (a heap) finds them without a scan, so memory follows the live entries.
 * Only a write past `maxEntries` evicts a live entry, the least recently used. No timer is used, so
 * it never keeps a process alive.
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
  // Every entry in expiry order, plus entries since replaced or removed (told apart by identity with
  // `entries`): those are dropped as they come out, or all at once when there are too many.
  let queue: Entry[] = [];
  let evicted = 0;

  /** The live entry under `key`, marked most recently used; drops it when expired. */
  const live = (key: string): Entry | undefined => {
    const entry = entries.get(key);
    if (entry === undefined) return undefined;
    entries.delete(key);
    if (entry.expiresAt <= now()) return undefined;
    entries.set(key, entry);
    return entry;
  };

  /** Whether `key` holds the value `expected` (a value, never a lease), or is absent when `undefined`. */
  const holds = (key: string, expected: JsonValue | undefined): boolean => {
    const entry = live(key);
    if (entry === undefined) return expected === undefined;
    return entry.owner === undefined && entry.text === JSON.stringify(expected);
  };

  /** Stores `entry` as the most recently used (every use re-inserts, in `live`), then evicts. */
  const put = (entry: Entry): void => {
    entries.delete(entry.key);
    entries.set(entry.key, entry);
    pushExpiring(queue, entry);
    // Expired entries go at the first write after they expire, found at the front of the expiry
    // queue (each leaves it once: amortized O(log n) per write, never a scan), so a full store never
    // evicts a live entry while it holds an expired one ...
    const at = now();
    for (let first = queue[0]; first !== undefined; first = queue[0]) {
      const current = entries.get(first.key) === first;
      if (current && first.expiresAt > at) break;
      popExpiring(queue);
      if (current) entries.delete(first.key);
    }
    // ... and past `maxEntries`, the least recently used live ones (a `Map` iterates in insertion order).
    for (const key of entries.keys()) {
      if (entries.size <= maxEntries) break;
      entries.delete(key);
      evicted++;
    }
    if (queue.length > entries.size + (entries.size >> 2) + 64) {
      // Entries replaced, removed or evicted since outnumber a quarter of those held: rebuild from the
      // held ones. That takes a quarter as many writes as entries held, so
      // this too is amortized, and what the queue keeps alive stays within a quarter of the store.
      queue = rebuildExpiring(entries.values());
    }
  };

  return {
    get size() {
      return entries.size;
    },
    get evicted() {
      return evicted;
    },
    async get(key) {
      const entry = live(key);
      return entry === undefined ? undefined : (JSON.parse(entry.text) as JsonValue);
    },
    async set(key, value, ttlMs) {
      checkTtl(ttlMs);
      put({ key, text: JSON.stringify(value), expiresAt: now() + ttlMs });
    },
    async delete(key) {
      entries.delete(key);
    },
    async compareAndDelete(key, expected) {
      // Never an absent key: there is nothing to delete.
      if (expected === undefined || !holds(key, expected)) return false;
      entries.delete(key);
      return true;
    },
    async compareAndSet(key, expected, value, ttlMs) {
      checkTtl(ttlMs);
      if (!holds(key, expected)) return false;
      put({ key, text: JSON.stringify(value), expiresAt: now() + ttlMs });
      return true;
    },
    async acquire(key, ttlMs) {
      checkTtl(ttlMs);
      if (live(key) !== undefined) return undefined;
      const owner = {};
      put({ key, text: '"lease"', expiresAt: now() + ttlMs, owner });
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
            put({ key, text: '"lease"', expiresAt: now() + renewTtlMs, owner });
            return true;
          },
        },
      );
    },
  };
}
