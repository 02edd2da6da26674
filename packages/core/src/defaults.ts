/**
 * Every default of @tokenkeep/core, in one place. Option schemas read them from here; nothing else
 * hard-codes a number.
 */

/**
 * Lifetime assumed for a token answer without `expires_in` (RFC 6749 makes it optional): one hour.
 * A token is never treated as valid forever; a 401 invalidates it earlier when the server disagrees.
 */
export const DEFAULT_LIFETIME_MS = 3_600_000;

/**
 * How many entries (values and leases) the in-memory store holds: every write drops the entries
 * that have expired; a write past the bound then evicts the least recently used.
 */
export const DEFAULT_STORE_MAX_ENTRIES = 1000;

/**
 * The longest delay a timer can take: runtimes store it in a signed 32-bit integer and fire a longer
 * one at once. Every option that ends up in a timer is bounded by it.
 */
export const MAX_TIMER_MS = 2_147_483_647;

// Token manager (createTokenManager).

/** How many identities the manager's in-process cache holds before evicting the least recently used. */
export const DEFAULT_MANAGER_MAX_ENTRIES = 1000;
/** Expiry margin: a token is used until `expiresAt - skewMs` (capped by `DEFAULT_MAX_SKEW_FRACTION`). */
export const DEFAULT_SKEW_MS = 30_000;
/** The skew never exceeds this fraction of a token's lifetime, so short tokens stay usable. */
export const DEFAULT_MAX_SKEW_FRACTION = 0.2;
/** Fraction of the lifetime after which the next `getToken` starts one background refresh. */
export const DEFAULT_REFRESH_AHEAD_RATIO = 0.75;
/** The refresh-ahead point is moved earlier by up to this fraction of itself, at random. */
export const DEFAULT_REFRESH_AHEAD_JITTER_RATIO = 0.1;
/** Retries of a transient creator failure (so 1 + 3 attempts). */
export const DEFAULT_RETRIES = 3;
/** Cap of the first full-jitter backoff delay; it doubles with each attempt. */
export const DEFAULT_RETRY_BASE_DELAY_MS = 200;
/** Longest backoff delay, and the longest `Retry-After` honoured inline (longer ones fail and throttle). */
export const DEFAULT_RETRY_MAX_DELAY_MS = 10_000;
/**
 * Each creator call is aborted (and counts as a transient failure, retried) after this long: a third
 * of the fetch's budget, so an attempt that hangs leaves time for the retries.
 */
export const DEFAULT_CREATOR_TIMEOUT_MS = 10_000;
/**
 * The whole of one fetch - the shared store and its lease wait, every attempt and every backoff
 * between them - takes at most this long: against a token endpoint that hangs, a caller hears within
 * it, on every instance of a fleet (openid-client uses 30 s too).
 */
export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;
/**
 * The longest throttle window a server's `Retry-After` opens: 5 minutes. A server may ask for any wait
 * (an HTTP date years away, by mistake or not); past this the manager asks again, once per window.
 */
export const DEFAULT_MAX_THROTTLE_MS = 300_000;
/**
 * A permanent failure (bad credentials) is remembered per identity this long: meanwhile callers get
 * it at once instead of each sending another doomed request. 0 turns it off.
 */
export const DEFAULT_FAILURE_CACHE_MS = 5_000;
/**
 * A token fetched because the one before it was invalidated (a 401) is not invalidated again within
 * this long: when it is rejected too, a new token will not help (wrong audience, a stale key set), and
 * each 401 would otherwise cost a token request. 0 turns it off.
 */
export const DEFAULT_UNAUTHORIZED_COOLDOWN_MS = 30_000;
/**
 * The skew never goes below this (servers write `exp` in whole seconds, so a token may die up to a
 * second before `expiresAt`), though never above half the token's lifetime.
 */
export const SKEW_FLOOR_MS = 1_000;
/** Prefix of every key `shareStore` and the rotation coordinator write to a store. */
export const DEFAULT_KEY_PREFIX = "tokenkeep:";
/** Lifetime of the cross-instance fetch lease; a holder that died blocks others at most this long. */
export const DEFAULT_LEASE_TTL_MS = 15_000;
/** Every store call gives up after this long; the manager then works per process (degraded). */
export const DEFAULT_STORE_TIMEOUT_MS = 500;
/** While degraded, the store is tried again at most this often. */
export const DEFAULT_STORE_PROBE_INTERVAL_MS = 5_000;
/** First wait between two store polls while another instance holds the lease; it doubles each time. */
export const DEFAULT_LEASE_POLL_MIN_MS = 20;
/** Longest wait between two store polls while another instance holds the lease. */
export const DEFAULT_LEASE_POLL_MAX_MS = 500;

// Rotation coordinator (createRotationCoordinator).

/**
 * How long a successor entry (and a recorded permanent failure) lives: the window in which a
 * request still carrying the old refresh token gets the new set instead of redeeming again.
 * Keep it short: within it, the old refresh token yields the new pair without a redemption.
 */
export const DEFAULT_SUCCESSOR_TTL_MS = 30_000;
/**
 * How long the "redeemed" marker of a refresh token lives (it holds no token material): within it, a
 * refresh token this deployment already redeemed is never presented upstream again.
 */
export const DEFAULT_REDEEMED_TTL_MS = 86_400_000;
/** The longest one redemption may take, counted from before its lease is requested. */
export const DEFAULT_REDEEM_TIMEOUT_MS = 10_000;
/** How long after a redemption was abandoned before `verifyUnredeemed` is asked about its token. */
export const DEFAULT_IN_DOUBT_SETTLE_MS = 10_000;
/**
 * How many entries the coordinator's own memory store holds when it is given no `shared` store. Each
 * rotation leaves one marker for `redeemedTtlMs` (about 350 bytes of heap) and a successor for
 * `successorTtlMs`, and expired entries go first: about 100,000 rotations a day (70 a minute) are
 * remembered in full, in at most about 40 MB. Past it the oldest markers are forgotten early.
 */
export const DEFAULT_ROTATION_STORE_MAX_ENTRIES = 100_000;
/** How many successors a coordinator also keeps in memory (for its own late arrivals). */
export const RECENT_SUCCESSORS = 1000;
/**
 * How often one rotation reads the marker again after its compare-and-set found it changed. A late
 * writer changes it once or twice; more means the store's `compareAndSet` never matches what its
 * `get` returns, and reading again would go on until the lease ends (forever, on a store that answers
 * without I/O: the timers that end the lease never run).
 */
export const MARKER_REREADS = 4;
