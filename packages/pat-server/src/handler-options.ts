import { MAX_TIMER_MS } from "@tokenkeep/core/options";
import { PAT_PREFIX_PATTERN, scryptPhcSchema } from "@tokenkeep/pat-protocol";
import * as z from "zod";
import {
  DEFAULT_ADMIN_PATH,
  DEFAULT_AUTH_PATH,
  DEFAULT_HEALTH_PATH,
  DEFAULT_ISSUER,
  DEFAULT_JWKS_PATH,
  DEFAULT_JWT_LIFETIME_SECONDS,
  DEFAULT_LAST_USED_FLUSH_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_PENDING_VERIFICATIONS,
  DEFAULT_PAT_PREFIX,
  DEFAULT_RATE_LIMIT_MAX_ADDRESSES,
  DEFAULT_RATE_LIMIT_MAX_REQUESTS,
  DEFAULT_RATE_LIMIT_WINDOW_MS,
  DEFAULT_SCRYPT_LOG2_COST,
  DEFAULT_STORE_ERROR_REPORT_INTERVAL_MS,
  DEFAULT_VERIFIER_CACHE_MAX_ENTRIES,
  DEFAULT_VERIFIER_CACHE_TTL_MS,
  MAX_SCRYPT_LOG2_COST,
} from "./defaults";
import type { RequestContext } from "./pat-handler";
import type { SigningJwk } from "./signing-keys";
import type { PatStore } from "./store";

/**
 * State passed to {@link PatHandlerOptions.onError}. Safe to log as a whole: the request itself, whose
 * `Authorization` header or body holds a PAT or a JWT, is a non-enumerable property, so `console.log`,
 * `util.inspect` and `JSON.stringify` leave it out.
 */
export interface PatErrorState {
  /** The unexpected error (a 500 was answered), or a failed background `lastUsedAt` write. */
  readonly error: unknown;
  /** The request's method, when there is a request. */
  readonly method?: string;
  /** The request's path, without its query, when there is a request. */
  readonly path?: string;
  /** The request being handled, when there is one (non-enumerable: it carries secrets). */
  readonly request?: Request;
  /**
   * For a store that does not answer (a 503): the requests this outage has failed so far, this one
   * included (1 in its first report). Such failures are reported per outage, at most once per
   * `errorReportIntervalMs`, not once per request. A background `lastUsedAt` write that the store
   * failed (`PatStoreUnavailableError`) belongs to the same outage and its spacing, but is no request:
   * not counted here (0 when the outage began with it).
   */
  readonly failures?: number;
}

/** What {@link PatHandlerOptions.onRecover} is told when the store answers again after an outage. */
export interface PatRecoveryState {
  /** Requests the outage failed (answered 503). */
  readonly failures: number;
  /** From the outage's first failure to the request the store answered again, in milliseconds. */
  readonly outageMs: number;
}

/**
 * Rate limit of the exchange route, per client address (an IPv6 client per /64), in this instance's
 * memory: N instances behind a load balancer allow up to N times the limit.
 */
export interface PatRateLimitOptions {
  /**
   * Exchanges allowed per address per window (a token bucket of this size).
   * @default 60
   */
  readonly maxRequests?: number;
  /**
   * Window length in milliseconds.
   * @default 60000
   */
  readonly windowMs?: number;
  /**
   * Addresses remembered; the least recently seen is forgotten beyond this.
   * @default 100000
   */
  readonly maxAddresses?: number;
}

/**
 * The in-memory verifier cache of the exchange: after a successful scrypt verification, a keyed
 * SHA-256 (HMAC, with a key drawn at random per process) of the secret and the stored PHC string is
 * kept per token id, so a returning client's next exchange costs a hash instead of scrypt. A changed
 * PHC (a rotated secret) never matches; revocation and expiry are read from the store on every exchange.
 */
export interface PatVerifierCacheOptions {
  /**
   * How long a verification is remembered, in milliseconds.
   * @default 600000
   */
  readonly ttlMs?: number;
  /**
   * Token ids remembered; the least recently used is forgotten beyond this.
   * @default 10000
   */
  readonly maxEntries?: number;
}

/** Options of {@link createPatHandler}. */
export interface PatHandlerOptions {
  /** Where records live: {@link createSqliteStore} or {@link createPostgresStore}. */
  readonly store: PatStore;
  /**
   * Private signing keys as JWKs; the first signs, all verify and are published in the JWKS. Give every
   * instance the same keys. Without keys, one ephemeral Ed25519 key is generated per handler: its JWTs
   * die with the process.
   */
  readonly signingKeys?: readonly SigningJwk[];
  /**
   * JWT `iss`, checked on admin routes.
   * @default "tokenkeep-pat-server"
   */
  readonly issuer?: string;
  /**
   * Lifetime of exchanged JWTs in seconds, cut short to the PAT's own `expiresAt` when that comes
   * first (a JWT never outlives its PAT's expiry). A revoked PAT's JWTs stay valid for downstream APIs
   * until they expire, so keep it short; tests may use a few seconds.
   * @default 3600
   */
  readonly jwtLifetimeSeconds?: number;
  /** @default "/auth" */
  readonly authPath?: string;
  /** @default "/admin" */
  readonly adminPath?: string;
  /** @default "/.well-known/jwks.json" */
  readonly jwksPath?: string;
  /** @default "/healthz" */
  readonly healthPath?: string;
  /** @default "pat_" */
  readonly tokenPrefix?: string;
  /**
   * log2 of scrypt's cost N for new hashes, 1 to 16 (the protocol refuses costlier hashes).
   * **Lower it in tests only** (10 is ~50x cheaper than 14).
   * @default 14
   */
  readonly scryptLog2Cost?: number;
  /**
   * Largest request body in bytes; more is a 413.
   * @default 65536
   */
  readonly maxBodyBytes?: number;
  /**
   * Rate limit of `POST /auth/token` per client address (429 with `Retry-After`), or `false` for none.
   * @default { maxRequests: 60, windowMs: 60000, maxAddresses: 100000 }
   */
  readonly rateLimit?: PatRateLimitOptions | false;
  /**
   * Exchanges waiting for or running scrypt at once; one more answers 503 with `Retry-After: 1`
   * (the queue behind the rate limit is bounded, so a flood of distinct clients cannot stall it).
   * @default 64
   */
  readonly maxPendingVerifications?: number;
  /**
   * Remember verified secrets per token id for returning clients (see {@link PatVerifierCacheOptions}),
   * or `false` to run scrypt on every exchange.
   * @default { ttlMs: 600000, maxEntries: 10000 }
   */
  readonly verifierCache?: PatVerifierCacheOptions | false;
  /**
   * How long `lastUsedAt` writes are coalesced, in milliseconds (0: write at once).
   * @default 5000
   */
  readonly lastUsedFlushMs?: number;
  /**
   * Admin routes and `handler.authenticate(request, { admin: true })` also load the JWT's token record
   * and refuse a revoked, expired or no longer admin token (one indexed read, no scrypt). `false` trusts the JWT until its `exp`, as the original did.
   * @default true
   */
  readonly recheckAdminTokens?: boolean;
  /**
   * Compatibility with the original's bootstrap: while no active admin token exists, an exchange with a
   * PAT whose secret matches this scrypt PHC stores it as an admin token (owner `admin`).
   */
  readonly bootstrapSecretPhc?: string;
  /**
   * The client address used as the rate limit key (an IPv6 address counts as its /64). By default,
   * and whenever this returns `undefined`, the `clientAddress` the host passed with the request
   * (`serve` passes the socket address). Behind a proxy, read your trusted header here. With rate
   * limiting on and no address at all, the exchange answers 500 and `onError` says what to configure:
   * clients never share one bucket.
   */
  readonly getClientAddress?: (request: Request, context: RequestContext) => string | undefined;
  /** Clock in epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /**
   * Unexpected errors (never containing a secret). A store that does not answer (the 503s of
   * `PatStoreUnavailableError`, and the background `lastUsedAt` writes it fails) is reported per
   * outage, not per request or write: at its first failure, then at most once per
   * `errorReportIntervalMs` while it lasts, with `failures`.
   * @default logs name and message to console.error
   */
  readonly onError?: (state: PatErrorState) => void;
  /**
   * Called once when a request reaches the store again after an outage reported to `onError`: the
   * first request after it that a store call answered and that failed on no store call.
   * @default logs one line to `console.info`
   */
  readonly onRecover?: (state: PatRecoveryState) => void;
  /**
   * Least time between two `onError` reports of the same store outage, in milliseconds; `0` reports
   * every failed request.
   * @default 60000
   */
  readonly errorReportIntervalMs?: number;
}

const pathSchema = z.string().regex(/^(\/[A-Za-z0-9._~-]+)+$/, "Expected a path like /auth");
const fn = <T>() => z.custom<T>((value) => typeof value === "function", "Expected a function");

/** Schema of {@link PatHandlerOptions}, defaults applied. */
export const patHandlerOptionsSchema = z.object({
  store: z.custom<PatStore>(
    (value) => typeof value === "object" && value !== null && typeof (value as PatStore).get === "function",
    "Expected a PatStore",
  ),
  signingKeys: z
    .array(
      z.custom<SigningJwk>(
        (value) =>
          typeof value === "object" &&
          value !== null &&
          typeof (value as SigningJwk).kid === "string" &&
          ((value as SigningJwk).alg === "EdDSA" || (value as SigningJwk).alg === "RS256") &&
          typeof (value as SigningJwk).d === "string",
        "Expected a private JWK with kid and alg EdDSA or RS256",
      ),
    )
    .optional(),
  issuer: z.string().min(1).default(DEFAULT_ISSUER),
  jwtLifetimeSeconds: z
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .default(DEFAULT_JWT_LIFETIME_SECONDS),
  authPath: pathSchema.default(DEFAULT_AUTH_PATH),
  adminPath: pathSchema.default(DEFAULT_ADMIN_PATH),
  jwksPath: pathSchema.default(DEFAULT_JWKS_PATH),
  healthPath: pathSchema.default(DEFAULT_HEALTH_PATH),
  tokenPrefix: z.string().regex(PAT_PREFIX_PATTERN).default(DEFAULT_PAT_PREFIX),
  scryptLog2Cost: z.int().min(1).max(MAX_SCRYPT_LOG2_COST).default(DEFAULT_SCRYPT_LOG2_COST),
  maxBodyBytes: z.int().min(256).default(DEFAULT_MAX_BODY_BYTES),
  rateLimit: z
    .union([
      z.literal(false),
      z.object({
        maxRequests: z.int().min(1).default(DEFAULT_RATE_LIMIT_MAX_REQUESTS),
        windowMs: z.int().min(1).max(MAX_TIMER_MS).default(DEFAULT_RATE_LIMIT_WINDOW_MS),
        maxAddresses: z.int().min(1).default(DEFAULT_RATE_LIMIT_MAX_ADDRESSES),
      }),
    ])
    .default({
      maxRequests: DEFAULT_RATE_LIMIT_MAX_REQUESTS,
      windowMs: DEFAULT_RATE_LIMIT_WINDOW_MS,
      maxAddresses: DEFAULT_RATE_LIMIT_MAX_ADDRESSES,
    }),
  maxPendingVerifications: z.int().min(1).default(DEFAULT_MAX_PENDING_VERIFICATIONS),
  verifierCache: z
    .union([
      z.literal(false),
      z.object({
        ttlMs: z.int().min(1).max(MAX_TIMER_MS).default(DEFAULT_VERIFIER_CACHE_TTL_MS),
        maxEntries: z.int().min(1).default(DEFAULT_VERIFIER_CACHE_MAX_ENTRIES),
      }),
    ])
    .default({ ttlMs: DEFAULT_VERIFIER_CACHE_TTL_MS, maxEntries: DEFAULT_VERIFIER_CACHE_MAX_ENTRIES }),
  lastUsedFlushMs: z.int().nonnegative().max(MAX_TIMER_MS).default(DEFAULT_LAST_USED_FLUSH_MS),
  recheckAdminTokens: z.boolean().default(true),
  bootstrapSecretPhc: scryptPhcSchema.optional(),
  getClientAddress: fn<(request: Request, context: RequestContext) => string | undefined>().optional(),
  now: fn<() => number>().default(() => () => Date.now()),
  onError: fn<(state: PatErrorState) => void>().optional(),
  onRecover: fn<(state: PatRecoveryState) => void>().optional(),
  errorReportIntervalMs: z.int().nonnegative().default(DEFAULT_STORE_ERROR_REPORT_INTERVAL_MS),
});

/** {@link PatHandlerOptions} after validation. */
export type ResolvedPatHandlerOptions = z.output<typeof patHandlerOptionsSchema>;
