/**
 * Every default of @tokenkeep/core, in one place. Option schemas read them from here; nothing else
 * hard-codes a number.
 */

/**
 * Lifetime assumed for a token answer without `expires_in` (RFC 6749 makes it optional): one hour.
 * A token is never treated as valid forever; a 401 invalidates it earlier when the server disagrees.
 */
export const DEFAULT_LIFETIME_MS = 3_600_000;

/** How many entries (values and leases) the in-memory store holds before evicting the least recently used. */
export const DEFAULT_STORE_MAX_ENTRIES = 1000;
