/**
 * @packageDocumentation
 * `@tokenkeep/core/shared`: token managers in several processes sharing one store (`@tokenkeep/redis`),
 * so a fleet fetches each token once. A single process needs none of this, so it lives here rather
 * than in the manager's entry.
 */

import {
  DEFAULT_KEY_PREFIX,
  DEFAULT_LEASE_POLL_MAX_MS,
  DEFAULT_LEASE_POLL_MIN_MS,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_STORE_PROBE_INTERVAL_MS,
  DEFAULT_STORE_TIMEOUT_MS,
} from "../defaults.js";
import { hashIdentityKey } from "../manager/identity.js";
import { methods, number, object, optional, string, validate } from "../options/rules.js";
import type { Store } from "../store/store.js";
import { coordinatedFetch, createStoreLink, decodeObtained, FAILED } from "../store/store-link.js";
import type { SharedStore } from "./shared-store.js";

export type { LeaseRelease, Store } from "../store/store.js";
export type { Obtained } from "../store/store-link.js";
export type {
  SharedStore,
  SharedStoreContext,
  SharedStoreSession,
  SharedStoreState,
} from "./shared-store.js";

/** Options of {@link shareStore}. */
export interface ShareStoreOptions {
  /**
   * Prefix of every key written to the store (then `token:` or `lease:` and a SHA-256 of the
   * identity: never a token, never the identity itself).
   * @default "tokenkeep:"
   */
  keyPrefix?: string | undefined;
  /**
   * Lifetime of the fetch lease (stores with `acquire`): the longest other instances wait for a
   * holder that died. A holder renews it while its fetch runs when the store offers `renew`.
   * @default 15_000
   */
  leaseTtlMs?: number | undefined;
  /**
   * Timeout of every store call; past it the manager fetches per process (degraded).
   * @default 500
   */
  timeoutMs?: number | undefined;
  /**
   * While degraded, the store is tried again at most this often.
   * @default 5_000
   */
  probeIntervalMs?: number | undefined;
}

const optionsRule = () =>
  object({
    keyPrefix: optional(string(), DEFAULT_KEY_PREFIX),
    leaseTtlMs: optional(number({ above: 0, max: 2_147_483_647 }), DEFAULT_LEASE_TTL_MS),
    timeoutMs: optional(number({ above: 0, max: 2_147_483_647 }), DEFAULT_STORE_TIMEOUT_MS),
    probeIntervalMs: optional(number({ min: 0, max: 2_147_483_647 }), DEFAULT_STORE_PROBE_INTERVAL_MS),
  });

const storeRule = () =>
  object({ store: methods<Store>(["get", "set", "delete"], "expected a Store (get, set, delete)") });

/**
 * Makes `store` shared by token managers in several processes (pass the result as the manager's
 * `shared` option):
 *
 * - the manager's in-process cache stays in front: a warm `getToken` touches neither store nor network;
 * - on a miss the store is read first, and a usable token another instance fetched is taken as is;
 * - when the store offers leases (`acquire`), one instance fetches while the others poll the store
 *   with bounded backoff, taking over when the lease expires (its holder died);
 * - every store call has a timeout; a failing store makes the manager fetch per process (degraded,
 *   counted in `stats()`, reported once through `onEvent`) until the store answers again. No caller
 *   fails because the store failed.
 *
 * @example
 * ```ts
 * const manager = createTokenManager({ creator, shared: shareStore(createRedisStore({ url })) });
 * ```
 * @throws TypeError (code `ERR_TOKENKEEP_INVALID_OPTIONS`) when `store` is not a Store or an option is invalid.
 */
export function shareStore(store: Store, options?: ShareStoreOptions): SharedStore {
  validate(storeRule(), { store }, "shareStore");
  const { keyPrefix, leaseTtlMs, timeoutMs, probeIntervalMs } = validate(
    optionsRule(),
    options,
    "shareStore",
  );
  const settings = { leaseTtlMs, pollMinMs: DEFAULT_LEASE_POLL_MIN_MS, pollMaxMs: DEFAULT_LEASE_POLL_MAX_MS };
  return {
    store,
    attach({ now, timers, counters, onChange }) {
      const link = createStoreLink({ store, timeoutMs, probeIntervalMs, now, timers, onChange });
      return {
        async fetch(key, { accept, obtain, signal }) {
          const hash = await hashIdentityKey(key);
          return coordinatedFetch(link, settings, {
            valueKey: `${keyPrefix}token:${hash}`,
            leaseKey: `${keyPrefix}lease:${hash}`,
            accept,
            fetch: obtain,
            signal,
            counters,
          });
        },
        async invalidate(key, accessToken) {
          const at = `${keyPrefix}token:${await hashIdentityKey(key)}`;
          const value = await link.call((shared) => shared.get(at));
          if (value === FAILED || decodeObtained(value)?.set.accessToken !== accessToken) return false;
          return (await link.call((shared) => shared.delete(at))) !== FAILED;
        },
        state: () => link.state(),
      };
    },
  };
}
