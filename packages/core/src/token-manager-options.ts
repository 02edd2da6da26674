/**
 * The options of `createTokenManager`, validated once with zod at the boundary. Defaults live in
 * `defaults.ts`.
 */
import * as z from "zod/mini";
import type { RetryPolicy } from "./backoff.js";
import {
  DEFAULT_CREATOR_TIMEOUT_MS,
  DEFAULT_KEY_PREFIX,
  DEFAULT_LEASE_POLL_MAX_MS,
  DEFAULT_LEASE_POLL_MIN_MS,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_LIFETIME_MS,
  DEFAULT_MANAGER_MAX_ENTRIES,
  DEFAULT_MAX_SKEW_FRACTION,
  DEFAULT_REFRESH_AHEAD_JITTER_RATIO,
  DEFAULT_REFRESH_AHEAD_RATIO,
  DEFAULT_RETRIES,
  DEFAULT_RETRY_BASE_DELAY_MS,
  DEFAULT_RETRY_MAX_DELAY_MS,
  DEFAULT_SKEW_MS,
  DEFAULT_STORE_PROBE_INTERVAL_MS,
  DEFAULT_STORE_TIMEOUT_MS,
} from "./defaults.js";
import type { TokenEventHandler } from "./events.js";
import { functionSchema } from "./internal/function-schema.js";
import { parseOptions } from "./parse-options.js";
import type { Store } from "./store.js";
import type { Timers } from "./timers.js";
import type { TokenCreator, TokenIdentity } from "./token-creator.js";

/** Options of `createTokenManager`. Only `creator` is required. */
export interface TokenManagerOptions<I extends TokenIdentity = TokenIdentity> {
  /** Obtains a token for an identity (see `@tokenkeep/grants`). */
  creator: TokenCreator<I>;
  /**
   * Used instead of `creator` when the cached set has a refresh token (for example a refresh-token
   * grant). When it fails permanently (`invalid_grant`), `creator` is called once instead.
   */
  refresher?: TokenCreator<I> | undefined;
  /**
   * A shared store (e.g. `@tokenkeep/redis`) behind the in-process cache: several instances then
   * fetch once between them. Without it, the in-process cache is the only one.
   * @default undefined (in-process cache only)
   */
  store?: Store | undefined;
  /**
   * Prefix of the keys written to `store`.
   * @default "tokenkeep:"
   */
  keyPrefix?: string | undefined;
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
   * refresh-ahead off). A server's `refresh_in` takes precedence.
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
   * Each creator call is aborted after this long (a transient `TimeoutError`, retried).
   * @default 30_000
   */
  creatorTimeoutMs?: number | undefined;
  /**
   * Lifetime of the cross-instance fetch lease (stores with `acquire`).
   * @default 15_000
   */
  leaseTtlMs?: number | undefined;
  /**
   * Timeout of every store call; past it the manager fetches per process (degraded).
   * @default 500
   */
  storeTimeoutMs?: number | undefined;
  /**
   * While degraded, the store is tried again at most this often.
   * @default 5_000
   */
  storeProbeIntervalMs?: number | undefined;
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
   * Timer functions.
   * @default the runtime's setTimeout/clearTimeout
   */
  timers?: Timers | undefined;
  /**
   * Random numbers in [0, 1) for jitter.
   * @default Math.random
   */
  random?: (() => number) | undefined;
}

const fn = functionSchema<(...args: never[]) => unknown>();
const ms = (fallback: number) => z._default(z.number().check(z.gte(0)), fallback);
const positiveMs = (fallback: number) => z._default(z.number().check(z.gt(0)), fallback);
const fraction = (fallback: number, max = 1) => z._default(z.number().check(z.gte(0), z.lte(max)), fallback);
const isStore = (value: unknown) =>
  typeof value === "object" &&
  value !== null &&
  ["get", "set", "delete"].every((name) => typeof (value as Record<string, unknown>)[name] === "function");
const isTimers = (value: unknown) =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as Timers).setTimeout === "function" &&
  typeof (value as Timers).clearTimeout === "function";

const schema = z.object({
  creator: fn,
  refresher: z.optional(fn),
  store: z.optional(z.custom<Store>(isStore, "expected a Store (get, set, delete)")),
  keyPrefix: z._default(z.string(), DEFAULT_KEY_PREFIX),
  maxEntries: z._default(z.int().check(z.gte(1)), DEFAULT_MANAGER_MAX_ENTRIES),
  skewMs: ms(DEFAULT_SKEW_MS),
  maxSkewFraction: fraction(DEFAULT_MAX_SKEW_FRACTION, 0.5),
  refreshAheadRatio: fraction(DEFAULT_REFRESH_AHEAD_RATIO),
  refreshAheadJitterRatio: fraction(DEFAULT_REFRESH_AHEAD_JITTER_RATIO),
  defaultLifetimeMs: positiveMs(DEFAULT_LIFETIME_MS),
  retry: z.prefault(
    z.object({
      retries: z._default(z.int().check(z.gte(0)), DEFAULT_RETRIES),
      baseDelayMs: ms(DEFAULT_RETRY_BASE_DELAY_MS),
      maxDelayMs: ms(DEFAULT_RETRY_MAX_DELAY_MS),
    }),
    {},
  ),
  creatorTimeoutMs: positiveMs(DEFAULT_CREATOR_TIMEOUT_MS),
  leaseTtlMs: positiveMs(DEFAULT_LEASE_TTL_MS),
  storeTimeoutMs: positiveMs(DEFAULT_STORE_TIMEOUT_MS),
  storeProbeIntervalMs: ms(DEFAULT_STORE_PROBE_INTERVAL_MS),
  onEvent: z.optional(fn),
  now: z.optional(fn),
  timers: z.optional(z.custom<Timers>(isTimers, "expected { setTimeout, clearTimeout }")),
  random: z.optional(fn),
});

/** Options after validation, every default filled in. */
export interface ResolvedTokenManagerOptions<I extends TokenIdentity> {
  readonly creator: TokenCreator<I>;
  readonly refresher: TokenCreator<I> | undefined;
  readonly store?: Store | undefined;
  readonly keyPrefix: string;
  readonly maxEntries: number;
  readonly skewMs: number;
  readonly maxSkewFraction: number;
  readonly refreshAheadRatio: number;
  readonly refreshAheadJitterRatio: number;
  readonly defaultLifetimeMs: number;
  readonly retry: RetryPolicy;
  readonly creatorTimeoutMs: number;
  readonly leaseTtlMs: number;
  readonly storeTimeoutMs: number;
  readonly storeProbeIntervalMs: number;
  readonly pollMinMs: number;
  readonly pollMaxMs: number;
  readonly onEvent: TokenEventHandler | undefined;
  readonly now: () => number;
  readonly timers?: Timers | undefined;
  readonly random: () => number;
}

/** Validates `options` (a `TypeError` with code `ERR_TOKENKEEP_INVALID_OPTIONS` when wrong) and fills in defaults. */
export function resolveTokenManagerOptions<I extends TokenIdentity>(
  options: TokenManagerOptions<I>,
): ResolvedTokenManagerOptions<I> {
  const data = parseOptions(schema, options, "createTokenManager");
  return {
    ...data,
    creator: data.creator as unknown as TokenCreator<I>,
    refresher: data.refresher as unknown as TokenCreator<I> | undefined,
    onEvent: data.onEvent as unknown as TokenEventHandler | undefined,
    now: (data.now as unknown as (() => number) | undefined) ?? Date.now,
    random: (data.random as unknown as (() => number) | undefined) ?? Math.random,
    pollMinMs: DEFAULT_LEASE_POLL_MIN_MS,
    pollMaxMs: DEFAULT_LEASE_POLL_MAX_MS,
  };
}
