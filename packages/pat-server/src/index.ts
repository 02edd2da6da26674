/**
 * @packageDocumentation
 * A personal access token service: embedded SQLite by default, PostgreSQL when one machine is not enough.
 */

/** The version of this package, for diagnostics. */
export const version = "0.0.0";
