/**
 * The API client's errors. Each has a stable `code` and extends core's `TokenkeepError`, so the
 * guards check core's brand and the code rather than `instanceof`: they work across duplicated
 * installs. Messages name the method, the URL's origin and path (never its query, which may carry
 * secrets) and the status; no token ever appears in a message, an enumerable field or `toJSON()`
 * (response data, which may hold one, is kept in non-enumerable fields: `data`, `issues`).
 */
import { isTokenkeepError, TokenkeepError } from "@tokenkeep/core";

/** The codes of the API client's errors. */
export type ApiErrorCode =
  /** The API answered with a status outside 2xx. */
  | "ERR_TOKENKEEP_API_HTTP"
  /** `data` did not match the schema given to the call. */
  | "ERR_TOKENKEEP_API_SCHEMA"
  /** The API took longer than `timeoutMs`. */
  | "ERR_TOKENKEEP_API_TIMEOUT"
  /** The API answered a body that is not JSON where JSON was expected. */
  | "ERR_TOKENKEEP_API_INVALID_BODY"
  /** The API could not be reached. */
  | "ERR_TOKENKEEP_API_NETWORK"
  /** The caller's `AbortSignal` aborted the call. */
  | "ERR_TOKENKEEP_API_ABORTED"
  /** `api` was used before the middleware was loaded (outside any request). */
  | "ERR_TOKENKEEP_API_NOT_READY"
  /** The session cannot be renewed for this call (see {@link SessionExpiredError}). */
  | "ERR_TOKENKEEP_SESSION_EXPIRED";

const PREFIX = "ERR_TOKENKEEP_API_";

/** Where a request went, without its query string. */
export function describeTarget(method: string, url: string): string {
  try {
    const parsed = new URL(url);
    return `${method.toUpperCase()} ${parsed.origin}${parsed.pathname}`;
  } catch {
    return method.toUpperCase();
  }
}

/** Base class of the API client's errors. */
export class ApiError extends TokenkeepError {
  override name = "ApiError";
  declare readonly code: ApiErrorCode;
  /** The HTTP status, when an answer arrived. */
  declare readonly status: number | undefined;

  constructor(
    code: ApiErrorCode,
    message: string,
    options: { cause?: unknown; transient?: boolean; status?: number | undefined } = {},
  ) {
    super(code, message, options);
    this.status = options.status;
  }
}

/** The API answered with a status outside 2xx (after the retries and the 401 replay). */
export class ApiHttpError<T = unknown> extends ApiError {
  override name = "ApiHttpError";
  declare readonly status: number;
  /** The answer's body: parsed JSON, else its text. Not enumerable, so a log does not dump it. */
  declare readonly data: T;
  /** The answer's headers (not enumerable). */
  declare readonly headers: Headers;

  constructor(options: { method: string; url: string; status: number; data: T; headers: Headers }) {
    super(
      "ERR_TOKENKEEP_API_HTTP",
      `${describeTarget(options.method, options.url)} answered ${options.status}`,
      {
        status: options.status,
        transient: options.status >= 500 || options.status === 429 || options.status === 408,
      },
    );
    Object.defineProperty(this, "data", { value: options.data });
    Object.defineProperty(this, "headers", { value: options.headers });
  }
}

/** One problem a Standard Schema reported. */
export interface ApiSchemaIssue {
  /** What is wrong, in the schema library's words: it may quote the value received (a token too). */
  readonly message: string;
  /** Where in `data`, as a dotted path (`items.0.id`); `""` for the root. */
  readonly path: string;
}

/** How many failing paths a schema error's message lists before "and N more". */
const LISTED_PATHS = 5;

/**
 * `data` did not match the call's schema. Its message lists the failing paths only: the schema
 * library's own messages (valibot's `received "..."`, a refinement echoing its input) may quote the
 * response's values, so they are kept in `issues`, which is not enumerable (a logged or serialized
 * error leaves it out, as it does `data` of an {@link ApiHttpError}).
 */
export class ApiSchemaError extends ApiError {
  override name = "ApiSchemaError";
  /** The path of the first failure (`items.0.id`; `""` for the root). */
  declare readonly path: string;
  /**
   * Every problem the schema reported, with the library's message. Not enumerable: a message may
   * quote response data (a token included), so log it only where that data may go.
   */
  declare readonly issues: readonly ApiSchemaIssue[];

  constructor(options: { method: string; url: string; status: number; issues: readonly ApiSchemaIssue[] }) {
    const first = options.issues[0] ?? { path: "", message: "invalid" };
    const paths = [...new Set(options.issues.map((issue) => issue.path))].map((path) =>
      path === "" ? "(root)" : path,
    );
    if (paths.length === 0) paths.push("(root)");
    const more = paths.length - LISTED_PATHS;
    super(
      "ERR_TOKENKEEP_API_SCHEMA",
      `${describeTarget(options.method, options.url)} answered data that failed its schema at ` +
        `${paths.slice(0, LISTED_PATHS).join(", ")}${more > 0 ? ` and ${more} more` : ""}`,
      { status: options.status },
    );
    this.path = first.path;
    Object.defineProperty(this, "issues", { value: options.issues });
  }
}

/**
 * The session cannot be renewed for this call: the API answered 401 after the response had started
 * (a component rendering while the page streams, where a rotated pair could not reach the browser and
 * the old refresh token would die), or the session ended while renewing it. Catch it in the page and
 * show a "signed out" state: the next request's middleware rotates.
 */
export class SessionExpiredError extends ApiError {
  override name = "SessionExpiredError";
  /**
   * Why: `response-started` (a 401 once the response had started: the next request renews the
   * session) or `session-ended` (the renewal ended the session: sign in again).
   */
  declare readonly reason: "response-started" | "session-ended";
  constructor(options: { reason: "response-started" | "session-ended"; method?: string; url?: string }) {
    const target =
      options.method === undefined || options.url === undefined
        ? "the API"
        : describeTarget(options.method, options.url);
    super(
      "ERR_TOKENKEEP_SESSION_EXPIRED",
      `${target} answered 401 and ${
        options.reason === "response-started"
          ? "the response has already started, so the session is not renewed now (the next request renews it)"
          : "the session has ended"
      }`,
      { status: 401 },
    );
    this.reason = options.reason;
  }
}

/** Whether `value` is one of the API client's errors (from any copy of this package). */
export function isApiError(value: unknown): value is ApiError {
  return (
    isTokenkeepError(value) &&
    (value.code.startsWith(PREFIX) || value.code === "ERR_TOKENKEEP_SESSION_EXPIRED")
  );
}

/** Whether `value` is an {@link ApiHttpError} (from any copy of this package). */
export function isApiHttpError<T = unknown>(value: unknown): value is ApiHttpError<T> {
  return isTokenkeepError(value) && value.code === "ERR_TOKENKEEP_API_HTTP";
}

/** Whether `value` is an {@link ApiSchemaError} (from any copy of this package). */
export function isApiSchemaError(value: unknown): value is ApiSchemaError {
  return isTokenkeepError(value) && value.code === "ERR_TOKENKEEP_API_SCHEMA";
}

/** Whether `value` is a {@link SessionExpiredError} (from any copy of this package). */
export function isSessionExpiredError(value: unknown): value is SessionExpiredError {
  return isTokenkeepError(value) && value.code === "ERR_TOKENKEEP_SESSION_EXPIRED";
}
