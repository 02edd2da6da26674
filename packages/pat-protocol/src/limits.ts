/** The prefix a PAT starts with unless the server is configured otherwise. @default "pat_" */
export const DEFAULT_PAT_PREFIX = "pat_";
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
/** Longest accepted `secretPhc` string. */
export const MAX_SECRET_PHC_LENGTH = 200;
/** `limit` used by `GET /admin/tokens` when none is given. */
export const DEFAULT_LIST_LIMIT = 100;
/** Largest `limit` accepted by `GET /admin/tokens`; larger values are a 400. */
export const MAX_LIST_LIMIT = 1000;
/** Most token ids accepted by one `POST /admin/tokens/batch`. */
export const MAX_BATCH_TOKEN_IDS = 1000;
