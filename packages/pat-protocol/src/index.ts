/**
 * @packageDocumentation
 * The personal access token wire protocol shared by @tokenkeep/pat-client and @tokenkeep/pat-server: zod schemas and types, no server dependencies.
 */

/** The version of this package, for diagnostics. */
export const version = "0.0.0";
