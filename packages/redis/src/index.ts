/**
 * @packageDocumentation
 * tokenkeep's store on Redis: one token fetch and one refresh-token rotation across every instance of a service.
 */

/** The version of this package, for diagnostics. */
export const version = "0.0.0";
