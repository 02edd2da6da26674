/**
 * Every default of `@tokenkeep/redis`, in one place. Options are parsed once in
 * {@link createRedisStore} and these fill what the caller left out.
 */

/** Prefix of every key the store writes. */
export const DEFAULT_KEY_PREFIX = "tokenkeep:";

/**
 * Milliseconds one Redis command may take before it fails with a `TimeoutError`. Short on purpose:
 * the token manager treats a slow store as a failing one and keeps serving per process.
 */
export const DEFAULT_TIMEOUT_MS = 500;

/** Milliseconds a connection attempt of a store-owned client may take. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 2_000;

/** Upper bound of the delay between reconnection attempts of a store-owned client. */
export const DEFAULT_MAX_RECONNECT_DELAY_MS = 1_000;

/**
 * After a `READONLY` reply (the node a store-owned client reaches is a replica), the delay between
 * the checks for a primary doubles from the first to the second, so a node that stays a replica
 * costs one connection per instance every 30 s, not a retry storm.
 */
export const REPLICA_CHECK_MIN_MS = 1_000;
export const REPLICA_CHECK_MAX_MS = 30_000;
