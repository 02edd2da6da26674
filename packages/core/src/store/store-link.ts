/**
 * Store coordination: how managers in several processes share one {@link Store}.
 *
 * - The in-process cache (L1) stays in front: a warm `getToken` touches neither store nor network.
 * - On a miss the store is read first; a usable token another instance fetched is taken as is.
 * - When the store offers leases, one instance takes the lease of the identity, fetches, writes the
 *   set and releases; the others poll the store with bounded backoff and take over the lease when it
 *   expires (its holder died or overran).
 * - Every store call has a short timeout. A failing store puts the link in degraded mode: fetches
 *   go straight to the creator (per process), the store is probed again at an interval, and sharing
 *   resumes as soon as it answers. No caller fails because the store failed.
 */
import { TimeoutError } from "../errors/errors.js";
import { createDeadline, within } from "../internal/deadline.js";
import type { TimerSet } from "../internal/timers.js";
import { isObject } from "../options/rules.js";
import { isTokenSet } from "../token/token-response.js";
import type { JsonValue, TokenSet } from "../token/token-set.js";
import type { LeaseRelease, Store } from "./store.js";

/** A token set with the moment its request was sent: what the store holds per identity. */
export interface Obtained {
  readonly set: TokenSet;
  readonly obtainedAt: number;
}

/** What a store call returns when the store failed, timed out, or is skipped while degraded. */
export const FAILED: unique symbol = Symbol("store failed");

/** Store access with timeouts and degraded-mode bookkeeping. */
export interface StoreLink {
  readonly store: Store;
  /** The clock and timers the link was made with. */
  readonly now: () => number;
  readonly timers: TimerSet;
  /** Runs one store operation; `FAILED` instead of throwing. */
  call<T>(operation: (store: Store) => Promise<T>): Promise<T | typeof FAILED>;
  /** Failure counters and the degraded state. */
  state(): {
    storeFailures: number;
    storeDegradedCount: number;
    storeDegradedMs: number;
    storeDegraded: boolean;
  };
}

/** Options of {@link createStoreLink}. */
export interface StoreLinkOptions {
  readonly store: Store;
  readonly timeoutMs: number;
  readonly probeIntervalMs: number;
  readonly now: () => number;
  readonly timers: TimerSet;
  /** Called once when the link becomes degraded (with the error) and once when it recovers. */
  readonly onChange: (degraded: boolean, error?: unknown) => void;
}

/** Wraps a store with a timeout per call and degraded-mode tracking. */
export function createStoreLink(options: StoreLinkOptions): StoreLink {
  const { store, timeoutMs, now, timers } = options;
  let failures = 0;
  let degradedCount = 0;
  let degradedMs = 0;
  let degradedSince: number | undefined;
  let probeAt = 0;

  const withTimeout = <T>(promise: Promise<T>) =>
    within(
      promise,
      createDeadline(timers, {
        timeoutMs,
        timeoutReason: () => new TimeoutError(`store did not answer within ${timeoutMs} ms`, { timeoutMs }),
      }),
    );

  return {
    store,
    now,
    timers,
    async call(operation) {
      if (degradedSince !== undefined && now() < probeAt) return FAILED;
      try {
        const value = await withTimeout(operation(store));
        if (degradedSince !== undefined) {
          degradedMs += now() - degradedSince;
          degradedSince = undefined;
          options.onChange(false);
        }
        return value;
      } catch (error) {
        failures++;
        probeAt = now() + options.probeIntervalMs;
        if (degradedSince === undefined) {
          degradedSince = now();
          degradedCount++;
          options.onChange(true, error);
        }
        return FAILED;
      }
    },
    state() {
      return {
        storeFailures: failures,
        storeDegradedCount: degradedCount,
        storeDegradedMs: degradedMs + (degradedSince === undefined ? 0 : now() - degradedSince),
        storeDegraded: degradedSince !== undefined,
      };
    },
  };
}

/** The JSON a store holds for one identity (`undefined` fields vanish when the store serializes it). */
function encodeObtained(obtained: Obtained): JsonValue {
  return obtained as unknown as JsonValue;
}

/** Reads what {@link encodeObtained} wrote; anything else (another version, garbage) is a miss. */
export function decodeObtained(value: unknown): Obtained | undefined {
  return isObject(value) && typeof value.obtainedAt === "number" && isTokenSet(value.set)
    ? (value as unknown as Obtained)
    : undefined;
}

/** The lease settings of {@link coordinatedFetch}, from `shareStore`'s options. */
export interface LeaseSettings {
  readonly leaseTtlMs: number;
  readonly pollMinMs: number;
  readonly pollMaxMs: number;
}

/** One coordinated fetch. */
export interface CoordinatedFetchOptions {
  /** Store key of the identity's token set. */
  readonly valueKey: string;
  /** Store key of the identity's fetch lease. */
  readonly leaseKey: string;
  /** Whether a set found in the store will do (usable, and not the token being replaced). */
  readonly accept: (found: Obtained) => boolean;
  /** Fetches locally; `previous` is the newest set the store had, if any. */
  readonly fetch: (previous: TokenSet | undefined) => Promise<Obtained>;
  /** Aborts the polling (dispose). */
  readonly signal: AbortSignal;
  /** Counted here. */
  readonly counters: { storeHits: number; storeWrites: number; leaseWaits: number };
}

/**
 * While the fetch runs, renews the lease every half `leaseTtlMs` when the store offers `renew`, so a
 * slow fetch keeps its lease instead of being duplicated by another instance. Returns the stop.
 */
function keepLease(link: StoreLink, release: LeaseRelease, { leaseTtlMs }: LeaseSettings): () => void {
  const renew = release.renew;
  if (typeof renew !== "function") return () => {};
  let stopped = false;
  let cancel = () => {};
  const schedule = () => {
    cancel = link.timers.schedule(async () => {
      const kept = await link.call(() => renew.call(release, leaseTtlMs));
      if (kept === true && !stopped) schedule();
    }, leaseTtlMs / 2);
  };
  schedule();
  return () => {
    stopped = true;
    cancel();
  };
}

/**
 * One fetch of one identity across every instance sharing the store: read, else lease and fetch,
 * else wait for the lease holder's result (or its lease to expire).
 */
export async function coordinatedFetch(
  link: StoreLink,
  settings: LeaseSettings,
  options: CoordinatedFetchOptions,
): Promise<Obtained> {
  const { valueKey, accept, counters } = options;
  let previous: TokenSet | undefined;
  // undefined: nothing usable (yet); FAILED: the store is out, fetch per process.
  const read = async (): Promise<Obtained | undefined | typeof FAILED> => {
    const value = await link.call((store) => store.get(valueKey));
    if (value === FAILED) return FAILED;
    const found = decodeObtained(value);
    if (found === undefined) return undefined;
    if (accept(found)) {
      counters.storeHits++;
      return found;
    }
    previous = found.set;
    return undefined;
  };
  const fetchAndWrite = async () => {
    const obtained = await options.fetch(previous);
    const ttlMs = obtained.set.expiresAt - link.now();
    if (ttlMs > 0) {
      const written = await link.call((store) => store.set(valueKey, encodeObtained(obtained), ttlMs));
      if (written !== FAILED) counters.storeWrites++;
    }
    return obtained;
  };

  let found = await read();
  if (found === FAILED) return options.fetch(previous);
  if (found !== undefined) return found;
  if (link.store.acquire === undefined) return fetchAndWrite();
  let delayMs = settings.pollMinMs;
  let waited = false;
  for (;;) {
    const release = await link.call((store) => store.acquire!(options.leaseKey, settings.leaseTtlMs));
    if (release === FAILED) return options.fetch(previous);
    if (release !== undefined) {
      const stopRenewing = keepLease(link, release, settings);
      try {
        // The previous holder may have written between our read and our lease.
        found = await read();
        if (found !== undefined && found !== FAILED) return found;
        return await fetchAndWrite();
      } finally {
        stopRenewing();
        void link.call(() => release());
      }
    }
    if (!waited) {
      waited = true;
      counters.leaseWaits++;
    }
    await link.timers.sleep(delayMs, options.signal);
    delayMs = Math.min(delayMs * 2, settings.pollMaxMs);
    found = await read();
    if (found === FAILED) return options.fetch(previous);
    if (found !== undefined) return found;
  }
}
