/** Every default of the package, in one place. Times carry their unit in the name. */

/** JWT `iss` claim and the issuer admin routes accept. */
export const DEFAULT_ISSUER = "tokenkeep-pat-server";
/** Lifetime of an exchanged JWT: one hour, as in the protocol. Keep it short: revocation waits for it. */
export const DEFAULT_JWT_LIFETIME_SECONDS = 3600;
/** Path prefixes of the exchange and admin routes, and the PAT prefix: the protocol's defaults. */
export { DEFAULT_ADMIN_PATH, DEFAULT_AUTH_PATH, DEFAULT_PAT_PREFIX } from "@tokenkeep/pat-protocol";
/** Path of the JWKS document. */
export const DEFAULT_JWKS_PATH = "/.well-known/jwks.json";
/** Path of the health route. */
export const DEFAULT_HEALTH_PATH = "/healthz";
/** log2 of scrypt's N for new hashes: N = 16384. */
export const DEFAULT_SCRYPT_LOG2_COST = 14;
/**
 * Largest log2 of scrypt's N for new hashes: with r = 8 and p = 1, ln 16 is the highest whose PHC
 * string `@tokenkeep/pat-protocol` accepts (its work and memory bounds), so a higher one would issue
 * tokens that can never be exchanged.
 */
export const MAX_SCRYPT_LOG2_COST = 16;
/** scrypt block size r. */
export const SCRYPT_BLOCK_SIZE = 8;
/** scrypt parallelization p. */
export const SCRYPT_PARALLELIZATION = 1;
/** scrypt salt length in bytes. */
export const SCRYPT_SALT_BYTES = 16;
/** scrypt derived key length in bytes. */
export const SCRYPT_KEY_BYTES = 32;
/** Largest request body accepted, in bytes. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
/** Exchanges allowed per client address per window. */
export const DEFAULT_RATE_LIMIT_MAX_REQUESTS = 60;
/** Length of the rate limit window, in milliseconds. */
export const DEFAULT_RATE_LIMIT_WINDOW_MS = 60_000;
/** Most client addresses the rate limiter remembers before dropping the oldest. */
export const DEFAULT_RATE_LIMIT_MAX_ADDRESSES = 100_000;
/**
 * Exchanges waiting for or running scrypt at once, per handler; beyond it the exchange answers 503
 * with `Retry-After` instead of queueing without bound (at ~20 scrypt runs per core per second, 64
 * waiting is under two seconds of work on two cores).
 */
export const DEFAULT_MAX_PENDING_VERIFICATIONS = 64;
/**
 * `Retry-After` of the 503 a guard answers while the PAT server's JWKS document cannot be fetched, in
 * seconds: jose gives up on a JWKS request after 5 s, so sooner would only pile onto a server that is down.
 */
export const DEFAULT_JWKS_RETRY_AFTER_SECONDS = 5;
/**
 * While the JWKS document stays unavailable, a guard reports the outage again at most this often, in
 * milliseconds (1 minute): its first failure at once, then one report a minute, not one per request.
 */
export const DEFAULT_JWKS_ERROR_REPORT_INTERVAL_MS = 60_000;
/**
 * While a JWKS outage lasts, a guard fetches the document again at most this often, in milliseconds
 * (30 s, jose's cooldown between two fetches for an unknown `kid`), when requests are served from the
 * keys cached before it: so its end is reported within this long, not at jose's cache expiry (10 minutes).
 */
export const DEFAULT_JWKS_RECOVERY_PROBE_INTERVAL_MS = 30_000;
/** How long a verified secret is remembered per token id, in milliseconds (10 minutes). */
export const DEFAULT_VERIFIER_CACHE_TTL_MS = 600_000;
/** Most token ids whose verified secret is remembered; the least recently used is forgotten. */
export const DEFAULT_VERIFIER_CACHE_MAX_ENTRIES = 10_000;
/** How long `lastUsedAt` writes are coalesced before one batched write, in milliseconds. */
export const DEFAULT_LAST_USED_FLUSH_MS = 5000;
/** SQLite busy timeout, in milliseconds. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;
/**
 * How long a PostgreSQL store call waits for a connection before it fails as unavailable (the
 * handler's 503), in milliseconds: without a bound, a database that stops answering (paused, or cut off
 * by the network) would hold every request forever.
 */
export const DEFAULT_POSTGRES_CONNECT_TIMEOUT_MS = 5000;
/** How long one PostgreSQL statement may wait for its answer before the call fails as unavailable. */
export const DEFAULT_POSTGRES_QUERY_TIMEOUT_MS = 10_000;
/**
 * How long a PostgreSQL migration (one transaction, its lock wait included) may take before the call
 * that started it fails as unavailable: 10 minutes, for a migration that rewrites a large table. Not
 * `queryTimeoutMs`, which bounds a request's statements and would cut such a migration off.
 */
export const DEFAULT_POSTGRES_MIGRATION_TIMEOUT_MS = 600_000;
/**
 * While the store does not answer, the handler reports its 503s again at most this often, in
 * milliseconds (1 minute): an outage's first failed request at once, then one report a minute, not
 * one per request. As the guard's {@link DEFAULT_JWKS_ERROR_REPORT_INTERVAL_MS}.
 */
export const DEFAULT_STORE_ERROR_REPORT_INTERVAL_MS = 60_000;
/** `Retry-After` of the 503 the handler answers while its store is unavailable, in seconds. */
export const STORE_UNAVAILABLE_RETRY_AFTER_SECONDS = 1;
/** PostgreSQL schema holding the tables. */
export const DEFAULT_POSTGRES_SCHEMA = "public";
/** Owner of a token created by bootstrap. */
export const DEFAULT_BOOTSTRAP_OWNER = "admin";
/** Signing algorithm of generated keys. */
export const DEFAULT_SIGNING_ALGORITHM = "EdDSA";
/** Port of the standalone server. */
export const DEFAULT_PORT = 8080;
/** Interface of the standalone server and of `serve`. */
export const DEFAULT_HOSTNAME = "127.0.0.1";
