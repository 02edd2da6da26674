/**
 * Throttle: when an authorization server answers 429 or 503 with `Retry-After` and the retries are
 * spent (or the wait is longer than the manager would wait inline), the manager remembers until when
 * the server asked to be left alone. Meanwhile callers without a usable token fail fast with a
 * transient `ERR_TOKENKEEP_THROTTLED` error carrying the rest of the window, instead of piling on.
 */
import { TokenkeepError } from "../errors/errors.js";
import { setRecent } from "../internal/lru.js";

/** Throttle windows by identity key, bounded to `max` entries (oldest dropped first). */
export interface Throttle {
  /** Ms left in the window of `key` at `now`, or 0. */
  remainingMs(key: string, now: number): number;
  /** Opens (or extends) the window of `key` until `until`. */
  open(key: string, until: number): void;
  clear(): void;
}

/** Creates an empty, bounded set of throttle windows. */
export function createThrottle(max: number): Throttle {
  const windows = new Map<string, number>();
  return {
    remainingMs(key, now) {
      const until = windows.get(key);
      if (until === undefined) return 0;
      if (until > now) return until - now;
      windows.delete(key);
      return 0;
    },
    open(key, until) {
      setRecent(windows, key, until, max);
    },
    clear() {
      windows.clear();
    },
  };
}

/** The error a caller gets inside a throttle window. Transient, with the rest of the window. */
export function throttledError(remainingMs: number): TokenkeepError {
  return new TokenkeepError(
    "ERR_TOKENKEEP_THROTTLED",
    `the authorization server asked to wait; retry in ${Math.ceil(remainingMs / 1000)} s`,
    { transient: true, retryAfterMs: remainingMs },
  );
}
