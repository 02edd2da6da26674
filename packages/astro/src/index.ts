/**
 * @packageDocumentation
 * An Astro integration that keeps an upstream API's tokens in HttpOnly cookies and rotates them, plus a typed API client.
 */

/** The version of this package, for diagnostics. */
export const version = "0.0.0";
