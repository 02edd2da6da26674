/**
 * `shareStore`: token managers in several processes sharing one {@link Store}, so a fleet fetches
 * each token once. The fetch of an identity runs under the one lease protocol (`store/lease.ts`);
 * a failing store never fails a caller: the manager then fetches per process (fetching a
 * client-credentials token twice harms no one) until the probe finds the store again.
 */
import {
  DEFAULT_KEY_PREFIX,
  DEFAULT_LEASE_POLL_MAX_MS,
  DEFAULT_LEASE_POLL_MIN_MS,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_REDEEMED_TTL_MS,
  DEFAULT_STORE_PROBE_INTERVAL_MS,
  DEFAULT_STORE_TIMEOUT_MS,
} from "../defaults.js";
import { hashIdentityKey } from "../manager/identity.js";
import { duration, isObject, methods, object, optional, string, validate } from "../options/rules.js";
import { type LeaseSettings, leaseMarginMs, underLease } from "../store/lease.js";
import type { Store } from "../store/store.js";
import { createStoreLink, FAILED, type StoreLink } from "../store/store-link.js";
import { isTokenSet } from "../token/token-response.js";
import type { JsonValue, TokenSet } from "../token/token-set.js";
import type { Obtained, SharedStore, SharedStoreSettings } from "./shared-store.js";

/** Options of {@link shareStore}. */
export interface ShareStoreOptions {
  /**
   * Prefix of every key written to the store (then `token:`, `lease:` or `rotation:` and a SHA-256:
   * never a token, never the identity itself).
   * @default "tokenkeep:"
   */
  keyPrefix?: string | undefined;
  /**
   * Lifetime of a lease (stores with `acquire`): the longest other instances wait for a holder that
   * died. The holder renews it every third of its lifetime while it works (stores whose lease has
   * `renew`, as `@tokenkeep/redis` and the memory store do).
   * @default 15_000
   */
  leaseTtlMs?: number | undefined;
  /**
   * Timeout of every store call; past it the store counts as failing (degraded).
   * @default 500
   */
  timeoutMs?: number | undefined;
  /**
   * While the store is failing, a timer reads it this often; the first answer ends degraded mode.
   * @default 5_000
   */
  probeIntervalMs?: number | undefined;
}

const delay = (fallback: number) => optional(duration(), fallback);

/**
 * Reads and conditional writes one `drop` makes at most: each failed write means another instance
 * wrote the set in between; past these, the store keeps what it holds.
 */
const DROP_ATTEMPTS = 3;

const optionsRule = object({
  keyPrefix: optional(string(), DEFAULT_KEY_PREFIX),
  leaseTtlMs: delay(DEFAULT_LEASE_TTL_MS),
  timeoutMs: delay(DEFAULT_STORE_TIMEOUT_MS),
  probeIntervalMs: delay(DEFAULT_STORE_PROBE_INTERVAL_MS),
});

const storeRule = object({
  store: methods<Store>(["get", "set", "delete"], "expected a Store (get, set, delete)"),
});

/** The lease settings every coordinator derives from a shared store's settings. */
export function leaseSettings({ leaseTtlMs }: SharedStoreSettings): LeaseSettings {
  return {
    ttlMs: leaseTtlMs,
    marginMs: leaseMarginMs(leaseTtlMs),
    pollMinMs: DEFAULT_LEASE_POLL_MIN_MS,
    pollMaxMs: DEFAULT_LEASE_POLL_MAX_MS,
  };
}

/** A link to the shared store for one coordinator (its clock, timers and events). */
export function linkShared(
  shared: SharedStore,
  context: Pick<Parameters<SharedStore["attach"]>[0], "now" | "timers" | "onChange">,
): StoreLink {
  const { store, settings } = shared;
  return createStoreLink({
    store,
    timeoutMs: settings.timeoutMs,
    probeIntervalMs: settings.probeIntervalMs,
    probeKey: `${settings.keyPrefix}probe`,
    ...context,
  });
}

/** Reads what the manager wrote for an identity; anything else (another version, garbage) is a miss. */
function decodeObtained(value: unknown): Obtained | undefined {
  return isObject(value) && typeof value.obtainedAt === "number" && isTokenSet(value.set)
    ? (value as unknown as Obtained)
    : undefined;
}

/**
 * Makes `store` shared by token managers in several processes (pass the result as the manager's
 * `shared` option, or as the rotation coordinator's):
 *
 * - the manager's in-process cache stays in front: a warm `getToken` touches neither store nor network;
 * - on a miss the store is read first, and a usable token another instance fetched is taken as is;
 * - when the store offers leases (`acquire`), one instance fetches while the others poll the store
 *   with bounded backoff, taking over when the lease expires (its holder died);
 * - every store call has a timeout; a failing store makes the manager fetch per process (degraded,
 *   counted in `stats()`, reported once through `onEvent`) until a probe finds it answering again.
 *   No caller fails because the store failed.
 *
 * @example
 * ```ts
 * const manager = createTokenManager({ creator, shared: shareStore(createRedisStore({ url })) });
 * ```
 * @throws TypeError (code `ERR_TOKENKEEP_INVALID_OPTIONS`) when `store` is not a Store or an option is invalid.
 */
export function shareStore(store: Store, options?: ShareStoreOptions): SharedStore {
  validate(storeRule, { store }, "shareStore");
  const settings: SharedStoreSettings = validate(optionsRule, options, "shareStore");
  const { keyPrefix } = settings;
  const lease = leaseSettings(settings);
  const shared: SharedStore = {
    store,
    settings,
    attach({ now, timers, counters, onChange }) {
      const link = linkShared(shared, { now, timers, onChange });
      const keys = async (key: string) => {
        const hash = await hashIdentityKey(key);
        return { valueKey: `${keyPrefix}token:${hash}`, leaseKey: `${keyPrefix}lease:${hash}` };
      };
      return {
        async fetch(key, { accept, obtain, signal }) {
          const { valueKey, leaseKey } = await keys(key);
          // The newest set the store had, usable or not: its refresh token serves the next refresh.
          let newer: TokenSet | undefined;
          const read = async (): Promise<Obtained | undefined | typeof FAILED> => {
            const value = await link.call((s) => s.get(valueKey));
            if (value === FAILED) return FAILED;
            const found = decodeObtained(value);
            if (found === undefined) return undefined;
            if (accept(found)) {
              counters.storeHits++;
              return found;
            }
            newer = found.set;
            return undefined;
          };
          // No creator call once the caller's fetch is over (its deadline passed while it waited).
          const obtainNow = () => {
            signal.throwIfAborted();
            return obtain(newer);
          };
          const fetchAndWrite = async () => {
            const obtained = await obtainNow();
            const ttlMs = obtained.set.expiresAt - now();
            if (ttlMs > 0) {
              const value = obtained as unknown as JsonValue;
              if ((await link.call((s) => s.set(valueKey, value, ttlMs))) !== FAILED) counters.storeWrites++;
            }
            return obtained;
          };
          // A failing store never fails a caller: fetch per process.
          const unavailable = obtainNow;
          if (store.acquire === undefined) {
            const found = await read();
            return found === FAILED ? unavailable() : (found ?? fetchAndWrite());
          }
          return underLease(link, lease, {
            leaseKey,
            read,
            // The previous holder may have written between our read and our lease. Losing the lease
            // does not stop the fetch: fetching twice is harmless for a client-credentials token, not
            // for a rotating refresh token a `refresher` redeems (presented twice, it is a reuse: see
            // the README; the rotation coordinator is the safe way to redeem those).
            work: async () => {
              // A lease taken as the deadline passed: no second store call past it.
              signal.throwIfAborted();
              const found = await read();
              return found === FAILED || found === undefined ? fetchAndWrite() : found;
            },
            unavailable,
            onWait: () => counters.leaseWaits++,
            signal,
          });
        },
        async drop(key, set) {
          const at = (await keys(key)).valueKey;
          // The stripped copy replaces only the value read: a newer set another instance wrote
          // since (its own fresh refresh token) is kept, and read again. A store without
          // `compareAndSet` gets a plain `set` (the safe side: that newer set may be replaced, its
          // refresh token lost, but the spent one is never left for an instance to present).
          for (let attempt = 0; attempt < DROP_ATTEMPTS; attempt++) {
            const value = await link.call((s) => s.get(at));
            const found = decodeObtained(value);
            if (value === FAILED || (found !== undefined && found.set.refreshToken !== set.refreshToken))
              return;
            const { refreshToken: _, refreshTokenExpiresAt: __, ...rest } = found?.set ?? set;
            // Not read back (no obtainedAt): counted as obtained at 0, the full skew applies.
            const stripped = { set: rest, obtainedAt: found?.obtainedAt ?? 0 } as unknown as JsonValue;
            const written = await link.call((s) =>
              s.compareAndSet
                ? // A `null` read is a missing key too (common clients answer so): only while absent.
                  s.compareAndSet(at, value ?? undefined, stripped, DEFAULT_REDEEMED_TTL_MS)
                : s.set(at, stripped, DEFAULT_REDEEMED_TTL_MS).then(() => true),
            );
            if (written !== false) return;
          }
        },
        async invalidate(key, accessToken) {
          const at = (await keys(key)).valueKey;
          const value = await link.call((s) => s.get(at));
          if (
            value === FAILED ||
            value === undefined ||
            decodeObtained(value)?.set.accessToken !== accessToken
          ) {
            return false;
          }
          // Only that very value: never a newer token another instance wrote in the meantime.
          const deleted = await link.call((s) =>
            s.compareAndDelete ? s.compareAndDelete(at, value) : s.delete(at).then(() => true),
          );
          return deleted === true;
        },
        state: () => link.state(),
        close: () => link.close(),
      };
    },
  };
  return shared;
}
