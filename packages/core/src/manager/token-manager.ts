/**
 * The token manager: one object that hands out valid tokens for any number of identities.
 *
 * A `getToken` call goes: cache hit (the fast path: one map lookup, one clock read) -> inside the
 * refresh-ahead window: return the current token and start one background refresh -> otherwise join
 * or start the one fetch of that identity (single-flight), which reads the shared store if there is
 * one, calls the creator with retries, and installs the result. The rules live in their own files:
 * skew.ts, refresh-ahead.ts, single-flight.ts, backoff.ts, throttle.ts, identity.ts, internal/windows.ts,
 * shared-store.ts (the contract with `shareStore`), events.ts, stats.ts, timers.ts.
 */

import { InvalidResponseError, TokenkeepError } from "../errors/errors.js";
import { isTransientError, refusedBeforeRedeeming } from "../errors/failure-classification.js";
import { createDeadline, notWithin, within } from "../internal/deadline.js";
import { boundedSet, type Hot } from "../internal/lru.js";
import { createTimerSet, runtimeTimers } from "../internal/timers.js";
import { createWindows } from "../internal/windows.js";
import type { Obtained } from "../shared/shared-store.js";
import type { TokenCreatorResult, TokenIdentity } from "../token/token-creator.js";
import { toTokenSet } from "../token/token-response.js";
import { authorizationOf, type TokenSet } from "../token/token-set.js";
import { backoffDelayMs, retryAfterOf, retryDelayMs } from "./backoff.js";
import type { TokenEvent, TokenEventType } from "./events.js";
import { DEFAULT_IDENTITY_KEY, identityKey } from "./identity.js";
import { refreshAheadAt } from "./refresh-ahead.js";
import { abandoned, checkTimeoutMs, type Flight, type WaitOptions, waitFor } from "./single-flight.js";
import { effectiveSkewMs } from "./skew.js";
import { createCounters, type TokenManagerStats } from "./stats.js";
import { throttledError } from "./throttle.js";
import { resolveTokenManagerOptions, type TokenManagerOptions } from "./token-manager-options.js";

/** Options of one `getToken` call. */
export interface GetTokenOptions<I extends TokenIdentity = TokenIdentity> extends WaitOptions {
  /**
   * Which token: the cache and single-flight key. Omit it for a manager that serves one identity.
   * @default {} (the default identity)
   */
  identity?: I | undefined;
  /**
   * Abandons this caller's wait (not the shared fetch others wait on) with an `AbortError` whose
   * `cause` is the signal's reason (for `AbortSignal.timeout()`, its `TimeoutError`). A signal that
   * has already aborted starts no fetch for the caller to wait on: without a usable token the call
   * rejects at once; with one, the caller gets it as on any call (inside the refresh-ahead window,
   * the call starts the background refresh any call would, which nobody waits for).
   */
  signal?: AbortSignal | undefined;
  /** Abandons this caller's wait after this long with a `TimeoutError`. No limit by default. */
  timeoutMs?: number | undefined;
  /** Ignore the cached token and fetch a new one (joining a fetch already in flight). */
  forceRefresh?: boolean | undefined;
}

/** Options of {@link TokenManager.invalidate}. */
export interface InvalidateOptions<I extends TokenIdentity = TokenIdentity> {
  /** The identity the token was obtained for. */
  identity?: I | undefined;
}

/** Hands out valid tokens: cached, refreshed ahead of expiry, fetched once per identity. */
export interface TokenManager<I extends TokenIdentity = TokenIdentity> extends AsyncDisposable {
  /**
   * A usable token set for the identity: from the cache when possible, otherwise from the one fetch
   * in flight for that identity. Rejects with the creator's error (after retries, for transient
   * ones), a `TokenkeepError` with code `ERR_TOKENKEEP_THROTTLED` inside a throttle window,
   * `AbortError`/`TimeoutError` for this caller's own signal/timeout, or `ERR_TOKENKEEP_DISPOSED`.
   */
  getToken(options?: GetTokenOptions<I>): Promise<TokenSet>;
  /** The `Authorization` header value for the token, e.g. `Bearer eyJ...`. */
  getAuthorizationHeader(options?: GetTokenOptions<I>): Promise<string>;
  /**
   * Drops the cached token if (and only if) it is `token`: call it when a request with that token
   * got a 401. A burst of 401s for one token thus causes one refresh. A token fetched to replace an
   * invalidated one is not dropped within `unauthorizedCooldownMs` of its arrival (resolves `false`):
   * an API that rejects every token costs one token request per cooldown, not one per call.
   * Resolves `true` when dropped.
   * The refresh token of the dropped set is kept for the next refresh. After `dispose` it resolves
   * `false` and touches nothing (like `peek`, which finds nothing; `getToken` rejects instead).
   */
  invalidate(token: string | TokenSet, options?: InvalidateOptions<I>): Promise<boolean>;
  /** The cached, usable token set of the identity, or `undefined`. Synchronous; never fetches. */
  peek(identity?: I): TokenSet | undefined;
  /** A snapshot of the counters. */
  stats(): TokenManagerStats;
  /** Clears every cache entry and timer, aborts fetches in flight and rejects their waiters. */
  dispose(): Promise<void>;
}

/** A cached token set with its computed timeline. */
interface Entry extends Hot {
  set: TokenSet;
  /** Until when it is handed out: `expiresAt - skew`. */
  usableUntil: number;
  /** From when `getToken` starts a background refresh. */
  aheadAt: number;
  /** After a failed background refresh: when the next one may start. */
  retryAt: number;
  /** Background refreshes that failed in a row. */
  failures: number;
  /** Until when `invalidate` leaves it cached (it replaced an invalidated token). */
  keepUntil: number;
}

const EMPTY_IDENTITY: TokenIdentity = Object.freeze({});

function disposedError(): TokenkeepError {
  return new TokenkeepError("ERR_TOKENKEEP_DISPOSED", "the token manager was disposed");
}

/**
 * Creates a token manager.
 *
 * @example
 * ```ts
 * const manager = createTokenManager({ creator: clientCredentialsGrant({ tokenUrl, clientId, clientSecret }) });
 * const { accessToken } = await manager.getToken();
 * ```
 * @throws TypeError (code `ERR_TOKENKEEP_INVALID_OPTIONS`) for invalid options.
 */
export function createTokenManager<I extends TokenIdentity = TokenIdentity>(
  options: TokenManagerOptions<I>,
): TokenManager<I> {
  const config = resolveTokenManagerOptions(options);
  const { creator, refresher, onEvent, now: clock, retry, maxEntries, random } = config;
  const timers = createTimerSet(config.timers ?? runtimeTimers());
  const entries = new Map<string, Entry>();
  const flights = new Map<string, Flight<TokenSet>>();
  // Per identity: until when the server asked to be left alone (throttle.ts), and a permanent
  // failure remembered for `failureCacheMs`, so wrong credentials cost one request per window.
  const throttle = createWindows<undefined>(maxEntries);
  const failures = createWindows<unknown>(maxEntries);
  // Per identity: the last refresh token dropped as spent or in doubt, stripped from any set read
  // later (the cache's, or another instance's copy in the store), so it is never presented again.
  const dropped = createWindows<string | undefined>(maxEntries);
  const counters = createCounters();
  let disposed = false;

  /** Sends one event to the hook (call sites check `onEvent` first, so no event is built for nobody). */
  const emit = (type: TokenEventType, key: string, fields?: Omit<TokenEvent, "type" | "key" | "at">) => {
    try {
      onEvent?.({ type, key, at: clock(), ...fields });
    } catch {
      // A faulty hook must not break token handling.
    }
  };

  const shared = config.shared?.attach({
    now: clock,
    timers,
    counters,
    onChange: (degraded, error) =>
      onEvent && emit(degraded ? "store-degraded" : "store-recovered", "", { error }),
  });

  /** The timeline of a freshly obtained set. */
  const makeEntry = ({ set, obtainedAt }: Obtained): Entry => {
    const usableUntil =
      set.expiresAt - effectiveSkewMs(set.expiresAt - obtainedAt, config.skewMs, config.maxSkewFraction);
    const aheadAt = refreshAheadAt(obtainedAt, set.expiresAt, set.refreshAt, usableUntil, config);
    return { set, usableUntil, aheadAt, retryAt: aheadAt, failures: 0, keepUntil: 0, hot: false };
  };

  /**
   * Obtains a new set from the refresher or creator, retrying transient failures. `signal` aborts at
   * the flight's deadline, `budgetEnd`: no retry starts that could not end before it.
   */
  const obtain = async (
    key: string,
    identity: I,
    previous: TokenSet | undefined,
    signal: AbortSignal,
    budgetEnd: number,
  ): Promise<Obtained> => {
    const strip = ({ refreshToken: _, refreshTokenExpiresAt: __, ...rest }: TokenSet): TokenSet => rest;
    if (previous?.refreshToken === dropped.get(key, 0)?.value) previous &&= strip(previous);
    // No expiry (`undefined <= now` is false) or not yet expired.
    let useRefresher =
      refresher !== undefined &&
      previous?.refreshToken !== undefined &&
      !(previous.refreshTokenExpiresAt! <= clock());
    for (let attempt = 0; ; attempt++) {
      const sentAt = clock();
      try {
        counters.creatorCalls++;
        // One creator call, bounded by `creatorTimeoutMs` and by the flight's signal (its deadline).
        const fn = useRefresher ? refresher! : creator;
        const { creatorTimeoutMs: timeoutMs } = config;
        const deadline = createDeadline(timers, signal, timeoutMs, () =>
          notWithin("token creator did not answer", timeoutMs),
        );
        // A creator that throws instead of rejecting rejects this promise all the same.
        const answer = await within(
          new Promise<TokenCreatorResult>((resolve) =>
            resolve(fn({ signal: deadline.signal, previous, identity })),
          ),
          deadline,
        );
        const set = toTokenSet(answer, { sentAt, defaultLifetimeMs: config.defaultLifetimeMs, previous });
        const obtained = { set, obtainedAt: sentAt };
        if (clock() >= makeEntry(obtained).usableUntil) {
          throw new InvalidResponseError("the token arrived already expired", {
            transient: true,
          });
        }
        return obtained;
      } catch (error) {
        if (useRefresher && !refusedBeforeRedeeming(error)) {
          // The refresh token is spent, revoked or in doubt: a 502, a reset or a timeout may come
          // after the server rotated it, and a rotated token presented again is a reuse, which
          // revokes the grant. Never present it again: this manager remembers it (`obtain` strips it
          // from any set, the cache's or the store's) and the store forgets it. Obtain a new grant
          // once, with the creator.
          useRefresher = false;
          dropped.open(key, previous!.refreshToken, Infinity);
          await shared?.drop(key, previous!);
          previous = strip(previous!);
          // A refresher aborted by `dispose` is not in doubt: nobody is left to drop it for.
          if (!disposed) {
            counters.refreshTokensDropped++;
            if (onEvent) emit("refresh-token-dropped", key, { error });
          }
          if (!signal.aborted) continue;
        }
        if (signal.aborted) throw signal.reason;
        const delayMs =
          attempt < retry.retries && isTransientError(error) && retryDelayMs(error, attempt, retry, random);
        // No retry that could not finish within the fetch's budget: the caller hears now.
        if (typeof delayMs !== "number" || clock() + delayMs >= budgetEnd) throw error;
        counters.retries++;
        if (onEvent) emit("retry", key, { attempt: attempt + 1, delayMs, error });
        await timers.sleep(delayMs, signal);
      }
    }
  };

  /** Runs one fetch: through the shared store when there is one, else straight to the creator. */
  const fetchToken = (
    key: string,
    identity: I,
    previous: TokenSet | undefined,
    signal: AbortSignal,
    budgetEnd: number,
  ) =>
    shared === undefined
      ? obtain(key, identity, previous, signal, budgetEnd)
      : shared.fetch(key, {
          accept: (found) =>
            found.set.accessToken !== previous?.accessToken && clock() < makeEntry(found).usableUntil,
          // The store's copy, even of our own set: another instance may have dropped its refresh
          // token (`obtain` strips one this manager dropped).
          obtain: (newer) => obtain(key, identity, newer ?? previous, signal, budgetEnd),
          signal,
        });

  /** Starts the one fetch of `key`; every caller of that identity shares its promise. */
  const startFlight = (key: string, identity: I, current: Entry | undefined, background: boolean) => {
    const controller = new AbortController();
    // One deadline per flight, from its start: reading the store, waiting for another instance's
    // lease, every attempt and every backoff end by it, so each caller hears within fetchTimeoutMs
    // (plus one store call's timeout, when one is running as it passes).
    const { fetchTimeoutMs } = config;
    const deadline = createDeadline(timers, controller.signal, fetchTimeoutMs, () =>
      notWithin("no token", fetchTimeoutMs),
    );
    counters.refreshes++;
    if (background) counters.backgroundRefreshes++;
    // The flight is registered before the fetch starts (and before any hook runs), so a creator or
    // hook that calls back into the manager joins this flight instead of starting another.
    let startFetch!: (fetch: Promise<Obtained>) => void;
    // The flight ends with the fetch (or dispose), not at the deadline, which only stops the fetch's
    // own steps: a token obtained in time is kept even when storing it runs late (dropped, a rotated
    // refresh token would be presented again).
    const promise = within(
      new Promise<Obtained>((resolve) => {
        startFetch = resolve;
      }),
      { ...deadline, signal: controller.signal },
    ).then(
      (obtained) => {
        flights.delete(key);
        if (disposed) throw disposedError();
        failures.close(key);
        const entry = makeEntry(obtained);
        // It replaces an invalidated token: if it is rejected as well, a new one will not help.
        if (entries.get(key)?.usableUntil === -1) entry.keepUntil = clock() + config.unauthorizedCooldownMs;
        boundedSet(entries, key, entry, maxEntries);
        counters.refreshSuccesses++;
        if (onEvent) emit("refresh-success", key, { background, expiresAt: entry.set.expiresAt });
        return entry.set;
      },
      (error: unknown) => {
        flights.delete(key);
        counters.refreshFailures++;
        const at = clock();
        if (onEvent) emit("refresh-failure", key, { background, error });
        const transient = isTransientError(error);
        // The server's wait opens a window callers wait out, bounded: a Retry-After years away must
        // not lock the identity out. The background retry below waits for all of it (never past the
        // token's life), whatever maxThrottleMs says.
        const retryAfterMs = (transient && retryAfterOf(error)) || 0;
        const windowMs = Math.min(retryAfterMs, config.maxThrottleMs);
        if (windowMs) throttle.open(key, undefined, at + windowMs);
        if (!transient && config.failureCacheMs > 0 && !disposed) {
          failures.open(key, error, at + config.failureCacheMs);
        }
        if (background && current !== undefined && entries.get(key) === current) {
          // Keep serving the valid token; try again after a backoff, never later than its end.
          current.failures++;
          current.retryAt = Math.min(
            at + Math.max(retryAfterMs, backoffDelayMs(current.failures, retry, random)),
            current.usableUntil,
          );
        }
        throw error;
      },
    );
    promise.catch(() => {});
    flights.set(key, { settled: promise, controller });
    if (onEvent) emit("refresh-start", key, { background });
    startFetch(fetchToken(key, identity, current?.set, deadline.signal, clock() + fetchTimeoutMs));
    return promise;
  };

  /** Everything that is not a plain cache hit. */
  const slowPath = async (key: string, entry: Entry | undefined, options: GetTokenOptions<I> | undefined) => {
    if (disposed) throw disposedError();
    const now = clock();
    const identity = options?.identity ?? (EMPTY_IDENTITY as I);
    if (entry !== undefined && options?.forceRefresh !== true && now < entry.usableUntil) {
      // Refresh-ahead window: serve the current token, start one background refresh.
      entry.hot = true;
      counters.hits++;
      // Stale: the last background refresh failed.
      const stale = entry.failures > 0;
      if (stale) counters.staleServed++;
      if (onEvent) emit(stale ? "stale-served" : "hit", key, { expiresAt: entry.set.expiresAt });
      if (now >= entry.retryAt && !flights.has(key) && throttle.get(key, now) === undefined) {
        startFlight(key, identity, entry, true);
      }
      return entry.set;
    }
    // A caller that has already given up starts nothing (as `fetch` does with an aborted signal).
    const signal = options?.signal;
    if (signal?.aborted) throw abandoned(signal.reason);
    const flight = flights.get(key);
    if (flight !== undefined) {
      counters.coalesced++;
      if (onEvent) emit("coalesced", key);
      return waitFor(flight.settled, options, timers);
    }
    const remembered = options?.forceRefresh === true ? undefined : failures.get(key, now);
    if (remembered !== undefined) {
      counters.failuresRecalled++;
      if (onEvent) emit("failure-recalled", key, { error: remembered.value });
      throw remembered.value;
    }
    const remainingMs = (throttle.get(key, now)?.until ?? now) - now;
    if (remainingMs > 0) {
      counters.throttled++;
      if (onEvent) emit("throttled", key, { delayMs: remainingMs });
      throw throttledError(remainingMs);
    }
    counters.misses++;
    if (onEvent) emit("miss", key);
    return waitFor(startFlight(key, identity, entry, false), options, timers);
  };

  // The fast path: a hit costs one map lookup and one clock read, allocates nothing and builds no
  // event object unless a hook is set. Everything else is in `slowPath`.
  const getToken = async (options?: GetTokenOptions<I>): Promise<TokenSet> => {
    if (options?.timeoutMs !== undefined) checkTimeoutMs(options.timeoutMs, "getToken");
    const key = options?.identity === undefined ? DEFAULT_IDENTITY_KEY : identityKey(options.identity);
    const entry = entries.get(key);
    if (entry !== undefined && clock() < entry.aheadAt && options?.forceRefresh !== true) {
      entry.hot = true;
      counters.hits++;
      if (onEvent) emit("hit", key, { expiresAt: entry.set.expiresAt });
      return entry.set;
    }
    return slowPath(key, entry, options);
  };

  const invalidate = async (token: string | TokenSet, options?: InvalidateOptions<I>): Promise<boolean> => {
    const key = identityKey(options?.identity);
    const accessToken = typeof token === "string" ? token : token.accessToken;
    const entry = entries.get(key);
    let dropped = false;
    if (entry !== undefined && entry.set.accessToken === accessToken && entry.usableUntil > -1) {
      if (clock() < entry.keepUntil) {
        counters.invalidationsRefused++;
        return false;
      }
      // Keep the entry (its refresh token serves the next refresh) but make it unusable.
      entry.usableUntil = entry.aheadAt = entry.retryAt = -1;
      dropped = true;
    }
    // A caller waits on the store call: its timeout must keep the process alive (TimerSet.hold).
    if (shared !== undefined) dropped = (await timers.hold(shared.invalidate(key, accessToken))) || dropped;
    return dropped;
  };

  const dispose = async (): Promise<void> => {
    if (disposed) return;
    disposed = true;
    const error = disposedError();
    for (const flight of flights.values()) flight.controller.abort(error);
    flights.clear();
    // The store link first: a store call or probe still running must not arm a timer after the clear.
    shared?.close();
    timers.clear();
    entries.clear();
    throttle.clear();
    failures.clear();
    dropped.clear();
  };

  return {
    getToken,
    getAuthorizationHeader: async (options) => authorizationOf(await getToken(options)),
    invalidate,
    peek(identity) {
      const entry = entries.get(identityKey(identity));
      return entry !== undefined && clock() < entry.usableUntil ? entry.set : undefined;
    },
    stats: () => ({
      ...counters,
      ...(shared?.state() ?? {
        storeFailures: 0,
        storeDegradedCount: 0,
        storeDegradedMs: 0,
        storeDegraded: false,
      }),
      entries: entries.size,
      inFlight: flights.size,
    }),
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}
