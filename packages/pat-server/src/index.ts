/**
 * @packageDocumentation
 * A personal access token service speaking the `@access-tokens` protocol. This entry is the
 * Web-standard handler, the store interface and an in-memory store: it imports no `node:` module,
 * `pg` or `node:sqlite`, so it loads on Node, Deno, Bun and Cloudflare Workers. The stores live in
 * `@tokenkeep/pat-server/sqlite` and `@tokenkeep/pat-server/postgres`, the Node server (`serve`,
 * `startPatServer`) and the command in `@tokenkeep/pat-server/node`. Wire schemas live in
 * `@tokenkeep/pat-protocol`.
 *
 * Deliberately not exported: the route modules, HTTP helpers, migrations, the rate limiter and the
 * `lastUsedAt` coalescer under `src/internal/` (configure them through the handler's options).
 */

export type {
  PatErrorState,
  PatHandlerOptions,
  PatRateLimitOptions,
  PatRecoveryState,
  PatVerifierCacheOptions,
} from "./handler-options";
export { createMemoryStore } from "./memory-store";
export {
  createPatGuard,
  type JwksErrorState,
  type JwksRecoveryState,
  type PatGuard,
  type PatGuardOptions,
} from "./pat-guard";
export type { AccessRequirement, PatAuthResult, PatHandler, RequestContext } from "./pat-handler";
export { createPatHandler } from "./pat-handler";
export { type HashSecretOptions, hashSecret, verifySecret } from "./scrypt";
export {
  type GenerateSigningKeyOptions,
  generateSigningKey,
  type SigningAlgorithm,
  type SigningJwk,
  toPublicJwk,
} from "./signing-keys";
export type {
  ListRecordsQuery,
  PatStore,
  RecordPatch,
  StoredPatRecord,
  UpdateOutcome,
  UsageEntry,
} from "./store";
export {
  isPatStoreUnavailableError,
  PAT_STORE_UNAVAILABLE,
  PatStoreUnavailableError,
} from "./store-unavailable-error";
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
