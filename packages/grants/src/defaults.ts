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
