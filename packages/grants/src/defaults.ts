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

/**
 * How long a client assertion (`private_key_jwt`, `client_secret_jwt`) is valid, in milliseconds:
 * 60 s. Each request signs a fresh one, so it only has to outlive the request and the clock skew.
 */
export const DEFAULT_ASSERTION_LIFETIME_MS = 60_000;

/** A client assertion's `aud`: the URL of the endpoint it is sent to (RFC 7523 section 3, point 3). */
export const DEFAULT_ASSERTION_AUDIENCE = "token_endpoint";
