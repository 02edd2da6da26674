/** Every default of @tokenkeep/astro, in one place. */

/** Where the integration looks for the configuration module, relative to the project root. */
export const DEFAULT_CONFIG_FILE = "src/tokenkeep.config.ts";
/** The virtual module that re-exports the configuration module inside the server bundle. */
export const CONFIG_MODULE_ID = "virtual:tokenkeep/config";
/** The virtual module the built server's entry imports first, to load the middleware as it starts. */
export const STARTUP_MODULE_ID = "virtual:tokenkeep/startup";
/** The session cookie's name (before the `__Host-`/`__Secure-` prefix). */
export const DEFAULT_COOKIE_NAME = "tokenkeep";
/** The cookie's `Max-Age` when the refresh token's lifetime is unknown: 30 days, in seconds. */
export const DEFAULT_COOKIE_MAX_AGE_S = 30 * 24 * 60 * 60;
/**
 * The longest sealed session a cookie may carry, in bytes (its value over every chunk): two chunks.
 * The browser sends all of a site's cookies in one `Cookie` header line, and common proxies cap a
 * line at 8 KB (nginx's `large_client_header_buffers 4 8k`, Apache's `LimitRequestFieldSize` 8190),
 * Node at 16 KiB for all headers: this leaves about 500 bytes for the site's other cookies there.
 */
export const DEFAULT_COOKIE_MAX_BYTES = 7_600;
/** The environment variable holding the cookie secret(s), comma-separated, newest first. */
export const DEFAULT_SECRET_ENV = "TOKENKEEP_SECRET";
/** An access token that expires within this many ms is rotated before the page renders. */
export const DEFAULT_REFRESH_WINDOW_MS = 60_000;
/** A request waits at most this long for a rotation, then is served as the failure rules say. */
export const DEFAULT_ROTATION_TIMEOUT_MS = 10_000;
/**
 * How long after a redemption got no definite answer before the upstream is asked whether the refresh
 * token is still unredeemed (core's `inDoubtSettleMs` default).
 */
export const DEFAULT_ROTATION_SETTLE_MS = 10_000;
/** How long a request with a just-rotated refresh token is served the new session (core's default). */
export const DEFAULT_SUCCESSOR_TTL_MS = 30_000;
/**
 * The `Retry-After` of the 503 answered when a rotated session could not be stored, in seconds, while
 * the successor window leaves room for it (see {@link SESSION_RETRY_ROUND_TRIP_MS}).
 */
export const SESSION_UNAVAILABLE_RETRY_S = 1;
/**
 * What a retry's round trip is allowed past its `Retry-After`: with less of the successor window left
 * than `SESSION_UNAVAILABLE_RETRY_S` plus this, the 503 says `Retry-After: 0`.
 */
export const SESSION_RETRY_ROUND_TRIP_MS = 1_000;
/** Where route protection sends a visitor without a session. */
export const DEFAULT_SIGN_IN_PATH = "/login";
/** The query parameter carrying the page to return to after sign-in. */
export const DEFAULT_RETURN_TO_PARAM = "returnTo";
/** The custom-endpoint upstream's body encoding (astro-tokenkit's default too). */
export const DEFAULT_CONTENT_TYPE = "application/json";
/** The custom-endpoint upstream's refresh-token field in the refresh request (astro-tokenkit's too). */
export const DEFAULT_REFRESH_REQUEST_FIELD = "refreshToken";
/** Each custom-endpoint request may take this long. */
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 30_000;
/**
 * How long `login()` waits for an upstream of functions' `signIn`, whose `signal` aborts then: the
 * built-in upstreams' own per-request bound (custom endpoints' `timeoutMs`, `@tokenkeep/grants`'
 * `timeoutMs` for OAuth), which they keep.
 */
export const DEFAULT_SIGN_IN_TIMEOUT_MS = DEFAULT_UPSTREAM_TIMEOUT_MS;
/** Unsealed cookie values remembered per process (a session's next request skips the decryption). */
export const UNSEAL_CACHE_ENTRIES = 1000;
/** The API client's per-attempt timeout. */
export const DEFAULT_API_TIMEOUT_MS = 10_000;
/** The API client's retries of an idempotent request (network errors, 408, 413, 429, 5xx). */
export const DEFAULT_API_RETRY_LIMIT = 2;
/**
 * After the API client renewed a session because the API answered 401, a 401 to the new tokens renews
 * nothing for this long (core's `unauthorizedCooldownMs` default): an API rejecting every token
 * costs one refresh per session per cooldown, not one per request.
 */
export const DEFAULT_API_UNAUTHORIZED_COOLDOWN_MS = 30_000;
/**
 * The longest error body the API client reads into an `ApiHttpError`'s `data`, in bytes (ky's own
 * bound on the error bodies it reads); past it, `data` is empty and the rest is not read.
 */
export const API_ERROR_BODY_MAX_BYTES = 10 * 1024 * 1024;
/** The methods the API client retries: the idempotent ones (RFC 9110 section 9.2.2). POST and PATCH never. */
export const IDEMPOTENT_METHODS: readonly string[] = ["get", "head", "put", "delete", "options"];
/**
 * The longest body the injected sign-in and sign-out routes read, in bytes: credentials and a
 * `returnTo` fit in far less, and a route open to anyone must not buffer what the adapter allows
 * (`@astrojs/node`: 1 GiB). A longer body is answered 413, unread.
 */
export const SIGN_IN_BODY_MAX_BYTES = 64 * 1024;
/** The injected sign-in route (integration option `routes`). */
export const DEFAULT_LOGIN_ROUTE = "/_tokenkeep/login";
/** The injected sign-out route (integration option `routes`). */
export const DEFAULT_LOGOUT_ROUTE = "/_tokenkeep/logout";
