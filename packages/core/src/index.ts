/**
 * @packageDocumentation
 * The token lifecycle: cache, clock skew, refresh ahead of expiry, single-flight and retries, plus the interfaces every tokenkeep package composes through.
 */

/** The version of this package, for diagnostics. */
export const version = "0.0.0";
