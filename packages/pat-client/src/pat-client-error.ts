import { isTokenkeepError, TokenkeepError } from "@tokenkeep/core";
import type { ApiError } from "@tokenkeep/pat-protocol";

/** Stable codes of {@link PatClientError}. */
export type PatClientErrorCode =
  /** The server answered with a non-2xx status: `status` is set, `cause` is the `ApiError` body or the status text. */
  | "ERR_PAT_CLIENT_HTTP"
  /** No answer arrived (refused, reset, dropped). `cause` is the runtime's error. */
  | "ERR_PAT_CLIENT_NETWORK"
  /** An attempt took longer than `timeoutMs`: for its headers, or again for its body (then `status` is set). */
  | "ERR_PAT_CLIENT_TIMEOUT"
  /** A 2xx answer whose body is not what the protocol promises; `cause` lists the problems as `path: message`. */
  | "ERR_PAT_CLIENT_INVALID_RESPONSE"
  /** The caller's `AbortSignal` fired. */
  | "ERR_PAT_CLIENT_ABORTED"
  /**
   * The exchange route asked to wait (`Retry-After` on a 429 or 5xx) and the client does not: the wait
   * is longer than `retry.maxDelayMs`, or no retry is left. `retryAfterMs` says how long. The call that
   * got that answer carries its `status`; until the wait is over, calls that need a new JWT fail at once
   * with this code, without a request (so without `status`).
   */
  | "ERR_PAT_CLIENT_THROTTLED"
  /**
   * `listAll` read its `maxPages` pages and the server still had a next one (a service with more
   * tokens than that, or a server whose cursor never ends): raise `maxPages` for the former.
   */
  | "ERR_PAT_CLIENT_PAGE_LIMIT"
  /** The client was closed. */
  | "ERR_PAT_CLIENT_CLOSED";

/** What the client was doing when it failed. */
export type PatClientOperation =
  | "exchange"
  | "list"
  | "issue"
  | "register"
  | "update"
  | "revoke"
  | "restore"
  | "batchGet"
  | "batchLoad";

/** Options of {@link PatClientError}. */
export interface PatClientErrorOptions {
  readonly code: PatClientErrorCode;
  readonly operation: PatClientOperation;
  /** The HTTP status, when the server answered. */
  readonly status?: number | undefined;
  /** The `ApiError` body, the status text, or the underlying error. */
  readonly cause?: unknown;
  /** Whether repeating the call may succeed. @default false */
  readonly transient?: boolean | undefined;
  /** The server's `Retry-After`, in milliseconds. */
  readonly retryAfterMs?: number | undefined;
  /** What went wrong, for the message (already free of secrets). */
  readonly detail: string;
  /** The URL the request went to, as origin and path (no query string). */
  readonly endpoint?: string | undefined;
  /** Why no answer came, as the runtime's code (`ECONNREFUSED`, `ENOTFOUND`, a TLS code). */
  readonly reason?: string | undefined;
}

const DESCRIPTIONS: Readonly<Record<PatClientOperation, string>> = {
  exchange: "Failed to exchange the personal access token for a JWT",
  list: "Failed to list tokens",
  issue: "Failed to issue token",
  register: "Failed to register token",
  update: "Failed to update token",
  revoke: "Failed to revoke token",
  restore: "Failed to restore token",
  batchGet: "Failed to get tokens",
  batchLoad: "Failed to batch load tokens",
};

/**
 * What every method of the client throws. An `Error` (as with the original client) whose `cause` is
 * the server's `ApiError` body (test it with `isApiError`) or, when the body was not the protocol's
 * JSON error, the HTTP status text; `status` is the HTTP status.
 *
 * Neither the message, `cause`, nor `toJSON()` ever contains the personal access token or the JWT.
 *
 * @example
 * ```ts
 * try {
 *   await client.revoke(tokenId);
 * } catch (error) {
 *   if (isPatClientError(error) && error.status === 404) console.log("no such token");
 *   if (error instanceof Error && isApiError(error.cause)) console.log(error.cause.error.code);
 * }
 * ```
 */
export class PatClientError extends TokenkeepError {
  override name = "PatClientError";
  declare readonly code: PatClientErrorCode;
  /** The HTTP status of the answer; `undefined` when none arrived. */
  readonly status: number | undefined;
  /** The method that failed. */
  readonly operation: PatClientOperation;
  /** Where the failed request went: origin and path, never the query string. */
  readonly endpoint: string | undefined;
  /**
   * Why no answer came, as the runtime's code: `ECONNREFUSED`, `ENOTFOUND`, a TLS code such as
   * `CERT_HAS_EXPIRED`. `undefined` when an answer came or the runtime gave no code.
   */
  readonly reason: string | undefined;
  /**
   * The server's `ApiError` body (check with `isApiError`), else the status text; for an invalid answer
   * the list of problems (`path: message`); for network errors and timeouts the underlying error.
   */
  declare readonly cause: unknown;

  constructor(options: PatClientErrorOptions) {
    super(options.code, `${DESCRIPTIONS[options.operation]}: ${options.detail}`, {
      cause: options.cause,
      transient: options.transient ?? false,
      retryAfterMs: options.retryAfterMs,
    });
    this.status = options.status;
    this.operation = options.operation;
    this.endpoint = options.endpoint;
    this.reason = options.reason;
  }

  /**
   * A log-safe view: name, code, message, status, operation, endpoint, network reason and the
   * `ApiError`'s code.
   */
  override toJSON(): Record<string, unknown> {
    const cause = this.cause as Partial<ApiError> | undefined;
    return {
      ...super.toJSON(),
      status: this.status,
      operation: this.operation,
      endpoint: this.endpoint,
      reason: this.reason,
      errorCode: typeof cause?.error?.code === "string" ? cause.error.code : undefined,
    };
  }
}

/** True for a {@link PatClientError}, also one from a duplicate install of this package. */
export function isPatClientError(value: unknown): value is PatClientError {
  return isTokenkeepError(value) && value.name === "PatClientError";
}
