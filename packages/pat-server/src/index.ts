/**
 * @packageDocumentation
 * A personal access token service speaking the `@access-tokens` protocol: a Web-standard handler,
 * SQLite (embedded, default) and PostgreSQL stores, a `serve` helper for Node, and the
 * `tokenkeep-pat-server` command. Wire schemas live in `@tokenkeep/pat-protocol`.
 *
 * Deliberately not exported: the route modules, HTTP helpers, migrations, the rate limiter and the
 * `lastUsedAt` coalescer under `src/internal/` (configure them through the handler's options).
 */

export type { PatErrorState, PatHandlerOptions, PatRateLimitOptions } from "./handler-options";
export { createPatGuard, type PatGuard, type PatGuardOptions } from "./pat-guard";
export type { AccessRequirement, PatAuthResult, PatHandler } from "./pat-handler";
export { createPatHandler } from "./pat-handler";
export { createPostgresStore, type PostgresStoreOptions } from "./postgres-store";
export { type HashSecretOptions, hashSecret, verifySecret } from "./scrypt";
export {
  type RequestContext,
  type ServableHandler,
  type ServedHandler,
  type ServeOptions,
  serve,
} from "./serve";
export {
  type GenerateSigningKeyOptions,
  generateSigningKey,
  type SigningAlgorithm,
  type SigningJwk,
  toPublicJwk,
} from "./signing-keys";
export { createSqliteStore, type SqliteStoreOptions } from "./sqlite-store";
export {
  type RunningPatServer,
  type StartPatServerOptions,
  startPatServer,
} from "./start-pat-server";
export type {
  ListRecordsQuery,
  PatStore,
  RecordPatch,
  StoredPatRecord,
  UpdateOutcome,
  UsageEntry,
} from "./store";
export {
  type GeneratedToken,
  type GenerateTokenOptions,
  generateToken,
  generateTokenId,
} from "./token-generator";
export {
  type BootstrapAdminTokenOptions,
  bootstrapAdminToken,
  type IssuedToken,
  type IssueTokenInput,
  type IssueTokenOptions,
  issueToken,
} from "./token-service";
