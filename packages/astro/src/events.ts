/**
 * Events and counters: one `onEvent` hook and `stats()` for a health page. Never a token in them:
 * events carry the type, the time, the request's path and, for failures, the error (whose message
 * and `toJSON()` core keeps free of secrets).
 */

/** The kinds of {@link TokenkeepEvent}. */
export type TokenkeepEventType =
  /**
   * A request's session was rotated: its refresh token redeemed by this request, or by another request
   * or instance a moment before (a successor; `stats().successorHits` counts those).
   */
  | "rotated"
  /** The request carried a refresh token this deployment already redeemed: served signed out, cookies kept. */
  | "late-request"
  /**
   * A rotation failed; `permanent` tells whether the session ended (cookies cleared). A rotation
   * whose new session is over `cookie.maxBytes` is permanent, its `error` coded
   * `ERR_TOKENKEEP_SESSION_TOO_LARGE` (the new tokens were revoked, never written). So is one whose
   * new session could not be stored before its successor window closed (cookies untouched, as for a
   * late request: `error` is the storage's).
   */
  | "refresh-failure"
  /** Route protection turned a request away. */
  | "protected"
  /** `login()` stored a new session. */
  | "signed-in"
  /**
   * `login()` failed; `error` is the `SignInError` it threw (its `code` tells rejected credentials from
   * an unavailable upstream, its `cause` what went wrong).
   */
  | "sign-in-failure"
  /** `logout()` ended a session; `revoked` tells whether the upstream confirmed it. */
  | "signed-out";

/** One event. */
export interface TokenkeepEvent {
  readonly type: TokenkeepEventType;
  /** Epoch ms. */
  readonly at: number;
  /** The request's path (no query string: it may carry secrets). */
  readonly path: string;
  /** For `refresh-failure`: whether the session ended for good (see `refresh-failure`). */
  readonly permanent?: boolean;
  /** For `signed-out`: whether the upstream revoked the session. */
  readonly revoked?: boolean;
  /** For `refresh-failure`, `late-request`, `sign-in-failure` and `signed-out`: what went wrong (log-safe). */
  readonly error?: unknown;
}

/** Counters since the server started (per process). */
export interface TokenkeepStats {
  /** Sessions rotated (by this request, or served a successor). */
  rotations: number;
  /** Rotations answered with another request's or instance's redemption. */
  successorHits: number;
  /** Requests that carried an already-redeemed refresh token after the successor window. */
  lateRequests: number;
  /** Rotations that failed, permanently or not. */
  refreshFailures: number;
  /**
   * 401s from the API that renewed nothing: the session's tokens had replaced a rejected pair less
   * than `api.unauthorizedCooldownMs` before (as core's manager counts them).
   */
  invalidationsRefused: number;
}

/** A fresh set of counters. */
export function createStats(): TokenkeepStats {
  return { rotations: 0, successorHits: 0, lateRequests: 0, refreshFailures: 0, invalidationsRefused: 0 };
}
