/**
 * The errors every tokenkeep package throws. Each has a stable `code`; the guards check the brand
 * (a `Symbol.for` key) rather than `instanceof`, so they work across duplicate installs.
 *
 * No message, `toJSON()` or enumerable property ever carries a token, secret or password.
 */

const BRAND = Symbol.for("tokenkeep.error");

/** Stable error codes. New codes may be added in minor versions. */
export type TokenkeepErrorCode =
  | "ERR_TOKENKEEP_OAUTH"
  | "ERR_TOKENKEEP_INVALID_RESPONSE"
  | "ERR_TOKENKEEP_NETWORK"
  | "ERR_TOKENKEEP_TIMEOUT"
  | "ERR_TOKENKEEP_ABORTED"
  | "ERR_TOKENKEEP_THROTTLED"
  | "ERR_TOKENKEEP_DISPOSED"
  /** Rotation: this deployment already redeemed that refresh token, and its successor window passed. */
  | "ERR_TOKENKEEP_REFRESH_TOKEN_SUPERSEDED"
  /** Rotation: a redemption of that refresh token was abandoned; the server may have rotated it. */
  | "ERR_TOKENKEEP_ROTATION_IN_DOUBT"
  /** Rotation: the shared store is failing, so no redemption is safe right now (transient). */
  | "ERR_TOKENKEEP_STORE_UNAVAILABLE"
  | (string & {});

/** Options shared by every tokenkeep error. */
export interface TokenkeepErrorOptions {
  /** The underlying error, kept for debugging; never serialized by `toJSON()`. */
  cause?: unknown;
  /**
   * Whether retrying the same request may succeed. Permanent errors (bad credentials, a revoked
   * grant) are `false`.
   */
  transient?: boolean;
  /** Milliseconds the server asked us to wait (`Retry-After`), when it said so. */
  retryAfterMs?: number;
  /** The raw HTTP response, kept non-enumerable so logs do not dump it. */
  response?: Response | undefined;
}

/** Base class of every error tokenkeep throws. */
export class TokenkeepError extends Error {
  override name = "TokenkeepError";
  /** A stable, machine-readable code. */
  declare readonly code: TokenkeepErrorCode;
  /** Whether the operation may succeed when retried. */
  declare readonly transient: boolean;
  /** The server's `Retry-After`, in milliseconds, when it sent one. */
  declare readonly retryAfterMs: number | undefined;

  constructor(code: TokenkeepErrorCode, message: string, options: TokenkeepErrorOptions = {}) {
    super(message, options); // Error reads `cause` from it
    this.code = code;
    this.transient = options.transient ?? false;
    this.retryAfterMs = options.retryAfterMs;
    // Non-enumerable (the defineProperty default): the brand, and the response that logs must not dump.
    Object.defineProperty(this, BRAND, { value: true });
    if (options.response) Object.defineProperty(this, "response", { value: options.response });
  }

  /**
   * A log-safe view: name, message and the enumerable fields (code, transient, and those of
   * subclasses, which never hold a secret). Never the cause or the raw response.
   */
  toJSON(): Record<string, unknown> {
    return { ...(this as object), message: this.message };
  }
}

/** Fields of an RFC 6749 section 5.2 error answer. */
export interface OAuthErrorOptions extends TokenkeepErrorOptions {
  /** The `error` code, e.g. `invalid_grant`. */
  error: string;
  /** The `error_description`, when the server sent one. */
  errorDescription?: string | undefined;
  /** The `error_uri`, when the server sent one. */
  errorUri?: string | undefined;
  /** The HTTP status of the answer (200 when an error came in a 200 body). */
  status: number;
  /** The `WWW-Authenticate` header, when present. */
  wwwAuthenticate?: string | undefined;
  /** The raw `Response`, kept non-enumerable so logs do not dump it. */
  response?: Response | undefined;
}

/**
 * OAuth error codes that retrying cannot fix: the credentials, grant or request are wrong.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export const PERMANENT_OAUTH_ERRORS: ReadonlySet<string> = new Set([
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope",
  "access_denied",
  "unsupported_token_type",
]);

/**
 * An error answer from an authorization server (RFC 6749 section 5.2), including a 200 whose body
 * carries `error`. Permanent for the codes in {@link PERMANENT_OAUTH_ERRORS}; transient otherwise
 * (`temporarily_unavailable`, `server_error`, `slow_down`, or any 5xx/429).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export class OAuthError extends TokenkeepError {
  override name = "OAuthError";
  declare readonly error: string;
  declare readonly errorDescription: string | undefined;
  declare readonly errorUri: string | undefined;
  declare readonly status: number;
  declare readonly wwwAuthenticate: string | undefined;
  /** The raw response (non-enumerable). */
  declare readonly response: Response | undefined;

  constructor(options: OAuthErrorOptions) {
    super("ERR_TOKENKEEP_OAUTH", describeOAuth(options), {
      ...options,
      transient:
        options.transient ??
        (!PERMANENT_OAUTH_ERRORS.has(options.error) || options.status >= 500 || options.status === 429),
    });
    this.error = options.error;
    this.errorDescription = options.errorDescription;
    this.errorUri = options.errorUri;
    this.status = options.status;
    this.wwwAuthenticate = options.wwwAuthenticate;
  }
}

function describeOAuth(options: OAuthErrorOptions): string {
  return `authorization server answered ${options.status} ${options.error}${options.errorDescription ? `: ${options.errorDescription}` : ""}`;
}

/** Options of {@link InvalidResponseError}. */
export interface InvalidResponseErrorOptions extends TokenkeepErrorOptions {
  /** The HTTP status, when the problem came from an HTTP answer. */
  status?: number | undefined;
}

/**
 * An answer that is not what the protocol promises: HTML from a proxy, an empty body, JSON that
 * fails validation (the message names the field, never its value). Transient for 5xx/429 and
 * non-JSON bodies, permanent for a 2xx body that fails validation.
 */
export class InvalidResponseError extends TokenkeepError {
  override name = "InvalidResponseError";
  declare readonly status: number | undefined;
  declare readonly response: Response | undefined;

  constructor(message: string, options: InvalidResponseErrorOptions = {}) {
    super("ERR_TOKENKEEP_INVALID_RESPONSE", message, options);
    this.status = options.status;
  }
}

/** The request never got an HTTP answer (DNS, refused connection, reset). Always transient. */
export class NetworkError extends TokenkeepError {
  override name = "NetworkError";
  constructor(message: string, options: TokenkeepErrorOptions = {}) {
    super("ERR_TOKENKEEP_NETWORK", message, { ...options, transient: true });
  }
}

/** A request or a wait took longer than its `timeoutMs`. Transient. */
export class TimeoutError extends TokenkeepError {
  override name = "TimeoutError";
  declare readonly timeoutMs: number | undefined;
  constructor(message: string, options: TokenkeepErrorOptions & { timeoutMs?: number } = {}) {
    super("ERR_TOKENKEEP_TIMEOUT", message, { ...options, transient: true });
    this.timeoutMs = options.timeoutMs;
  }
}

/** The caller's `AbortSignal` fired. Not transient: the caller asked to stop. */
export class AbortError extends TokenkeepError {
  override name = "AbortError";
  constructor(message = "the operation was aborted", options: TokenkeepErrorOptions = {}) {
    super("ERR_TOKENKEEP_ABORTED", message, { ...options, transient: false });
  }
}

/** A guard for the tokenkeep errors with `code` (any code when omitted), from any install. */
const guard =
  <E extends TokenkeepError>(code?: TokenkeepErrorCode) =>
  (value: unknown): value is E =>
    typeof value === "object" &&
    value !== null &&
    (value as Record<symbol, unknown>)[BRAND] === true &&
    (code === undefined || (value as E).code === code);

/** True for any tokenkeep error, from this install or a duplicate one. */
export const isTokenkeepError = /* @__PURE__ */ guard();

/** True for an {@link OAuthError} from any install. */
export const isOAuthError = /* @__PURE__ */ guard<OAuthError>("ERR_TOKENKEEP_OAUTH");

/** True for an {@link InvalidResponseError} from any install. */
export const isInvalidResponseError = /* @__PURE__ */ guard<InvalidResponseError>(
  "ERR_TOKENKEEP_INVALID_RESPONSE",
);

/** True for a {@link NetworkError} from any install. */
export const isNetworkError = /* @__PURE__ */ guard<NetworkError>("ERR_TOKENKEEP_NETWORK");

/** True for a {@link TimeoutError} from any install. */
export const isTimeoutError = /* @__PURE__ */ guard<TimeoutError>("ERR_TOKENKEEP_TIMEOUT");

/** True for an {@link AbortError} from any install. */
export const isAbortError = /* @__PURE__ */ guard<AbortError>("ERR_TOKENKEEP_ABORTED");
