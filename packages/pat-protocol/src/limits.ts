/** The prefix a PAT starts with unless the server is configured otherwise. @default "pat_" */
export const DEFAULT_PAT_PREFIX = "pat_";
/** Where the exchange route is mounted (`POST <authPath>/token`) unless configured otherwise. */
export const DEFAULT_AUTH_PATH = "/auth";
/** Where the admin routes are mounted (`<adminPath>/tokens...`) unless configured otherwise. */
export const DEFAULT_ADMIN_PATH = "/admin";
/** Length of a token id: 21 characters of `[A-Za-z0-9]`. */
export const TOKEN_ID_LENGTH = 21;
/** Number of random bytes in a PAT secret. */
export const PAT_SECRET_BYTES = 32;
/** Length of the standard base64 encoding (with `=` padding) of a PAT secret. */
export const PAT_SECRET_LENGTH = 44;
/** A PAT longer than this is rejected before any lookup. */
export const MAX_PAT_LENGTH = 200;
/** Longest accepted `owner`. */
export const MAX_OWNER_LENGTH = 100;
/** Longest accepted role name. */
export const MAX_ROLE_LENGTH = 100;
/** Most roles a token may carry. */
export const MAX_ROLES_COUNT = 50;
/**
 * Largest scrypt work `N * r * p` accepted in a `secretPhc`: 8 times the default
 * (N = 2^14, r = 8, p = 1). Verification recomputes scrypt with the stored parameters on every
 * exchange, so an unbounded cost in a registered hash would let anyone who knows its token id make the
 * server burn seconds of CPU per request.
 */
export const MAX_SCRYPT_WORK = 2 ** 20;
/** Largest scrypt memory need `128 * N * r` accepted in a `secretPhc`, in bytes (64 MiB). */
export const MAX_SCRYPT_MEMORY_BYTES = 64 * 1024 * 1024;
/** Longest accepted `secretPhc` string. */
export const MAX_SECRET_PHC_LENGTH = 200;
/** `limit` used by `GET /admin/tokens` when none is given. */
export const DEFAULT_LIST_LIMIT = 100;
/** Largest `limit` accepted by `GET /admin/tokens`; larger values are a 400. */
export const MAX_LIST_LIMIT = 1000;
/** Most token ids accepted by one `POST /admin/tokens/batch`. */
export const MAX_BATCH_TOKEN_IDS = 1000;
