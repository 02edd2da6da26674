import { parseRetryAfter } from "@tokenkeep/core/http";
import type { RetryOptions } from "ky";
import { HTTPError, isNetworkError, isTimeoutError } from "ky";

/** How failed requests are retried. Every field is optional; the defaults match the original client. */
export interface PatRetryOptions {
  /**
   * Retries after the first attempt (0 turns retrying off).
   * @default 3
   */
  readonly limit?: number;
  /**
   * Delay before the first retry, doubling with each retry (1 s, 2 s, 4 s...).
   * @default 1000
   */
  readonly baseDelayMs?: number;
  /**
   * Cap of the backoff delay, and the longest `Retry-After` waited for: a server asking for longer
   * gets the error at once, with its wait in `retryAfterMs`.
   * @default 30000
   */
  readonly maxDelayMs?: number;
  /**
   * HTTP statuses that are retried.
   * @default [408, 429, 500, 502, 503, 504]
   */
  readonly statusCodes?: readonly number[];
}

/** {@link PatRetryOptions} with every default applied. */
export interface ResolvedRetryPolicy {
  readonly limit: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly statusCodes: readonly number[];
}

/**
 * The backoff delay before retry number `retry` (1 for the first): `baseDelayMs * 2^(retry - 1)`,
 * capped at `maxDelayMs`, then "equal jitter" picks a point in its upper half so that many clients
 * failing together do not retry together, while the doubling stays visible.
 */
export function backoffDelayMs(retry: number, policy: ResolvedRetryPolicy, random: () => number): number {
  return jittered(policy.baseDelayMs * 2 ** (retry - 1), policy, random);
}

function jittered(delayMs: number, policy: ResolvedRetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, delayMs);
  return ceiling / 2 + (random() * ceiling) / 2;
}

/** Error codes of a connection that was never established: the request cannot have reached the server. */
const NEVER_SENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ENETUNREACH", "EHOSTUNREACH"]);

/** True when `error` (or one of its causes) proves that the request never left this process. */
export function isNeverSentError(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && NEVER_SENT_CODES.has(code)) return true;
    current = current.cause;
  }
  return false;
}

/**
 * ky's retry options for one request.
 *
 * - Idempotent requests (every route but issuing) are retried on the policy's statuses, on network
 *   errors and on timeouts. `Retry-After` (seconds or an HTTP date) replaces the backoff; a longer
 *   wait than `maxDelayMs` is not retried.
 * - A non-idempotent request (`POST /admin/tokens` issues a token each time it is processed) is
 *   retried only when the connection was never established, so a token is never issued twice.
 */
export function kyRetryOptions(
  policy: ResolvedRetryPolicy,
  idempotent: boolean,
  random: () => number,
  now: () => number,
): RetryOptions {
  const statusCodes = [...policy.statusCodes];
  return {
    limit: policy.limit,
    methods: ["get", "put", "patch", "post", "delete"],
    statusCodes,
    afterStatusCodes: statusCodes,
    maxRetryAfter: policy.maxDelayMs,
    backoffLimit: policy.maxDelayMs,
    delay: (retry) => policy.baseDelayMs * 2 ** (retry - 1),
    // ky caps the jittered delay with `backoffLimit`; the ceiling is applied before the jitter here.
    jitter: (delay) => jittered(delay, policy, random),
    retryOnTimeout: idempotent,
    shouldRetry: ({ error }) => {
      if (!idempotent) return isNetworkError(error) && isNeverSentError(error);
      if (error instanceof HTTPError) {
        const afterMs = parseRetryAfter(error.response.headers.get("retry-after"), now());
        if (afterMs !== undefined && afterMs > policy.maxDelayMs) return false;
      }
      if (isTimeoutError(error)) return true;
      return undefined;
    },
  };
}
