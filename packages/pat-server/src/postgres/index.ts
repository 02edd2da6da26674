/**
 * @packageDocumentation
 * The PostgreSQL store, on the `pg` driver: an optional peer dependency, installed by whoever imports
 * this entry (`npm install pg`). Kept apart from the root entry so the handler never loads `pg`.
 */

export {
  createPostgresStore,
  type PostgresStoreErrorState,
  type PostgresStoreOptions,
} from "./postgres-store";
