/**
 * Whether a token creator's failure is worth retrying. Tokenkeep errors carry their own `transient`
 * flag; a custom creator (any async function, or an HTTP client such as `@authup/core-http-kit`)
 * throws errors of its own, which are read here by the shapes runtimes and HTTP clients give them.
 */
import { isObject } from "../options/rules.js";
import { isTokenkeepError } from "./errors.js";

/**
 * The message of the `TypeError` that `fetch` rejects with when no HTTP answer arrived (refused
 * connection, reset, DNS failure). Node (undici) and Deno 2 say "fetch failed", Chromium "Failed to
 * fetch", Firefox "NetworkError when attempting to fetch resource.", Safari "Load failed" (Chromium
 * and Safari may add the host in parentheses: "Failed to fetch (api.example.com)"); Node says
 * "terminated" when the connection broke off while the answer's body was read, older Deno "error
 * sending request for url (...): ...".
 */
const FETCH_FAILURE_MESSAGE =
  /^(?:(?:fetch failed|terminated|NetworkError when attempting to fetch resource\.|(?:Failed to fetch|Load failed)(?: \(.*\))?)$|error sending request)/;

/**
 * Bun rejects `fetch` with a `TypeError` whose `code` names the system error ("ECONNREFUSED: Unable to
 * connect..."); these are the codes of a connection that failed or broke, not of a bad request.
 */
const NETWORK_ERROR_CODE =
  /^E(CONNREFUSED|CONNRESET|CONNABORTED|TIMEDOUT|PIPE|NOTFOUND|AI_AGAIN|HOSTUNREACH|NETUNREACH|NETDOWN)$/;

type Failure = Record<string, unknown>;

/** A `fetch` that got no HTTP answer. Any other `TypeError` is a bug and not retried. */
function isFetchNetworkFailure(error: Failure): boolean {
  if (!(error instanceof TypeError)) return false;
  const { message } = error;
  return (
    FETCH_FAILURE_MESSAGE.test(message) ||
    (typeof error.code === "string" && NETWORK_ERROR_CODE.test(error.code))
  );
}

/**
 * A timeout's abort reason: the `TimeoutError` `DOMException` of `AbortSignal.timeout()`, or an HTTP
 * client's error of that name (ky). An `AbortError` means someone asked to stop: not retried.
 */
function isTimeout(error: Failure): boolean {
  return error.name === "TimeoutError" && (error instanceof Error || error instanceof DOMException);
}

/** The HTTP status an error carries as `status`, `statusCode` or `response.status`, when numeric. */
function statusOf(error: Failure): number | undefined {
  return [error.status, error.statusCode, isObject(error.response) && error.response.status].find(
    (status) => typeof status === "number",
  ) as number | undefined;
}

/**
 * Whether an HTTP status may succeed when asked again: 408 Request Timeout, 429 Too Many Requests and
 * every 5xx. The one rule every tokenkeep package applies to an answer's status.
 */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599);
}

/** Classifies one error by itself; `undefined` when it says nothing either way. */
function classifyOne(error: unknown): boolean | undefined {
  if (!isObject(error)) return undefined;
  if (isTokenkeepError(error)) return error.transient;
  const status = statusOf(error);
  if (status !== undefined) return isTransientStatus(status);
  return isFetchNetworkFailure(error) || isTimeout(error) || undefined;
}

/**
 * Whether retrying the failed token request may succeed. The token manager retries exactly these
 * (with backoff) and surfaces every other failure at once.
 *
 * - A tokenkeep error: its own `transient` flag (an `OAuthError` for `invalid_grant` is permanent).
 * - An error carrying a numeric HTTP status as `status`, `statusCode` or `response.status` (the shape
 *   of ky's `HTTPError` and most HTTP clients' errors): transient for 408, 429 and 5xx, permanent
 *   otherwise.
 * - The `TypeError` `fetch` rejects with when no answer arrived (Node, Deno, Bun, Chromium, Firefox
 *   and Safari messages), or Node's "terminated" for an answer that broke off mid-body: transient.
 *   Any other `TypeError` is a bug: permanent.
 * - A `TimeoutError` (`AbortSignal.timeout()`'s `DOMException`, ky's): transient. An `AbortError`:
 *   permanent.
 * - Otherwise the error's `cause`, one level down, by the same rules; failing that, permanent.
 *
 * A foreign error carries no `Retry-After`: throw core's errors with `retryAfterMs` to control waits.
 */
export function isTransientError(error: unknown): boolean {
  return classifyOne(error) ?? (isObject(error) && classifyOne(error.cause) === true);
}

/**
 * Whether a failure is known to repeat however often it is retried: a tokenkeep error marked
 * permanent, an HTTP status other than 408, 429 and 5xx, or a `TypeError` or `RangeError` that is
 * not a network failure (a bad URL, a bug). Stricter than `!isTransientError`: an error it cannot
 * read (a plain `Error`, an HTTP client's own network error) is not known to repeat. Internal.
 */
export function failsForGood(error: unknown): boolean {
  const own = classifyOne(error);
  if (own !== undefined) return !own;
  return (error instanceof TypeError || error instanceof RangeError) && !isTransientError(error);
}

/**
 * Whether a failed refresh proves the server did not redeem the refresh token, so presenting it
 * again is no reuse: an answer of 429, or a 503 that is the server's own refusal (an OAuth error
 * body, such as `temporarily_unavailable`, or a `Retry-After`: `retryAfterMs`; a bare or HTML 503
 * may be a proxy's, sent after the request reached the server: Envoy's "upstream reset before
 * headers", Heroku's H12 timeout), a `use_dpop_nonce` answer (RFC 9449 section 8: the server
 * refused the DPoP proof before it looked at the grant; grants answers one such challenge carrying
 * a `DPoP-Nonce` itself and throws the second, or one without), or a request that never left: a connection
 * refused or a host name that did not resolve (`ECONNREFUSED`, `ENOTFOUND`, `EAI_AGAIN` as a `code`
 * down the `cause` chain, where `fetch` and grants put it). Anything else - a 500, 502 or
 * 504, a reset, a timeout, an abort, an error with no status or code - leaves the token in doubt: the
 * server may have rotated it before the answer was lost. Internal.
 */
export function refusedBeforeRedeeming(error: unknown): boolean {
  // The nearest HTTP status decides: a 502 whose cause was a 429 upstream is still in doubt.
  for (let cause = error, depth = 0; isObject(cause) && depth < 5; cause = cause.cause, depth++) {
    const status = statusOf(cause);
    if (status !== undefined) {
      return (
        status === 429 ||
        (status === 503 && (cause.error ?? cause.retryAfterMs) !== undefined) ||
        cause.error === "use_dpop_nonce"
      );
    }
    // (`test` reads a missing code as "undefined", which never matches.)
    if (/^E(CONNREFUSED|NOTFOUND|AI_AGAIN)$/.test(cause.code as string)) return true;
  }
  return false;
}
