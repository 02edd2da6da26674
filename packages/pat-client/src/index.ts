/**
 * @packageDocumentation
 * Personal access token admin client and CLI, wire compatible with the @access-tokens service.
 */

/** The version of this package, for diagnostics. */
export const version = "0.0.0";
