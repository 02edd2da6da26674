import { NetworkError, TimeoutError, TokenkeepError } from "@tokenkeep/core";
import { STORE_ERROR_CODE } from "../errors.js";

const CONNECTION_ERRORS = new Set([
  "ClientClosedError",
  "ClientOfflineError",
  "SocketClosedUnexpectedlyError",
  "ConnectionTimeoutError",
  "ReconnectStrategyError",
  "SocketTimeoutError",
]);

/**
 * Wraps whatever the Redis client threw as a tokenkeep error. The message names the command only
 * (never a key, a value or the URL); the original error stays in `cause`, which `toJSON()` omits.
 * Every store failure is transient: the manager retries and falls back to per-process fetching.
 */
export function wrapRedisError(command: string, error: unknown, timeoutMs: number): TokenkeepError {
  // node-redis's error classes do not set `name`; their constructor names are stable.
  const name = error instanceof Error ? (error.constructor?.name ?? error.name) : "";
  const code = (error as { code?: unknown } | null)?.code;
  if (name === "TimeoutError" || name.endsWith("TimeoutDuringMaintenanceError")) {
    return new TimeoutError(`redis store: ${command} took longer than ${timeoutMs} ms`, {
      cause: error,
      timeoutMs,
    });
  }
  if (CONNECTION_ERRORS.has(name) || typeof code === "string") {
    return new NetworkError(`redis store: ${command} failed, Redis is unreachable (${name || code})`, {
      cause: error,
    });
  }
  const reply = error instanceof Error ? firstWord(error.message) : "";
  return new TokenkeepError(STORE_ERROR_CODE, `redis store: ${command} failed${reply ? ` (${reply})` : ""}`, {
    cause: error,
    transient: true,
  });
}

/** The error class word of a Redis error reply (`WRONGTYPE`, `NOAUTH`, `OOM`...), nothing more. */
function firstWord(message: string): string {
  const word = /^[A-Z][A-Z_]{1,30}\b/.exec(message)?.[0];
  return word ?? "";
}
