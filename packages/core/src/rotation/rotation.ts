/**
 * Rotation: redeeming a single-use refresh token exactly once across every process that shares a
 * {@link Store}, however many requests arrive with it at once.
 *
 * With rotating refresh tokens, the first redemption returns a new pair and kills the old refresh
 * token; a second redemption of the old one is a reuse, which a reuse-detecting server answers by
 * revoking the whole grant. Parallel requests (prefetch, several tabs, several server instances) all
 * carry the same refresh token, so the coordinator:
 *
 * 1. joins callers in this process on one flight per refresh token (keyed by its SHA-256);
 * 2. reads the *successor* entry: a short-lived record, keyed by the hash of a refresh token that
 *    was already redeemed, holding the set that redemption returned. A late arrival takes it;
 * 3. else takes the lease of that hash (`store.acquire`), checks the successor once more, redeems,
 *    writes the successor and releases. Other instances poll for the successor with bounded
 *    backoff and take the lease over if it expires (its holder died);
 * 4. a permanent OAuth failure (`invalid_grant`) is recorded the same way, briefly, so late
 *    arrivals fail at once instead of presenting the dead token again.
 *
 * A failing store (or one slower than `storeTimeoutMs`) never fails a caller: the coordinator then
 * redeems per process (still one flight per refresh token in this process, and the successors it
 * produced, kept in memory as well, still answer its own late arrivals) until the store answers.
 * Store keys hold a hash of the refresh token, never the token; the successor holds a token set,
 * so give a shared store encryption (`@tokenkeep/redis` has `encryptionKey`).
 */
import {
  DEFAULT_KEY_PREFIX,
  DEFAULT_LEASE_POLL_MAX_MS,
  DEFAULT_LEASE_POLL_MIN_MS,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_STORE_PROBE_INTERVAL_MS,
  DEFAULT_STORE_TIMEOUT_MS,
  DEFAULT_SUCCESSOR_TTL_MS,
  RECENT_SUCCESSORS,
} from "../defaults.js";
import { isOAuthError, OAuthError, TimeoutError, TokenkeepError } from "../errors/errors.js";
import { createDeadline, raceAbort } from "../internal/deadline.js";
import { setRecent } from "../internal/lru.js";
import { createTimerSet, runtimeTimers, type Timers } from "../internal/timers.js";
import { waitFor } from "../manager/single-flight.js";
import { createMemoryStore } from "../memory-store/memory-store.js";
import { func, methods, number, object, optional, string, validate } from "../options/rules.js";
import type { Store } from "../store/store.js";
import { createStoreLink, FAILED } from "../store/store-link.js";
import { isTokenSet, parseTokenResponse, type TokenResponse } from "../token/token-response.js";
import type { JsonValue, TokenSet } from "../token/token-set.js";

export { DEFAULT_SUCCESSOR_TTL_MS } from "../defaults.js";

/** What {@link RotationCoordinatorOptions.redeem} is called with. */
export interface RotationRedeemContext {
  /** The refresh token to redeem. Secret. */
  readonly refreshToken: string;
  /**
   * The set being rotated: the one passed to `rotate`, or, when `rotate` got only a refresh token,
   * an expired set holding just that refresh token. Grant creators read `previous.refreshToken`,
   * so `refreshTokenGrant(...)` from `@tokenkeep/grants` can be passed as `redeem` unchanged.
   */
  readonly previous: TokenSet;
  /** Aborts when the lease runs out (`leaseTtlMs`) or the coordinator is disposed. */
  readonly signal: AbortSignal;
}

/** Redeems a refresh token at the authorization server; returns the new set or the wire answer. */
export type RotationRedeemer = (context: RotationRedeemContext) => Promise<TokenSet | TokenResponse>;

/** The kinds of {@link RotationEvent}. */
export type RotationEventType =
  /** This process redeemed a refresh token. */
  | "redeemed"
  /** The redemption failed (`error` says why). */
  | "redeem-failure"
  /** A caller got the set another redemption produced (in this process or another). */
  | "successor"
  /** A caller joined a rotation already in flight in this process. */
  | "coalesced"
  /** Another instance holds the lease: this one waits for its successor. */
  | "lease-wait"
  /** The store failed or timed out: rotation works per process until it answers. */
  | "store-degraded"
  | "store-recovered";

/** One event. Never carries a token or a hash of one. */
export interface RotationEvent {
  /** What happened. */
  readonly type: RotationEventType;
  /** Epoch ms, from the coordinator's clock. */
  readonly at: number;
  /** For `redeem-failure` and `store-degraded`: what went wrong (log-safe). */
  readonly error?: unknown;
}

/** Counters since the coordinator was created. */
export interface RotationStats {
  /** `rotate` calls. */
  rotations: number;
  /** Redemptions this process made (calls of `redeem`). */
  redemptions: number;
  /** Redemptions that failed (permanent or transient). */
  redeemFailures: number;
  /** Callers answered with a successor another redemption wrote. */
  successorHits: number;
  /** Callers that joined a flight in this process. */
  coalesced: number;
  /** Flights that waited for another instance's lease. */
  leaseWaits: number;
  /** Store calls that failed or timed out. */
  storeFailures: number;
  /** Times the coordinator entered degraded (per-process) mode. */
  storeDegradedCount: number;
  /** Total time spent degraded, in ms, including the current period. */
  storeDegradedMs: number;
  /** Whether the store is failing right now. */
  storeDegraded: boolean;
}

/** Options of {@link createRotationCoordinator}. */
export interface RotationCoordinatorOptions {
  /**
   * The store every instance shares (`@tokenkeep/redis`). Without it, a memory store covers this
   * process only.
   * @default createMemoryStore()
   */
  store?: Store | undefined;
  /** Redeems a refresh token (e.g. `refreshTokenGrant({ issuer, clientId, clientSecret })`). */
  redeem: RotationRedeemer;
  /**
   * Lifetime of a successor entry (see {@link DEFAULT_SUCCESSOR_TTL_MS}).
   * @default 30_000
   */
  successorTtlMs?: number | undefined;
  /**
   * Lifetime of the redemption lease, and the longest a redemption may take (it is aborted then).
   * A holder that died blocks the others at most this long.
   * @default 15_000
   */
  leaseTtlMs?: number | undefined;
  /**
   * Prefix of the store keys; `rotation:successor:` or `rotation:lease:` and the hash follow.
   * @default "tokenkeep:"
   */
  keyPrefix?: string | undefined;
  /**
   * Each store call gives up after this long; the coordinator then redeems per process.
   * @default 500
   */
  storeTimeoutMs?: number | undefined;
  /**
   * While degraded, the store is tried again at most this often.
   * @default 5_000
   */
  storeProbeIntervalMs?: number | undefined;
  /** Receives one {@link RotationEvent} per event. Must not throw (errors are ignored). */
  onEvent?: ((event: RotationEvent) => void) | undefined;
  /**
   * The clock, in epoch ms.
   * @default Date.now
   */
  now?: (() => number) | undefined;
  /**
   * Timer functions (fake ones make tests deterministic). Every handle is unref'd where possible.
   * @default globalThis.setTimeout / clearTimeout
   */
  timers?: Timers | undefined;
}

/** Options of {@link RotationCoordinator.rotate}. */
export interface RotateOptions {
  /** Abandons this caller's wait only; the redemption others wait on goes on. */
  signal?: AbortSignal | undefined;
  /** Abandons this caller's wait after this many ms (`TimeoutError`). */
  timeoutMs?: number | undefined;
}

/** Rotates refresh tokens once across every process sharing a store. */
export interface RotationCoordinator {
  /**
   * The set that replaces `current` (a token set with a `refreshToken`, or a refresh token): redeemed
   * here, or taken from the redemption another caller or instance made. Rejects with the redemption's
   * error (e.g. an `OAuthError` `invalid_grant` when the refresh token is dead).
   */
  rotate(current: TokenSet | string, options?: RotateOptions): Promise<TokenSet>;
  /** Counters since creation. */
  stats(): RotationStats;
  /** Aborts rotations in flight (their callers get `ERR_TOKENKEEP_DISPOSED`) and clears every timer. */
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const positiveMs = optional(number({ above: 0, max: 2_147_483_647 }));
const optionsRule = object({
  store: optional(methods<Store>(["get", "set", "delete"], "expected a store (get, set, delete)")),
  redeem: func<RotationRedeemer>(),
  successorTtlMs: positiveMs,
  leaseTtlMs: positiveMs,
  keyPrefix: optional(string()),
  storeTimeoutMs: positiveMs,
  storeProbeIntervalMs: positiveMs,
  onEvent: optional(func<(event: RotationEvent) => void>()),
  now: optional(func<() => number>()),
  timers: optional(methods<Timers>(["setTimeout", "clearTimeout"], "expected { setTimeout, clearTimeout }")),
});

/** What the store holds under a successor key. */
type SuccessorRecord =
  | { readonly set: TokenSet; readonly until?: number }
  | { readonly failure: { error: string; status: number; errorDescription?: string } };

/** SHA-256 of a refresh token, base64url: the only form in which it reaches the store. */
async function hashRefreshToken(refreshToken: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(refreshToken)),
  );
  let binary = "";
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function encodeSet(set: TokenSet): JsonValue {
  const out: Record<string, JsonValue> = {};
  for (const [name, value] of Object.entries(set)) {
    if (value !== undefined) out[name] = value as JsonValue;
  }
  return out;
}

function decodeRecord(value: unknown): SuccessorRecord | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (isTokenSet(record.set)) {
    return typeof record.until === "number" ? { set: record.set, until: record.until } : { set: record.set };
  }
  const failure = record.failure as Record<string, unknown> | undefined;
  if (typeof failure?.error === "string" && typeof failure.status === "number") {
    return {
      failure: {
        error: failure.error,
        status: failure.status,
        ...(typeof failure.errorDescription === "string"
          ? { errorDescription: failure.errorDescription }
          : {}),
      },
    };
  }
  return undefined;
}

/** An expired set holding only `refreshToken`: `previous` for a rotation that got a bare token. */
function bareSet(refreshToken: string): TokenSet {
  return { accessToken: "", tokenType: "Bearer", expiresAt: 0, refreshToken, raw: {} };
}

function disposedError(): TokenkeepError {
  return new TokenkeepError("ERR_TOKENKEEP_DISPOSED", "the rotation coordinator was disposed");
}

/**
 * Creates a {@link RotationCoordinator}: single-use refresh tokens are redeemed once across every
 * process sharing `store`, late arrivals get the successor set. Runtime-agnostic.
 *
 * @example
 * ```ts
 * const rotation = createRotationCoordinator({
 *   store: createRedisStore({ url, encryptionKey }),
 *   redeem: refreshTokenGrant({ issuer, clientId, clientSecret }),
 * });
 * const next = await rotation.rotate(session); // session.refreshToken redeemed at most once
 * ```
 * @throws TypeError (code `ERR_TOKENKEEP_INVALID_OPTIONS`) for invalid options.
 */
export function createRotationCoordinator(options: RotationCoordinatorOptions): RotationCoordinator {
  const parsed = validate(optionsRule, options, "createRotationCoordinator");
  const { redeem, onEvent } = parsed;
  const store = parsed.store ?? createMemoryStore();
  const successorTtlMs = parsed.successorTtlMs ?? DEFAULT_SUCCESSOR_TTL_MS;
  const leaseTtlMs = parsed.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  const prefix = `${parsed.keyPrefix ?? DEFAULT_KEY_PREFIX}rotation:`;
  const now = parsed.now ?? Date.now;
  const timers = createTimerSet(parsed.timers ?? runtimeTimers());
  const lifetime = new AbortController();
  const flights = new Map<string, Promise<TokenSet>>();
  // Successors this process produced or received, so its own late arrivals are answered even while
  // the store is failing. Bounded; the oldest goes first.
  const recent = new Map<string, { readonly set: TokenSet; readonly until: number }>();
  const remember = (hash: string, set: TokenSet, until: number) =>
    setRecent(recent, hash, { set, until }, RECENT_SUCCESSORS);
  const counters = {
    rotations: 0,
    redemptions: 0,
    redeemFailures: 0,
    successorHits: 0,
    coalesced: 0,
    leaseWaits: 0,
  };

  const emit = (type: RotationEventType, error?: unknown) => {
    if (onEvent === undefined) return;
    try {
      onEvent(error === undefined ? { type, at: now() } : { type, at: now(), error });
    } catch {
      // A throwing hook must not break a rotation.
    }
  };

  const link = createStoreLink({
    store,
    timeoutMs: parsed.storeTimeoutMs ?? DEFAULT_STORE_TIMEOUT_MS,
    probeIntervalMs: parsed.storeProbeIntervalMs ?? DEFAULT_STORE_PROBE_INTERVAL_MS,
    now,
    timers,
    onChange: (degraded, error) => emit(degraded ? "store-degraded" : "store-recovered", error),
  });

  /** Redeems here; publishes the result (or a permanent failure) for late arrivals. */
  async function redeemAndPublish(
    hash: string,
    refreshToken: string,
    previous: TokenSet,
    successorKey: string,
  ) {
    // Never redeem once disposed: the caller is gone, and the redemption would kill the token.
    lifetime.signal.throwIfAborted();
    // Aborts on dispose (the lifetime's reason) or when the lease runs out.
    const deadline = createDeadline(timers, {
      parent: lifetime.signal,
      timeoutMs: leaseTtlMs,
      timeoutReason: () =>
        new TimeoutError(`refresh token redemption took longer than the ${leaseTtlMs} ms lease`, {
          timeoutMs: leaseTtlMs,
        }),
    });
    counters.redemptions++;
    const sentAt = now();
    try {
      const answer = await redeem({ refreshToken, previous, signal: deadline.signal });
      const set = isTokenSet(answer) ? answer : parseTokenResponse(answer, { sentAt, previous });
      emit("redeemed");
      const until = now() + successorTtlMs;
      remember(hash, set, until);
      await link.call((s) => s.set(successorKey, { set: encodeSet(set), until }, successorTtlMs));
      return set;
    } catch (error) {
      counters.redeemFailures++;
      emit("redeem-failure", error);
      if (isOAuthError(error) && !error.transient) {
        const failure: Record<string, JsonValue> = { error: error.error, status: error.status };
        if (error.errorDescription !== undefined) failure.errorDescription = error.errorDescription;
        await link.call((s) => s.set(successorKey, { failure }, successorTtlMs));
      }
      throw error;
    } finally {
      deadline.release();
    }
  }

  /** The set (or thrown failure) a successor record stands for; `undefined` when there is none. */
  const fromRecord = (hash: string, value: unknown): TokenSet | undefined => {
    const record = decodeRecord(value);
    if (record === undefined) return undefined;
    counters.successorHits++;
    emit("successor");
    if ("set" in record) {
      if (record.until !== undefined) remember(hash, record.set, record.until);
      return record.set;
    }
    throw new OAuthError({ ...record.failure });
  };

  /** One flight: successor, else lease and redeem, else wait for the holder's successor. */
  async function fly(hash: string, refreshToken: string, previous: TokenSet): Promise<TokenSet> {
    const successorKey = `${prefix}successor:${hash}`;
    const leaseKey = `${prefix}lease:${hash}`;
    const read = () => link.call((s) => s.get(successorKey));

    let found = await read();
    if (found === FAILED) return redeemAndPublish(hash, refreshToken, previous, successorKey);
    let set = fromRecord(hash, found);
    if (set !== undefined) return set;
    if (store.acquire === undefined) return redeemAndPublish(hash, refreshToken, previous, successorKey);

    // A holder that died frees the lease after leaseTtlMs; waiting much longer means something
    // else keeps taking it: give up rather than wait for ever.
    const giveUpAt = now() + 2 * leaseTtlMs + DEFAULT_LEASE_POLL_MAX_MS;
    let delayMs = DEFAULT_LEASE_POLL_MIN_MS;
    let waited = false;
    for (;;) {
      const release = await link.call((s) => s.acquire!(leaseKey, leaseTtlMs));
      if (release === FAILED) return redeemAndPublish(hash, refreshToken, previous, successorKey);
      if (release !== undefined) {
        try {
          // The previous holder may have published between our read and our lease.
          found = await read();
          set = found === FAILED ? undefined : fromRecord(hash, found);
          if (set !== undefined) return set;
          return await redeemAndPublish(hash, refreshToken, previous, successorKey);
        } finally {
          void link.call(() => release());
        }
      }
      if (!waited) {
        waited = true;
        counters.leaseWaits++;
        emit("lease-wait");
      }
      if (now() >= giveUpAt) {
        throw new TimeoutError("another instance kept the rotation lease; no successor appeared", {
          timeoutMs: 2 * leaseTtlMs,
        });
      }
      await timers.sleep(delayMs, lifetime.signal);
      delayMs = Math.min(delayMs * 2, DEFAULT_LEASE_POLL_MAX_MS);
      found = await read();
      if (found === FAILED) return redeemAndPublish(hash, refreshToken, previous, successorKey);
      set = fromRecord(hash, found);
      if (set !== undefined) return set;
    }
  }

  async function rotate(current: TokenSet | string, rotateOptions?: RotateOptions): Promise<TokenSet> {
    if (lifetime.signal.aborted) throw disposedError();
    const refreshToken = typeof current === "string" ? current : current?.refreshToken;
    if (typeof refreshToken !== "string" || refreshToken === "") {
      throw Object.assign(new TypeError("rotate needs a refresh token (or a token set that has one)"), {
        code: "ERR_TOKENKEEP_INVALID_ARGUMENT",
      });
    }
    counters.rotations++;
    const hash = await hashRefreshToken(refreshToken);
    // dispose() may have run while the hash was computed.
    if (lifetime.signal.aborted) throw disposedError();
    const known = recent.get(hash);
    if (known !== undefined) {
      if (now() < known.until) {
        counters.successorHits++;
        emit("successor");
        return known.set;
      }
      recent.delete(hash);
    }
    let flight = flights.get(hash);
    if (flight === undefined) {
      const previous = typeof current === "string" ? bareSet(current) : current;
      // Settles at dispose even when `redeem` ignores its signal, so dispose never hangs on it.
      flight = raceAbort(fly(hash, refreshToken, previous), lifetime.signal).finally(() =>
        flights.delete(hash),
      );
      flights.set(hash, flight);
    } else {
      counters.coalesced++;
      emit("coalesced");
    }
    return waitFor(flight, rotateOptions, timers);
  }

  const dispose = async (): Promise<void> => {
    if (lifetime.signal.aborted) return;
    lifetime.abort(disposedError());
    timers.clear();
    recent.clear();
    await Promise.allSettled([...flights.values()]);
  };

  return {
    rotate,
    stats: () => ({ ...counters, ...link.state() }),
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}
