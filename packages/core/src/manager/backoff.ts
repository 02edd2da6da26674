import { isTokenkeepError } from "../errors/errors.js";

/** The retry policy of a token fetch. */
export interface RetryPolicy {
  /**
   * How many times a transient failure is retried (0 disables retries).
   * @default 3
   */
  readonly retries: number;
  /**
   * Cap of the first backoff delay; the cap doubles with each attempt.
   * @default 200
   */
  readonly baseDelayMs: number;
  /**
   * The largest backoff delay, and the longest `Retry-After` waited for inline: a longer one ends the
   * fetch and opens a throttle window instead.
   * @default 10_000
   */
  readonly maxDelayMs: number;
}

/**
 * Full-jitter exponential backoff: a uniformly random delay in `[0, min(maxDelayMs, baseDelayMs * 2^attempt))`.
 * @param attempt - 0 for the first retry.
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: () => number): number {
  return Math.floor(random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt));
}

/** The server's `Retry-After` carried by an error, in ms, when it sent one. */
export function retryAfterOf(error: unknown): number | undefined {
  return isTokenkeepError(error) && typeof error.retryAfterMs === "number" && error.retryAfterMs > 0
    ? error.retryAfterMs
    : undefined;
}

/**
 * How long to wait before retrying after `error`: the backoff delay, but at least the server's
 * `Retry-After`. `undefined` when the server asks for more than `maxDelayMs`: waiting inline would
 * hold every caller, so the fetch fails and the manager remembers a throttle window instead.
 */
export function retryDelayMs(
  error: unknown,
  attempt: number,
  policy: RetryPolicy,
  random: () => number,
): number | undefined {
  const after = retryAfterOf(error);
  if (after !== undefined && after > policy.maxDelayMs) return undefined;
  return Math.max(after ?? 0, backoffDelayMs(attempt, policy, random));
}
