/**
 * The options of `createTokenManager`, validated once at the boundary. Defaults live in `defaults.ts`.
 */

import {
  DEFAULT_CREATOR_TIMEOUT_MS,
  DEFAULT_FAILURE_CACHE_MS,
  DEFAULT_FETCH_TIMEOUT_MS,
  DEFAULT_LIFETIME_MS,
  DEFAULT_MANAGER_MAX_ENTRIES,
  DEFAULT_MAX_SKEW_FRACTION,
  DEFAULT_MAX_THROTTLE_MS,
  DEFAULT_REFRESH_AHEAD_JITTER_RATIO,
  DEFAULT_REFRESH_AHEAD_RATIO,
  DEFAULT_RETRIES,
  DEFAULT_RETRY_BASE_DELAY_MS,
  DEFAULT_RETRY_MAX_DELAY_MS,
  DEFAULT_SKEW_MS,
  DEFAULT_UNAUTHORIZED_COOLDOWN_MS,
} from "../defaults.js";
import type { Timers } from "../internal/timers.js";
import { defaulted, duration, func, methods, number, object, optional, validate } from "../options/rules.js";
import type { SharedStore } from "../shared/shared-store.js";
import type { TokenCreator, TokenIdentity } from "../token/token-creator.js";
import type { RetryPolicy } from "./backoff.js";
import type { TokenEventHandler } from "./events.js";

/** Options of `createTokenManager`. Only `creator` is required. */
export interface TokenManagerOptions<I extends TokenIdentity = TokenIdentity> {
  /** Obtains a token for an identity (see `@tokenkeep/grants`). */
  creator: TokenCreator<I>;
  /**
   * Used instead of `creator` when the cached set has a refresh token (for example a refresh-token
   * grant). It is retried only after a failure proving the server did not redeem the token (a 429,
   * the server's own 503, a `use_dpop_nonce` answer, a connection refused or a host name that did
   * not resolve before the request left). After any other failure (`invalid_grant`, a 502, a reset, a timeout) the token may have
   * been rotated: it is dropped, never presented again, and `creator` is called once instead. That
   * proof is read from one request's failure: each call must send at most one request with the token
   * (no retries inside it, an HTTP client's own included). With
   * `shared`, two processes may still present one refresh token (the store failing, a lease holder
   * frozen past its lease): unsafe with rotating refresh tokens, which `createRotationCoordinator`
   * (`@tokenkeep/core/rotation`) redeems once across processes.
   */
  refresher?: TokenCreator<I> | undefined;
  /**
   * A store shared with managers in other processes (`shareStore(createRedisStore(...))` from
   * `@tokenkeep/core/shared`): they then fetch each token once between them. Without it, the
   * in-process cache is the only one.
   * @default undefined (in-process cache only)
   */
  shared?: SharedStore | undefined;
  /**
   * Identities kept in the in-process cache (least recently used evicted first).
   * @default 1000
   */
  maxEntries?: number | undefined;
  /**
   * A token is used until `expiresAt - skewMs`.
   * @default 30_000
   */
  skewMs?: number | undefined;
  /**
   * The skew never exceeds this fraction of the token's lifetime (0 to 0.5).
   * @default 0.2
   */
  maxSkewFraction?: number | undefined;
  /**
   * Fraction of the lifetime after which `getToken` starts a background refresh (0 to 1; 1 turns
   * refresh-ahead off, `refreshAheadJitterRatio` included). A server's `refresh_in` takes precedence.
   * @default 0.75
   */
  refreshAheadRatio?: number | undefined;
  /**
   * Random share by which the refresh-ahead point moves earlier, so a fleet does not refresh at once.
   * @default 0.1
   */
  refreshAheadJitterRatio?: number | undefined;
  /**
   * Lifetime assumed for a token answer without `expires_in`.
   * @default 3_600_000
   */
  defaultLifetimeMs?: number | undefined;
  /**
   * Retries of transient failures (full-jitter exponential backoff, `Retry-After` honoured).
   * @default { retries: 3, baseDelayMs: 200, maxDelayMs: 10_000 }
   */
  retry?: Partial<RetryPolicy> | undefined;
  /**
   * Each creator call is aborted after this long (a transient `TimeoutError`, retried within
   * `fetchTimeoutMs`; a refresher call is not retried: its refresh token is dropped).
   * @default 10_000
   */
  creatorTimeoutMs?: number | undefined;
  /**
   * The whole of one fetch - reading the shared store, waiting for another instance's lease, every
   * attempt and every backoff - takes at most this long from its start (plus one store call's
   * `timeoutMs`, when one is running then); a caller waiting on it then gets the last error (a
   * `TimeoutError` when the fetch was still running). A token obtained in time is kept even when
   * writing it to the store ends later.
   * @default 30_000
   */
  fetchTimeoutMs?: number | undefined;
  /**
   * A permanent failure (bad credentials, `invalid_client`...) is remembered per identity this long:
   * callers without a usable token get it at once instead of each sending another request. 0 turns
   * it off; `forceRefresh` skips it.
   * @default 5_000
   */
  failureCacheMs?: number | undefined;
  /**
   * The longest a server's `Retry-After` keeps an identity throttled: callers without a usable token
   * fail fast with `ERR_TOKENKEEP_THROTTLED` until `min(Retry-After, maxThrottleMs)` has passed,
   * `forceRefresh` included (the server asked to be left alone; being polite to it is the point). The
   * bound keeps a far `Retry-After` (an HTTP date years away) from locking the identity out. 0 turns
   * throttle windows off. A background refresh (a valid token still served) waits for the whole
   * `Retry-After` before its next try, whatever this says, but never past the token's usable life.
   * @default 300_000
   */
  maxThrottleMs?: number | undefined;
  /**
   * A token fetched to replace an invalidated one (a 401) is not invalidated again for this long
   * after it arrived: `invalidate` leaves it cached and resolves `false` (counted as
   * `invalidationsRefused`). When the replacement is rejected too, a new token will not help (wrong
   * audience, a resource server with a stale key set), and an API answering every call with 401 would
   * otherwise cost one token request per call; so it costs one per `unauthorizedCooldownMs`. 0 turns
   * it off; `forceRefresh` still fetches.
   * @default 30_000
   */
  unauthorizedCooldownMs?: number | undefined;
  /**
   * Receives one state object per event (hit, miss, refresh, retry...). Never receives a token.
   * @default undefined
   */
  onEvent?: TokenEventHandler | undefined;
  /**
   * The clock, in epoch ms.
   * @default Date.now
   */
  now?: (() => number) | undefined;
  /**
   * Timer functions. A handle that has `ref`/`unref` (Node, Bun) is ref'd only while a `getToken`
   * caller waits, so a pending call keeps the process alive and an idle manager never does.
   * @default the runtime's setTimeout/clearTimeout
   */
  timers?: Timers | undefined;
  /**
   * Random numbers in [0, 1) for jitter.
   * @default Math.random
   */
  random?: (() => number) | undefined;
}

// Every delay is bounded by MAX_TIMER_MS: a longer timer fires at once in every runtime.
const ms = (fallback: number) => optional(duration({ zero: true }), fallback);
const positiveMs = (fallback: number) => optional(duration(), fallback);
const fraction = (fallback: number, max = 1) => optional(number({ min: 0, max }), fallback);

// Built when a manager is made, not when the module loads: an application that imports only, say,
// the error guards from the root entry does not ship these rules.
const optionsRule = () => {
  const fn = func<(...args: never[]) => unknown>();
  return object({
    creator: fn,
    refresher: optional(fn),
    shared: optional(
      methods<SharedStore>(["attach"], "expected shareStore(store) from @tokenkeep/core/shared"),
    ),
    maxEntries: optional(number({ min: 1, int: true }), DEFAULT_MANAGER_MAX_ENTRIES),
    skewMs: ms(DEFAULT_SKEW_MS),
    maxSkewFraction: fraction(DEFAULT_MAX_SKEW_FRACTION, 0.5),
    refreshAheadRatio: fraction(DEFAULT_REFRESH_AHEAD_RATIO),
    refreshAheadJitterRatio: fraction(DEFAULT_REFRESH_AHEAD_JITTER_RATIO),
    defaultLifetimeMs: positiveMs(DEFAULT_LIFETIME_MS),
    retry: defaulted(
      object({
        retries: optional(number({ min: 0, int: true }), DEFAULT_RETRIES),
        baseDelayMs: ms(DEFAULT_RETRY_BASE_DELAY_MS),
        maxDelayMs: ms(DEFAULT_RETRY_MAX_DELAY_MS),
      }),
    ),
    creatorTimeoutMs: positiveMs(DEFAULT_CREATOR_TIMEOUT_MS),
    fetchTimeoutMs: positiveMs(DEFAULT_FETCH_TIMEOUT_MS),
    failureCacheMs: ms(DEFAULT_FAILURE_CACHE_MS),
    maxThrottleMs: ms(DEFAULT_MAX_THROTTLE_MS),
    unauthorizedCooldownMs: ms(DEFAULT_UNAUTHORIZED_COOLDOWN_MS),
    onEvent: optional(fn),
    // Read when the manager is made (fake timers installed before it are honoured).
    now: optional(fn, Date.now),
    timers: optional(
      methods<Timers>(["setTimeout", "clearTimeout"], "expected { setTimeout, clearTimeout }"),
    ),
    random: optional(fn, Math.random),
  });
};

/** Options after validation, every default filled in. */
export interface ResolvedTokenManagerOptions<I extends TokenIdentity> {
  readonly creator: TokenCreator<I>;
  readonly refresher: TokenCreator<I> | undefined;
  readonly shared: SharedStore | undefined;
  readonly maxEntries: number;
  readonly skewMs: number;
  readonly maxSkewFraction: number;
  readonly refreshAheadRatio: number;
  readonly refreshAheadJitterRatio: number;
  readonly defaultLifetimeMs: number;
  readonly retry: RetryPolicy;
  readonly creatorTimeoutMs: number;
  readonly fetchTimeoutMs: number;
  readonly failureCacheMs: number;
  readonly maxThrottleMs: number;
  readonly unauthorizedCooldownMs: number;
  readonly onEvent: TokenEventHandler | undefined;
  readonly now: () => number;
  readonly timers?: Timers | undefined;
  readonly random: () => number;
}

/** Validates `options` (a `TypeError` with code `ERR_TOKENKEEP_INVALID_OPTIONS` when wrong) and fills in defaults. */
export function resolveTokenManagerOptions<I extends TokenIdentity>(
  options: TokenManagerOptions<I>,
): ResolvedTokenManagerOptions<I> {
  // The rules check that the functions are functions; their signatures are the caller's promise.
  return validate(optionsRule(), options, "createTokenManager") as unknown as ResolvedTokenManagerOptions<I>;
}
