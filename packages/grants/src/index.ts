/**
 * @packageDocumentation
 * OAuth 2.0 token creators for tokenkeep: client credentials, password, robot credentials and refresh token grants, revocation and discovery.
 */

/** The version of this package, for diagnostics. */
export const version = "0.0.0";
