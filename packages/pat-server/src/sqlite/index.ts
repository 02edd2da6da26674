/**
 * @packageDocumentation
 * The SQLite store, on Node's built-in `node:sqlite` (Node 22.13 or newer, no flag; nothing to
 * install). Kept apart from the root entry so the handler loads where `node:sqlite` does not exist.
 */

export { createSqliteStore, type SqliteStoreOptions } from "./sqlite-store";
