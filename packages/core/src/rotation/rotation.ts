/**
 * Rotation: redeeming a single-use refresh token at most once across every process that shares a
 * store, however many requests arrive with it, and whatever the store or the network does.
 *
 * With rotating refresh tokens the first redemption returns a new pair and kills the old refresh
 * token; presenting the old one again is a reuse, which a reuse-detecting server answers by revoking
 * the whole grant (every tab signed out). So, per refresh token (keyed by its SHA-256 only):
 *
 * 1. callers in this process join one flight;
 * 2. the *marker* and the *successor* are read (in that order; they are written in the other):
 *    the successor is the set a redemption returned, kept `successorTtlMs` for late arrivals; the
 *    marker says what happened to the token (`redeeming`, `redeemed`, `failed`, `in-doubt`), holds no
 *    token material, and lives `redeemedTtlMs` (a day), so a token redeemed long ago is refused with
 *    `ERR_TOKENKEEP_REFRESH_TOKEN_SUPERSEDED` instead of being presented again;
 * 3. otherwise one process takes the lease (`store/lease.ts`), reads again, writes the `redeeming`
 *    marker *before* it redeems (a write the store must confirm), redeems within the lease and its
 *    budget, then writes the successor and the `redeemed` marker. A permanent failure (`invalid_grant`)
 *    goes into the marker, never over a successor. A failure that proves the token intact (the token
 *    manager's rule, `refusedBeforeRedeeming`: a 429, the server's own 503, a `use_dpop_nonce`, a
 *    request that never left)
 *    takes the claim back; with a `Retry-After` (at most `maxThrottleMs`) the claim becomes a window
 *    in which no instance presents the token (a `failed` marker with `waitUntil`). A redemption that timed out, was abandoned or got no
 *    definite answer leaves `in-doubt`: later arrivals get `ERR_TOKENKEEP_ROTATION_IN_DOUBT` rather
 *    than a second presentation of a token the server may already have rotated. A holder that died
 *    mid-redemption leaves `redeeming` behind, which the next lease holder turns into `in-doubt`;
 * 4. with `verifyUnredeemed`, in doubt is a wait, not an end: the error is transient, and the first
 *    arrival `inDoubtSettleMs` after the redemption was abandoned takes the lease and asks the server
 *    whether the token is still unredeemed. Yes: it redeems it (the one presentation since the check).
 *    No: the marker records `invalid_grant`. No answer (a failure not known to repeat): asked again
 *    `inDoubtSettleMs` later. A failure known to repeat (a 401, a bad URL): reported once, then the
 *    token is in doubt for good, as without a verifier. The settle time lets a redemption the server (or a gateway
 *    that answered 504) is still running end first, so the check cannot race it into a reuse. However
 *    often it is checked, an in-doubt marker expires `redeemedTtlMs` after the redemption was abandoned.
 *    A marker that does not decode here (another encryption key, another version) is in doubt from
 *    when a lease holder finds it: refused for good without a verifier, checked after the settle
 *    time with one.
 *
 * Safety over availability: a redemption happens only under a lease the store confirmed, after a
 * marker the store confirmed. When the store fails, callers get a transient
 * `ERR_TOKENKEEP_STORE_UNAVAILABLE` (no per-process redemption: that is how a slow store turns into a
 * revoked grant). Successors this process produced are also kept in memory for its own late arrivals.
 * The successor holds a token set: give a shared store encryption (`@tokenkeep/redis` has `encryptionKey`).
 */
import {
  DEFAULT_IN_DOUBT_SETTLE_MS,
  DEFAULT_LEASE_POLL_MAX_MS,
  DEFAULT_MAX_THROTTLE_MS,
  DEFAULT_REDEEM_TIMEOUT_MS,
  DEFAULT_REDEEMED_TTL_MS,
  DEFAULT_ROTATION_STORE_MAX_ENTRIES,
  DEFAULT_SUCCESSOR_TTL_MS,
  MARKER_REREADS,
  RECENT_SUCCESSORS,
} from "../defaults.js";
import {
  InvalidResponseError,
  isOAuthError,
  OAuthError,
  TimeoutError,
  TokenkeepError,
} from "../errors/errors.js";
import { failsForGood, refusedBeforeRedeeming } from "../errors/failure-classification.js";
import { createDeadline, raceAbort } from "../internal/deadline.js";
import { setRecent } from "../internal/lru.js";
import { sha256Hex } from "../internal/sha256.js";
import { createTimerSet, runtimeTimers, type Timers } from "../internal/timers.js";
import { retryAfterOf } from "../manager/backoff.js";
import { checkTimeoutMs, waitFor } from "../manager/single-flight.js";
import { createMemoryStore } from "../memory-store/memory-store.js";
import { duration, func, methods, object, optional, validate } from "../options/rules.js";
import { leaseSettings, linkShared, shareStore } from "../shared/share-store.js";
import type { SharedStore } from "../shared/shared-store.js";
import type { HeldLease } from "../store/lease.js";
import { underLease } from "../store/lease.js";
import { FAILED } from "../store/store-link.js";
import { type TokenResponse, toTokenSet } from "../token/token-response.js";
import type { JsonValue, TokenSet } from "../token/token-set.js";
import { decodeMarker, decodeSuccessor, encodeSet, type Marker } from "./records.js";

export { DEFAULT_REDEEMED_TTL_MS, DEFAULT_SUCCESSOR_TTL_MS } from "../defaults.js";

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
  /**
   * Aborts before the lease runs out (a safety margin before its end) or the redemption's
   * `redeemTimeoutMs` passes, or when the coordinator is disposed. Ignoring it does not extend
   * anything: the coordinator stops waiting then and records the redemption as in doubt.
   */
  readonly signal: AbortSignal;
}

/**
 * Redeems a refresh token at the authorization server; returns the new set or the wire answer.
 *
 * It must present the token at most once per call: no retry inside it (an HTTP client's own retries
 * included, e.g. ky's `retry`, which retries on network errors and 5xx). The coordinator decides
 * from the error a call throws whether the token may be presented again: a refused connection, a
 * 429 or the server's own 503 mean "not redeemed" only of a single request. A redeemer that retried
 * after a first attempt the server redeemed (its answer lost) and then threw the second attempt's
 * refusal would have the token presented a third time, a reuse. Retry by calling `rotate` again.
 */
export type RotationRedeemer = (context: RotationRedeemContext) => Promise<TokenSet | TokenResponse>;

/**
 * Asks the server whether a refresh token is still unredeemed, e.g. RFC 7662 introspection's
 * `active: true`, or an API's own check. Resolves `true` only when the server says so, `false` when
 * the token is dead there (rotated, revoked, expired); throws (or resolves anything else) when it
 * cannot tell. A throw known to repeat (a tokenkeep error marked permanent, such as a 401
 * `invalid_client`; an HTTP status other than 408, 429 and 5xx; a `TypeError` or `RangeError` that is
 * not a network failure, such as a bad URL) is reported once, and the token is then refused for good,
 * as without a verifier. Any other throw (a network error, a timeout, a 5xx, an error it cannot read)
 * or a non-boolean answer is "cannot tell": asked again after `inDoubtSettleMs`. Called with the same context as
 * the redeemer; it must stop when `signal` aborts.
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2.2
 */
export type RotationVerifier = (context: RotationRedeemContext) => Promise<boolean>;

/** The kinds of {@link RotationEvent}. */
export type RotationEventType =
  /** This process redeemed a refresh token. */
  | "redeemed"
  /** The redemption failed (`error` says why). */
  | "redeem-failure"
  /** A caller got the set another redemption produced (in this process or another). */
  | "successor"
  /** A caller presented a refresh token this deployment redeemed earlier (past the successor window). */
  | "superseded"
  /**
   * A caller presented a refresh token whose redemption was abandoned: refused (for good without
   * `verifyUnredeemed` or once it failed permanently; until the server is asked, or when it could not
   * tell, with it: `error` says why).
   */
  | "in-doubt"
  /** The server said a refresh token in doubt is still unredeemed: it is redeemed now. */
  | "in-doubt-cleared"
  /** The server said a refresh token in doubt is no longer accepted: its session is over (`invalid_grant`). */
  | "in-doubt-lost"
  /**
   * A caller was refused because the server asked to wait (`Retry-After`) after refusing the token's
   * redemption: the token is intact and presented again once the window has passed.
   */
  | "throttled"
  /** A caller joined a rotation already in flight in this process. */
  | "coalesced"
  /** Another instance holds the lease: this one waits for its successor. */
  | "lease-wait"
  /** The store failed or timed out: rotations fail with a transient error until it answers. */
  | "store-degraded"
  | "store-recovered";

/** One event. Never carries a token or a hash of one. */
export interface RotationEvent {
  /** What happened. */
  readonly type: RotationEventType;
  /** Epoch ms, from the coordinator's clock. */
  readonly at: number;
  /** For `redeem-failure`, `store-degraded` and a failed check (`in-doubt`): what went wrong (log-safe). */
  readonly error?: unknown;
}

/** Counters since the coordinator was created. */
export interface RotationStats {
  /** `rotate` calls. */
  rotations: number;
  /** Redemptions this process made (calls of `redeem`). */
  redemptions: number;
  /** Redemptions that failed (permanent, transient or in doubt). */
  redeemFailures: number;
  /** Callers answered with a successor another redemption wrote. */
  successorHits: number;
  /** Callers refused because the refresh token was redeemed earlier (`ERR_TOKENKEEP_REFRESH_TOKEN_SUPERSEDED`). */
  superseded: number;
  /** Callers refused because a redemption of the token is in doubt (`ERR_TOKENKEEP_ROTATION_IN_DOUBT`). */
  inDoubt: number;
  /** Tokens in doubt that `verifyUnredeemed` found unredeemed, and which were redeemed then. */
  inDoubtCleared: number;
  /** Tokens in doubt that `verifyUnredeemed` found dead at the server. */
  inDoubtLost: number;
  /** Callers refused inside a window the server's `Retry-After` opened (`ERR_TOKENKEEP_THROTTLED`). */
  throttled: number;
  /** Callers that joined a flight in this process. */
  coalesced: number;
  /** Flights that waited for another instance's lease. */
  leaseWaits: number;
  /** Store calls that failed or timed out. */
  storeFailures: number;
  /** Times the store started failing. */
  storeDegradedCount: number;
  /** Total time the store was failing, in ms, including the current period. */
  storeDegradedMs: number;
  /** Whether the store is failing right now. */
  storeDegraded: boolean;
}

/** Options of {@link createRotationCoordinator}. */
export interface RotationCoordinatorOptions {
  /**
   * Redeems a refresh token (e.g. `refreshTokenGrant({ issuer, clientId, clientSecret })`, which
   * sends one request per call, a ky instance's `retry` turned off). One call must send at most one request with the token: no retries
   * inside it (see {@link RotationRedeemer}).
   */
  redeem: RotationRedeemer;
  /**
   * The store every instance shares, with its settings: `shareStore(createRedisStore(...), { keyPrefix,
   * leaseTtlMs, timeoutMs, probeIntervalMs })` from `@tokenkeep/core/shared`, the same value a token
   * manager takes. The store must offer leases (`acquire`). Without it, a memory store of 100,000
   * entries on the coordinator's clock covers this process only: each rotation keeps one marker
   * (about 350 bytes) for `redeemedTtlMs`, so it remembers up to about 100,000 rotations a day, in at
   * most about 40 MB. Past that the oldest markers are evicted early, and a token whose marker is gone
   * would be presented again: for more, use Redis, or pass `shareStore(createMemoryStore({ maxEntries }))`
   * and watch its `evicted` count.
   * @default shareStore(createMemoryStore({ maxEntries: 100_000, now }))
   */
  shared?: SharedStore | undefined;
  /**
   * Lifetime of a successor entry: the window in which a request still carrying the old refresh
   * token gets the new set.
   * @default 30_000
   */
  successorTtlMs?: number | undefined;
  /**
   * Lifetime of the marker (no token material): within it a refresh token already redeemed is refused
   * with `ERR_TOKENKEEP_REFRESH_TOKEN_SUPERSEDED`, a failed one with its error, one in doubt with
   * `ERR_TOKENKEEP_ROTATION_IN_DOUBT`. An in-doubt marker keeps the expiry it got when the redemption
   * was abandoned (checks that rewrite it do not extend it); past it, the token is handled as one
   * never seen (redeemed). Longer than `successorTtlMs`.
   * @default 86_400_000 (24 h)
   */
  redeemedTtlMs?: number | undefined;
  /**
   * The longest one redemption may take, counted from before its lease is requested; it is also
   * stopped a safety margin before a lease it could not renew runs out.
   * @default 10_000
   */
  redeemTimeoutMs?: number | undefined;
  /**
   * Asks the server whether a refresh token whose redemption is in doubt is still unredeemed (see
   * {@link RotationVerifier}). With it, `ERR_TOKENKEEP_ROTATION_IN_DOUBT` is transient and the token
   * is redeemed once the server confirms it was never redeemed; without it, a token in doubt is
   * refused for good. The check runs under the lease and within `redeemTimeoutMs`, in one process.
   * A check that cannot tell is repeated every `inDoubtSettleMs` until the in-doubt marker expires
   * (`redeemedTtlMs` after the redemption was abandoned); one that fails in a way known to repeat (see
   * {@link RotationVerifier}) is reported (event `in-doubt` with `error`, and the `cause` of the error callers get) and not repeated:
   * the token is then refused for good, as without a verifier.
   * @default undefined (a token in doubt is never presented again)
   */
  verifyUnredeemed?: RotationVerifier | undefined;
  /**
   * How long after a redemption was abandoned (or a check got no answer) before `verifyUnredeemed`
   * is asked. A slow server, or one behind a gateway that answered 504, may still be redeeming the
   * token: asking at once could see it unredeemed just before it is, and the redemption that follows
   * would be a reuse. Until then callers get the transient in-doubt error.
   * @default 10_000
   */
  inDoubtSettleMs?: number | undefined;
  /**
   * The longest a server's `Retry-After` holds a refresh token back. When the server refused a
   * redemption before redeeming (a 429, or its own 503) and asked to wait, the token is not presented
   * again, by any instance sharing the store, until `min(Retry-After, maxThrottleMs)` has passed:
   * callers get a transient `ERR_TOKENKEEP_THROTTLED` with `retryAfterMs`. The bound keeps a far
   * `Retry-After` (an HTTP date years away) from locking a session out. 0 turns the windows off (the
   * token may be presented again at once, as after a refusal without `Retry-After`).
   * @default 300_000
   */
  maxThrottleMs?: number | undefined;
  /** Receives one {@link RotationEvent} per event. Must not throw (errors are ignored). */
  onEvent?: ((event: RotationEvent) => void) | undefined;
  /**
   * The clock, in epoch ms.
   * @default Date.now
   */
  now?: (() => number) | undefined;
  /**
   * Timer functions (fake ones make tests deterministic). A handle that has `ref`/`unref` (Node,
   * Bun) is ref'd only while a `rotate` caller waits, so a pending rotation keeps the process alive
   * and an idle coordinator never does.
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
   * here, or taken from the redemption another caller or instance made. Rejects with:
   * - the redemption's error, e.g. an `OAuthError` `invalid_grant` when the refresh token is dead
   *   (remembered: later callers get it without a redemption);
   * - `ERR_TOKENKEEP_REFRESH_TOKEN_SUPERSEDED` when this deployment redeemed that token earlier and its
   *   successor window has passed (the caller holds a stale token; a newer pair exists somewhere);
   * - `ERR_TOKENKEEP_ROTATION_IN_DOUBT` when a redemption of it timed out or was abandoned (transient
   *   with `verifyUnredeemed`: retry after `retryAfterMs`; then an `invalid_grant` when the server says
   *   the token is dead);
   * - `ERR_TOKENKEEP_THROTTLED` (transient, with `retryAfterMs`) when the server refused a redemption
   *   of that token with a `Retry-After` that has not passed yet (at most `maxThrottleMs`);
   * - `ERR_TOKENKEEP_STORE_UNAVAILABLE` (transient) when the store is failing (its `cause`: the
   *   store's error that began the failing period, as the `store-degraded` event carried it);
   * - a `TimeoutError` (transient) when another instance kept the lease past every bound.
   * It settles within about `redeemTimeoutMs + leaseTtlMs + 1 s` plus the store calls' timeouts.
   */
  rotate(current: TokenSet | string, options?: RotateOptions): Promise<TokenSet>;
  /** Counters since creation. */
  stats(): RotationStats;
  /** Aborts rotations in flight (their callers get `ERR_TOKENKEEP_DISPOSED`) and clears every timer. */
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const delay = optional(duration());
const optionsRule = object({
  redeem: func<RotationRedeemer>(),
  shared: optional(
    methods<SharedStore>(["attach"], "expected shareStore(store) from @tokenkeep/core/shared"),
  ),
  successorTtlMs: delay,
  redeemedTtlMs: delay,
  redeemTimeoutMs: delay,
  verifyUnredeemed: optional(func<RotationVerifier>()),
  inDoubtSettleMs: delay,
  maxThrottleMs: optional(duration({ zero: true })),
  onEvent: optional(func<(event: RotationEvent) => void>()),
  now: optional(func<() => number>()),
  timers: optional(methods<Timers>(["setTimeout", "clearTimeout"], "expected { setTimeout, clearTimeout }")),
});

/** An expired set holding only `refreshToken`: `previous` for a rotation that got a bare token. */
function bareSet(refreshToken: string): TokenSet {
  return { accessToken: "", tokenType: "Bearer", expiresAt: 0, refreshToken, raw: {} };
}

function disposedError(): TokenkeepError {
  return new TokenkeepError("ERR_TOKENKEEP_DISPOSED", "the rotation coordinator was disposed");
}

const storeUnavailable = (cause?: unknown) =>
  new TokenkeepError(
    "ERR_TOKENKEEP_STORE_UNAVAILABLE",
    "the shared store is failing: no refresh token is redeemed until it answers",
    { transient: true, cause },
  );
const superseded = () =>
  new TokenkeepError(
    "ERR_TOKENKEEP_REFRESH_TOKEN_SUPERSEDED",
    "this refresh token was already redeemed and replaced; it is not presented again",
  );
const inDoubt = (
  cause: unknown,
  retryAfterMs: number | undefined,
  checkFailedAt?: number,
  unreadable?: boolean,
) =>
  new TokenkeepError(
    "ERR_TOKENKEEP_ROTATION_IN_DOUBT",
    `${
      unreadable
        ? "what the store records for this refresh token cannot be read here (written with another encryption key, or by another version)"
        : "a redemption of this refresh token was abandoned (the server may have rotated it)"
    }; ${
      retryAfterMs === undefined
        ? `it is not presented again${
            // Later callers do not get the check's error (the marker holds no error text): say when it
            // failed, so the `in-doubt` event of that moment can be found.
            checkFailedAt === undefined
              ? ""
              : ` (verifyUnredeemed failed for good at ${new Date(checkFailedAt).toISOString()}; see the in-doubt event then)`
          }`
        : "it is presented again only once the server confirms it is unredeemed"
    }`,
    { cause, transient: retryAfterMs !== undefined, retryAfterMs },
  );
/**
 * Inside a window the server's `Retry-After` opened: transient, with the rest of the window (the token
 * manager's `ERR_TOKENKEEP_THROTTLED`, with a message of its own; that module is not imported here,
 * which would move it into a chunk shared with the size-bound main entry).
 */
const throttled = (retryAfterMs: number) =>
  new TokenkeepError(
    "ERR_TOKENKEEP_THROTTLED",
    `the authorization server asked to wait before this refresh token is presented again; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
    { transient: true, retryAfterMs },
  );
/** What a marker records when the server says a token in doubt is dead: the session is over. */
const deadAfterDoubt = {
  error: "invalid_grant",
  status: 400,
  errorDescription:
    "the server no longer accepts this refresh token (checked after its redemption was abandoned)",
};

/** A random tag, so a holder can take back its own `redeeming` marker and nobody else's. */
function nonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  let tag = "";
  for (const byte of bytes) tag += byte.toString(36);
  return tag;
}

/**
 * Creates a {@link RotationCoordinator}: single-use refresh tokens are redeemed at most once across
 * every process sharing the store, late arrivals get the successor set, and a token redeemed long
 * ago is never presented again. Runtime-agnostic.
 *
 * @example
 * ```ts
 * const rotation = createRotationCoordinator({
 *   shared: shareStore(createRedisStore({ url, encryptionKey })),
 *   redeem: refreshTokenGrant({ issuer, clientId, clientSecret }),
 * });
 * const next = await rotation.rotate(session); // session.refreshToken redeemed at most once
 * ```
 * @throws TypeError (code `ERR_TOKENKEEP_INVALID_OPTIONS`) for invalid options.
 */
export function createRotationCoordinator(options: RotationCoordinatorOptions): RotationCoordinator {
  const parsed = validate(optionsRule, options, "createRotationCoordinator", (value) => {
    const problems: string[] = [];
    if (value.shared !== undefined && typeof value.shared.store?.acquire !== "function") {
      problems.push("shared: the store must offer leases (acquire) to coordinate redemptions");
    }
    const successorTtlMs = value.successorTtlMs ?? DEFAULT_SUCCESSOR_TTL_MS;
    if ((value.redeemedTtlMs ?? DEFAULT_REDEEMED_TTL_MS) <= successorTtlMs) {
      problems.push("redeemedTtlMs: must be longer than successorTtlMs");
    }
    return problems;
  });
  const { redeem, onEvent, verifyUnredeemed } = parsed;
  const inDoubtSettleMs = parsed.inDoubtSettleMs ?? DEFAULT_IN_DOUBT_SETTLE_MS;
  /** The in-doubt error; transient with a verifier, to be retried once the check is due. */
  const doubt = (cause?: unknown, dueAt = now() + inDoubtSettleMs, unreadable?: boolean) =>
    inDoubt(
      cause,
      verifyUnredeemed === undefined ? undefined : Math.max(0, dueAt - now()),
      undefined,
      unreadable,
    );
  const now = parsed.now ?? Date.now;
  const shared =
    parsed.shared ?? shareStore(createMemoryStore({ maxEntries: DEFAULT_ROTATION_STORE_MAX_ENTRIES, now }));
  const successorTtlMs = parsed.successorTtlMs ?? DEFAULT_SUCCESSOR_TTL_MS;
  const redeemedTtlMs = parsed.redeemedTtlMs ?? DEFAULT_REDEEMED_TTL_MS;
  const redeemTimeoutMs = parsed.redeemTimeoutMs ?? DEFAULT_REDEEM_TIMEOUT_MS;
  const maxThrottleMs = parsed.maxThrottleMs ?? DEFAULT_MAX_THROTTLE_MS;
  const prefix = `${shared.settings.keyPrefix}rotation:`;
  const lease = leaseSettings(shared.settings);
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
    superseded: 0,
    inDoubt: 0,
    inDoubtCleared: 0,
    inDoubtLost: 0,
    throttled: 0,
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

  // Why the store is failing (its first error of this degraded period): the cause callers get.
  let storeError: unknown;
  const link = linkShared(shared, {
    now,
    timers,
    onChange: (degraded, error) => {
      storeError = error;
      emit(degraded ? "store-degraded" : "store-recovered", error);
    },
  });

  const successorHit = (set: TokenSet) => {
    counters.successorHits++;
    emit("successor");
    return set;
  };

  /** One flight: the recorded outcome, else the lease and one redemption, else the holder's outcome. */
  async function fly(hash: string, refreshToken: string, previous: TokenSet): Promise<TokenSet> {
    const successorKey = `${prefix}successor:${hash}`;
    const markerKey = `${prefix}marker:${hash}`;
    const startedAt = now();
    const write = (key: string, value: Marker | ReturnType<typeof encodeSet>, ttlMs: number) =>
      link.call((store) => store.set(key, value as never, ttlMs));
    const mark = (marker: Marker) => write(markerKey, marker, redeemedTtlMs);
    /**
     * Replaces the marker only while it is still `expected` (what this flight read, or its own claim;
     * `undefined`: absent), so a writer that lost its lease (frozen, or its store call slow) never
     * replaces what a later holder recorded; `next` `undefined` deletes it. Resolves whether it did.
     * A store without `compareAndSet` gets a plain `set` (and no deletion), as before.
     */
    const swap = (expected: JsonValue | undefined, next?: Marker, ttlMs = redeemedTtlMs) =>
      link.call(async (store) =>
        next === undefined
          ? (store.compareAndDelete?.(markerKey, expected as JsonValue) ?? false)
          : store.compareAndSet
            ? store.compareAndSet(markerKey, expected, next as never, ttlMs)
            : store.set(markerKey, next as never, ttlMs).then(() => true),
      );
    // Set by each read: the marker as the store returned it, for `swap`.
    let seen: JsonValue | undefined;
    // Set by each read: a `redeeming` marker with nobody redeeming means its holder left mid-redemption.
    let redeeming = false;
    // Set by each read: a marker is there that does not decode here (see `read`).
    let unreadable = false;
    // Set by each read: an `in-doubt` marker whose settle time has passed, so the server is asked.
    let due: (Marker & { state: "in-doubt" }) | undefined;
    // Times `work` ran again after a compare-and-set found the marker changed.
    let rereads = -1;

    /** The recorded outcome: a set, a thrown refusal, `undefined` (none yet) or `FAILED`. */
    const read = async (): Promise<TokenSet | undefined | typeof FAILED> => {
      // Marker first: a holder writes the successor before the marker, so a `redeemed` marker read
      // here means the successor read next is there (unless its window passed).
      const marker = await link.call((store) => store.get(markerKey));
      if (marker === FAILED) return FAILED;
      seen = marker ?? undefined;
      const successor = await link.call((store) => store.get(successorKey));
      if (successor === FAILED) return FAILED;
      const found = decodeSuccessor(successor);
      if (found !== undefined) {
        remember(hash, found.set, found.until);
        return successorHit(found.set);
      }
      const state = decodeMarker(marker);
      // `null` is absent too: stores built on clients that answer `null` for a missing key are common.
      // Something recorded that this instance cannot read (another encryption key, another version)
      // may say "redeemed" or "redeeming": never taken as a token never seen. It is a marker in doubt
      // whose start is unknown: without a verifier the token is refused; with one, the lease holder
      // records it as in doubt from now (as a `redeeming` marker under a free lease), and the server
      // is asked once the settle time has passed.
      unreadable = state === undefined && marker != null;
      if (unreadable && verifyUnredeemed === undefined) {
        counters.inDoubt++;
        emit("in-doubt");
        throw inDoubt(undefined, undefined, undefined, true);
      }
      redeeming = state?.state === "redeeming";
      due = undefined;
      if (state?.state === "redeemed") {
        counters.superseded++;
        emit("superseded");
        throw superseded();
      }
      if (state?.state === "failed") {
        const { waitUntil } = state;
        if (waitUntil === undefined) throw new OAuthError({ ...state.failure });
        // The server asked to be left alone: the token is intact, presented again after `waitUntil`
        // (a marker still there past it, on a clock behind the store's, is no refusal). The rest is
        // at most the window's length (`waitUntil - at`, both on the writer's clock), which the
        // marker's lifetime bounds too: on a clock behind the writer's, `waitUntil - now()` is that
        // plus the skew.
        if (now() < waitUntil) {
          counters.throttled++;
          emit("throttled");
          throw throttled(Math.min(waitUntil - now(), waitUntil - state.at));
        }
      }
      if (state?.state === "in-doubt") {
        const dueAt = (state.checkedAt ?? state.at) + inDoubtSettleMs;
        // A verifier that failed permanently for this token is not asked again: as without one.
        const canAsk = verifyUnredeemed !== undefined && state.verifyFailedAt === undefined;
        if (canAsk && now() >= dueAt) {
          due = state;
          return undefined; // the lease holder asks the server; the others wait for its outcome
        }
        counters.inDoubt++;
        emit("in-doubt");
        if (canAsk) throw doubt(undefined, dueAt);
        // A dead token whose marker replaced an unreadable one: refused, named as unreadable.
        throw state.unreadable
          ? inDoubt(undefined, undefined, undefined, true)
          : inDoubt(undefined, undefined, state.verifyFailedAt);
      }
      return undefined;
    };

    /** Writes what a redemption returned, successor first, for every late arrival. */
    const publish = async (set: TokenSet) => {
      const until = now() + successorTtlMs;
      remember(hash, set, until);
      await write(successorKey, { set: encodeSet(set), until }, successorTtlMs);
      await mark({ state: "redeemed", at: now() });
    };

    /** Redeems under `held`: marker first, then the one presentation of the token. */
    const redeemHere = async (held: HeldLease, expected: JsonValue | undefined): Promise<TokenSet> => {
      // Never redeem once disposed: the caller is gone, and the redemption would kill the token.
      lifetime.signal.throwIfAborted();
      const claim: Marker = { state: "redeeming", at: now(), by: nonce() };
      const claimed = await swap(expected, claim);
      if (claimed === FAILED) throw storeUnavailable(storeError);
      // Another writer changed the marker since it was read (a holder that had lost its lease
      // published late): decide again from what is there now.
      if (!claimed) return work(held);
      /** Takes the claim back (deleted, or `next`), only ours; else in doubt, which is safe. */
      const takeBack = async (next?: Marker, ttlMs?: number) => {
        if ((await swap(claim, next, ttlMs)) !== true) await swap(claim, { state: "in-doubt", at: now() });
      };
      if (held.signal.aborted) {
        // The store took the whole lease to confirm the marker: the token was not presented.
        await takeBack();
        throw storeUnavailable(held.signal.reason);
      }
      counters.redemptions++;
      const sentAt = now();
      const attempt = Promise.resolve()
        .then(() => redeem({ refreshToken, previous, signal: held.signal }))
        .then((answer) => toTokenSet(answer, { sentAt, previous }));
      try {
        const set = await raceAbort(attempt, held.signal);
        emit("redeemed");
        await publish(set);
        return set;
      } catch (error) {
        counters.redeemFailures++;
        emit("redeem-failure", error);
        if (isOAuthError(error) && !error.transient) {
          const failure = {
            error: error.error,
            status: error.status,
            errorDescription: error.errorDescription,
          };
          await swap(claim, { state: "failed", at: now(), failure });
          throw error;
        }
        if (!held.signal.aborted && refusedBeforeRedeeming(error)) {
          // Proof the server refused before redeeming, by the rule the token manager applies (a 429,
          // the server's own 503, a `use_dpop_nonce`, a request that never left): the token is intact; take the claim
          // back. Anything else, a bare 503 included (a gateway's, maybe after the upstream
          // rotated), goes in doubt below. With a `Retry-After` the claim becomes a window in which
          // no instance presents the token (a `failed` marker an older version reads as a
          // transient `temporarily_unavailable`), bounded by `maxThrottleMs`.
          const windowMs = Math.min(retryAfterOf(error) ?? 0, maxThrottleMs);
          const at = now();
          await takeBack(
            windowMs > 0
              ? {
                  state: "failed",
                  at,
                  failure: { error: "temporarily_unavailable", status: 503 },
                  waitUntil: at + windowMs,
                }
              : undefined,
            windowMs,
          );
          throw error;
        }
        await swap(claim, { state: "in-doubt", at: now() });
        // A redemption that ignored its abort and succeeds after all still reaches late arrivals.
        attempt.then(
          (set) => {
            if (!lifetime.signal.aborted) void publish(set);
          },
          () => {},
        );
        throw doubt(error);
      }
    };

    /** Asks the server about a token in doubt, under `held`: redeems it, records it dead, or waits on. */
    const check = async (
      held: HeldLease,
      marker: Marker & { state: "in-doubt" },
      expected: JsonValue | undefined,
    ): Promise<TokenSet> => {
      lifetime.signal.throwIfAborted();
      let answer: unknown;
      // The check and the redemption after it share the lease's budget: the check gets half of it,
      // so a slow check cannot leave the redemption too little time (a redemption cut short would
      // go in doubt again, and the next check would find the token spent).
      const limit = createDeadline(
        timers,
        held.signal,
        Math.floor(redeemTimeoutMs / 2),
        () =>
          new TimeoutError("verifyUnredeemed took longer than half of redeemTimeoutMs", {
            timeoutMs: Math.floor(redeemTimeoutMs / 2),
          }),
      );
      try {
        const asked = Promise.resolve().then(() =>
          verifyUnredeemed!({ refreshToken, previous, signal: limit.signal }),
        );
        answer = await raceAbort(asked, limit.signal);
        if (typeof answer !== "boolean") {
          // "Cannot tell", as documented: asked again later, like a network error.
          throw new InvalidResponseError("verifyUnredeemed resolved to a non-boolean", { transient: true });
        }
      } catch (error) {
        // Our own abort (the deadline, the lease, dispose), or a failure not known to repeat: no answer
        // yet, asked again after another settle period. One known to repeat (a 401 from introspection,
        // a bad URL) would fail the same way every time: recorded in the marker and not asked again, so
        // the token is refused for good, as without a verifier. Only what is positively known counts:
        // a network blip in an HTTP client whose errors core cannot read must not end sessions.
        // The record is a field of the `in-doubt` marker, not a new state: an older instance's
        // `decodeMarker` reads an unknown state as no marker at all, and would present the token
        // again (a reuse); it reads this marker as in doubt and ignores the field (`checkedAt` makes
        // it wait a settle period before it asks, as it always did).
        // Either way the marker keeps the expiry it got when the redemption was abandoned (`at`), so
        // checks that keep failing do not keep the token in doubt past `redeemedTtlMs`.
        const permanent = !limit.signal.aborted && failsForGood(error);
        const checkedAt = now();
        const swapped = await swap(
          expected,
          permanent
            ? { state: "in-doubt", at: marker.at, checkedAt, verifyFailedAt: checkedAt }
            : { state: "in-doubt", at: marker.at, checkedAt },
          Math.max(1, marker.at + redeemedTtlMs - checkedAt),
        );
        // A late redemption published meanwhile: its record stands, and decides.
        if (swapped === false) return work(held);
        counters.inDoubt++;
        emit("in-doubt", error);
        throw permanent ? inDoubt(error, undefined) : doubt(error);
      } finally {
        limit.release();
      }
      if (!answer) {
        counters.inDoubtLost++;
        emit("in-doubt-lost");
        if (marker.unreadable) {
          // The marker this one replaced could not be read here: it may have been another
          // instance's `redeemed` (a rolling key change), so the dead token may be one this session
          // has already rotated, and its browser may hold the newer pair. Refused for good, but not
          // as `invalid_grant`, which would end the session (Astro clears its cookies): as a late
          // request is. Not asked again (`verifyFailedAt`).
          const checkedAt = now();
          const swapped = await swap(
            expected,
            { state: "in-doubt", at: marker.at, checkedAt, verifyFailedAt: checkedAt, unreadable: true },
            Math.max(1, marker.at + redeemedTtlMs - checkedAt),
          );
          if (swapped === false) return work(held);
          throw inDoubt(undefined, undefined, undefined, true);
        }
        // Dead at the server, maybe because a late redemption rotated it: a `redeemed` that holder
        // published meanwhile is kept (a stale tab then gets SUPERSEDED, not the session's end).
        if ((await swap(expected, { state: "failed", at: now(), failure: deadAfterDoubt })) === false) {
          return work(held);
        }
        throw new OAuthError({ ...deadAfterDoubt });
      }
      counters.inDoubtCleared++;
      emit("in-doubt-cleared");
      return redeemHere(held, expected); // its claim replaces the in-doubt marker, if still there
    };

    /** Under the lease: the recorded outcome read again, else what the marker calls for. */
    const work = async (held: HeldLease): Promise<TokenSet> => {
      // (Run again after a marker changed under it: never past the lease, and only a few times: a
      // store whose compareAndSet never matches what its get returns would have it run on, forever
      // on a store that answers without I/O, where the lease's timers never fire.)
      held.signal.throwIfAborted();
      if (++rereads > MARKER_REREADS) {
        throw storeUnavailable(
          new Error("the store's compareAndSet keeps refusing the marker its get returned"),
        );
      }
      const found = await read();
      if (found === FAILED) throw storeUnavailable(storeError);
      if (found !== undefined) return found;
      if (redeeming || unreadable) {
        // A `redeeming` marker under a free lease: its holder died or lost the lease mid-redemption.
        // An unreadable one (with a verifier) may be that too, or anything else: in doubt from now.
        const swapped = await swap(
          seen,
          unreadable ? { state: "in-doubt", at: now(), unreadable: true } : { state: "in-doubt", at: now() },
        );
        // That holder published after all, between the read and this write: decide again.
        if (swapped === false) return work(held);
        counters.inDoubt++;
        emit("in-doubt");
        throw doubt(undefined, undefined, unreadable);
      }
      if (due !== undefined) return check(held, due, seen);
      return redeemHere(held, seen);
    };

    return underLease(link, lease, {
      leaseKey: `${prefix}lease:${hash}`,
      read,
      work,
      unavailable: async () => {
        throw storeUnavailable(storeError);
      },
      onWait: () => {
        counters.leaseWaits++;
        emit("lease-wait");
      },
      signal: lifetime.signal,
      budgetMs: redeemTimeoutMs,
      giveUpAt: startedAt + redeemTimeoutMs + shared.settings.leaseTtlMs + 2 * DEFAULT_LEASE_POLL_MAX_MS,
    });
  }

  async function rotate(current: TokenSet | string, rotateOptions?: RotateOptions): Promise<TokenSet> {
    if (lifetime.signal.aborted) throw disposedError();
    checkTimeoutMs(rotateOptions?.timeoutMs, "rotate");
    const refreshToken = typeof current === "string" ? current : current?.refreshToken;
    if (typeof refreshToken !== "string" || refreshToken === "") {
      throw Object.assign(new TypeError("rotate needs a refresh token (or a token set that has one)"), {
        code: "ERR_TOKENKEEP_INVALID_ARGUMENT",
      });
    }
    counters.rotations++;
    const hash = await sha256Hex(refreshToken);
    // dispose() may have run while the hash was computed.
    if (lifetime.signal.aborted) throw disposedError();
    const known = recent.get(hash);
    if (known !== undefined) {
      if (now() < known.until) return successorHit(known.set);
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
    // The store link first: a store call or probe still running must not arm a timer after the clear.
    link.close();
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
