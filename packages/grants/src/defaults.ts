/**
 * Every default of @tokenkeep/grants, in one place. Option schemas read them from here; nothing else
 * hard-codes a value.
 */

/** How long one token, revocation or discovery request may take, in milliseconds: 30 s. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * How the client authenticates to the token endpoint: HTTP Basic, the method every server must
 * support (RFC 6749 section 2.3.1).
 */
export const DEFAULT_CLIENT_AUTHENTICATION = "client_secret_basic";

/** How request parameters are encoded: `application/x-www-form-urlencoded`, as RFC 6749 requires. */
export const DEFAULT_BODY_ENCODING = "form";

/** `http:` endpoints are refused unless their host is loopback: credentials never travel in clear text. */
export const DEFAULT_ALLOW_INSECURE_REQUESTS = false;

/**
 * How long discovered metadata is reused when its answer carries no `Cache-Control: max-age`, in
 * milliseconds: 1 h.
 */
export const DEFAULT_DISCOVERY_CACHE_MS = 3_600_000;
