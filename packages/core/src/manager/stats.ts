/**
 * Stats: the counters a manager keeps, read with `manager.stats()`.
 */

/** Counters since the manager was created. */
export interface TokenManagerStats {
  /** `getToken` calls answered from the in-process cache. */
  hits: number;
  /** `getToken` calls that found no usable token and started a fetch. */
  misses: number;
  /** Callers that joined a fetch already in flight. */
  coalesced: number;
  /** Fetches started (foreground and background). */
  refreshes: number;
  /** Of those, the ones started in the background (refresh ahead). */
  backgroundRefreshes: number;
  /** Fetches that ended with a token set. */
  refreshSuccesses: number;
  /** Fetches that ended with an error (after their retries). */
  refreshFailures: number;
  /** Calls to the creator or refresher (each retry counts). */
  creatorCalls: number;
  /** Retries of transient failures. */
  retries: number;
  /**
   * Refresh tokens dropped after a refresher failure that did not prove the server left them
   * unredeemed (so they are never presented again; the creator is called instead).
   */
  refreshTokensDropped: number;
  /** Callers answered with a still-valid token after its refresh failed. */
  staleServed: number;
  /** Callers that failed fast inside a throttle window. */
  throttled: number;
  /** Callers that got a remembered permanent failure at once (see `failureCacheMs`). */
  failuresRecalled: number;
  /**
   * `invalidate` calls that left the token cached: it replaced an invalidated one moments ago (see
   * `unauthorizedCooldownMs`).
   */
  invalidationsRefused: number;
  /** Fetches answered by the shared store (another instance had fetched). */
  storeHits: number;
  /** Token sets written to the store. */
  storeWrites: number;
  /** Times a fetch waited for another instance holding the lease. */
  leaseWaits: number;
  /** Store calls that failed or timed out. */
  storeFailures: number;
  /** Times the manager entered degraded (per-process) mode. */
  storeDegradedCount: number;
  /** Total time spent degraded, in ms, including the current period. */
  storeDegradedMs: number;
  /** Whether the store is failing right now. */
  storeDegraded: boolean;
  /** Identities in the in-process cache. */
  entries: number;
  /** Fetches in flight. */
  inFlight: number;
}

/** The counters the manager increments (the derived fields are filled in by `stats()`). */
export type TokenManagerCounters = Omit<
  TokenManagerStats,
  "storeDegraded" | "storeDegradedMs" | "storeDegradedCount" | "storeFailures" | "entries" | "inFlight"
>;

/** Fresh counters at zero. */
export function createCounters(): TokenManagerCounters {
  return {
    hits: 0,
    misses: 0,
    coalesced: 0,
    refreshes: 0,
    backgroundRefreshes: 0,
    refreshSuccesses: 0,
    refreshFailures: 0,
    creatorCalls: 0,
    retries: 0,
    refreshTokensDropped: 0,
    staleServed: 0,
    throttled: 0,
    failuresRecalled: 0,
    invalidationsRefused: 0,
    storeHits: 0,
    storeWrites: 0,
    leaseWaits: 0,
  };
}
