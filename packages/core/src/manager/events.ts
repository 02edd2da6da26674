/**
 * Events: what the manager reports through its `onEvent` hook. One plain state object per event;
 * fields may be added later. An event never carries a token: `key` is the identity key, `error` is
 * the (log-safe) error that ended a fetch.
 */

/** The kinds of event. */
export type TokenEventType =
  /** A cached token was returned. */
  | "hit"
  /** No usable cached token: this caller starts a fetch. */
  | "miss"
  /** A fetch (creator call with its retries, or a read of the shared store) started. */
  | "refresh-start"
  | "refresh-success"
  | "refresh-failure"
  /** A caller joined a fetch already in flight instead of starting another. */
  | "coalesced"
  /** A still-valid token was returned although refreshing it failed. */
  | "stale-served"
  /** A transient failure is retried after `delayMs`. */
  | "retry"
  /**
   * The refresher failed (`error`) without proving the server did not redeem the refresh token: it
   * is dropped, never presented again, and the creator is called instead.
   */
  | "refresh-token-dropped"
  /** A caller failed fast: the server asked to wait (`Retry-After`) and the window is still open. */
  | "throttled"
  /** A caller got a permanent failure remembered from a fetch moments ago (`failureCacheMs`). */
  | "failure-recalled"
  /** The shared store failed or timed out: the manager works per process until it answers again. */
  | "store-degraded"
  | "store-recovered";

/** One event. */
export interface TokenEvent {
  /** What happened. */
  readonly type: TokenEventType;
  /** The identity key (`""` for the default identity). Not secret; never a token. */
  readonly key: string;
  /** When it happened (epoch ms, from the manager's clock). */
  readonly at: number;
  /** For `refresh-*`: whether the fetch runs in the background while a valid token is served. */
  readonly background?: boolean;
  /** For `retry`: the attempt that failed, from 1. */
  readonly attempt?: number;
  /** For `retry`: the wait before the next attempt; for `throttled`: the rest of the window. */
  readonly delayMs?: number;
  /** For `refresh-success` and `hit`: the expiry of the token. */
  readonly expiresAt?: number;
  /**
   * For `refresh-failure`, `failure-recalled`, `retry`, `refresh-token-dropped`, `store-degraded`:
   * what went wrong.
   */
  readonly error?: unknown;
}

/** The hook that receives events. It must not throw; if it does, the error is ignored. */
export type TokenEventHandler = (event: TokenEvent) => void;
