import { NetworkError, TimeoutError, TokenkeepError } from "@tokenkeep/core";
import { STORE_ERROR_CODE } from "../errors.js";

const CONNECTION_ERRORS = new Set([
  "ClientClosedError",
  "ClientOfflineError",
  "DisconnectsClientError",
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
export function wrapRedisError(
  command: string,
  error: unknown,
  timeoutMs: number,
  lastConnectionError?: string,
): TokenkeepError {
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
    const last = lastConnectionError ? `, last connection error: ${lastConnectionError}` : "";
    return new NetworkError(`redis store: ${command} failed, Redis is unreachable (${name || code}${last})`, {
      cause: error,
    });
  }
  const reply = error instanceof Error ? firstWord(error.message) : "";
  // The one reply whose class alone does not say what to do: the node is not a primary any more.
  const why = reply === "READONLY" ? `${reply}: the Redis node is a read-only replica, not a primary` : reply;
  return new TokenkeepError(STORE_ERROR_CODE, `redis store: ${command} failed${why ? ` (${why})` : ""}`, {
    cause: error,
    transient: true,
  });
}

/**
 * What a failed connection attempt reports, in one log-safe word: the error reply's class
 * (`WRONGPASS`, `NOAUTH`, `ERR` for a database out of range, `LOADING`), else a system code
 * (`ECONNREFUSED`, `ENOTFOUND`), else node-redis's error class (`ConnectionTimeoutError`). Never the
 * reply's text, which may quote the command that failed (an `AUTH` with its password).
 */
export function connectionErrorClass(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^[A-Z][A-Z0-9_]{1,40}$/.test(code)) return code;
  if (!(error instanceof Error)) return "unknown";
  return firstWord(error.message) || error.constructor?.name || error.name;
}

/**
 * True for a `READONLY` reply: the node the connection reaches is a replica now (a failover, a
 * `REPLICAOF`, a managed endpoint moved to a new primary while this connection stayed open).
 */
export function isReadonlyReply(error: unknown): boolean {
  return error instanceof Error && firstWord(error.message) === "READONLY";
}

/** The error class word of a Redis error reply (`WRONGTYPE`, `NOAUTH`, `OOM`...), nothing more. */
function firstWord(message: string): string {
  const word = /^[A-Z][A-Z_]{1,30}\b/.exec(message)?.[0];
  return word ?? "";
}
