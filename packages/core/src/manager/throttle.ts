/**
 * Throttle: when an authorization server answers 429 or 503 with `Retry-After` and the retries are
 * spent (or the wait is longer than the manager would wait inline), the manager remembers until when
 * the server asked to be left alone, at most `maxThrottleMs` ahead (a server may ask for years).
 * Meanwhile callers without a usable token fail fast with a transient `ERR_TOKENKEEP_THROTTLED` error
 * carrying the rest of the window, instead of piling on; `forceRefresh` too: the window is the
 * server's request, not a memory of ours that a caller may know to be stale (unlike the failure memory).
 */
import { TokenkeepError } from "../errors/errors.js";

/** The error a caller gets inside a throttle window. Transient, with the rest of the window. */
export function throttledError(remainingMs: number): TokenkeepError {
  return new TokenkeepError(
    "ERR_TOKENKEEP_THROTTLED",
    `the authorization server asked to wait; retry in ${Math.ceil(remainingMs / 1000)} s`,
    { transient: true, retryAfterMs: remainingMs },
  );
}
