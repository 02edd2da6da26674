/**
 * Every default of @tokenkeep/pat-client, in one place. The option schema reads them from here.
 */

/** Mount paths of the exchange route (`POST <authPath>/token`) and the admin routes: the protocol's, as in the original client. */
export { DEFAULT_ADMIN_PATH, DEFAULT_AUTH_PATH } from "@tokenkeep/pat-protocol";
/** Each HTTP attempt (not the whole call with its retries) is abandoned after this long. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/**
 * Largest answer body the client reads: 64 MiB. A full page of 1000 records whose owners and roles are
 * at the protocol's limits, every character escaped, stays under half of it; a server sending more is
 * broken or hostile, and gets an `ERR_PAT_CLIENT_INVALID_RESPONSE` rather than the process's memory.
 */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
/** Retries after the first attempt (so up to 4 attempts), as in the original client. */
export const DEFAULT_RETRY_LIMIT = 3;
/** Delay before the first retry; it doubles with each retry, then jitter picks a point below it. */
export const DEFAULT_RETRY_BASE_DELAY_MS = 1_000;
/**
 * Longest backoff delay, and the longest `Retry-After` the client waits for: a server asking for
 * more gets the error at once (it carries `retryAfterMs`) instead of a caller blocked for minutes.
 */
export const DEFAULT_RETRY_MAX_DELAY_MS = 30_000;
/** Statuses retried: request timeout, rate limit and the transient server errors. */
export const DEFAULT_RETRY_STATUS_CODES: readonly number[] = [408, 429, 500, 502, 503, 504];
/** Page size `listAll` asks for: the protocol's maximum, so 2,500 tokens cost 3 requests. */
export const DEFAULT_LIST_ALL_PAGE_SIZE = 1000;
/**
 * Pages `listAll` reads at most (1,000,000 tokens at the default page size) before it fails with
 * `ERR_PAT_CLIENT_PAGE_LIMIT`: a server whose cursor is new on every page would otherwise be walked
 * for ever, and `tokenkeep-pat list --all`, which keeps every record, would run out of memory.
 */
export const DEFAULT_LIST_ALL_MAX_PAGES = 1000;
/**
 * The JWT is renewed this long before it expires (the original used 30 s). Core's manager caps it at
 * a fifth of the JWT's lifetime, so short-lived JWTs stay usable.
 */
export const DEFAULT_JWT_SKEW_MS = 30_000;
/** `http:` endpoints are refused unless their host is loopback: the PAT never travels in clear text. */
export const DEFAULT_ALLOW_INSECURE_REQUESTS = false;
