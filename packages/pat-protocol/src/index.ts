/**
 * @packageDocumentation
 * The personal access token wire protocol shared by `@tokenkeep/pat-client` and `@tokenkeep/pat-server`:
 * zod schemas and types, no server dependencies (no `pg`, no `jose`, no `node:` modules).
 *
 * Request schemas are strict (the server's input); response schemas are tolerant (the client's input:
 * absent or `null` optional fields, unknown fields dropped).
 */

export { type ApiError, apiErrorSchema, isApiError } from "./api-error";
export {
  type PatJwtClaims,
  patJwtClaimsSchema,
  type TokenExchangeRequest,
  type TokenExchangeResponse,
  tokenExchangeRequestSchema,
  tokenExchangeResponseSchema,
} from "./exchange";
export { ownerSchema, roleSchema, rolesSchema, tokenIdSchema, unixSecondsSchema } from "./fields";
export {
  DEFAULT_ADMIN_PATH,
  DEFAULT_AUTH_PATH,
  DEFAULT_LIST_LIMIT,
  DEFAULT_PAT_PREFIX,
  MAX_BATCH_TOKEN_IDS,
  MAX_LIST_LIMIT,
  MAX_OWNER_LENGTH,
  MAX_PAT_LENGTH,
  MAX_ROLE_LENGTH,
  MAX_ROLES_COUNT,
  MAX_SCRYPT_MEMORY_BYTES,
  MAX_SCRYPT_WORK,
  MAX_SECRET_PHC_LENGTH,
  PAT_SECRET_BYTES,
  PAT_SECRET_LENGTH,
  TOKEN_ID_LENGTH,
} from "./limits";
export {
  type ListTokensOptions,
  type ListTokensQuery,
  listTokensQuerySchema,
  toListTokensSearchParams,
} from "./list-query";
export {
  formatPat,
  isTokenId,
  PAT_PREFIX_PATTERN,
  PAT_SECRET_PATTERN,
  type PatFormatOptions,
  type PatParseFailureReason,
  type PatParseResult,
  parsePat,
  TOKEN_ID_PATTERN,
} from "./pat-format";
export { type PatRecord, patRecordSchema } from "./pat-record";
export {
  type BatchTokensRequest,
  batchTokensRequestSchema,
  type IssueTokenRequest,
  issueTokenRequestSchema,
  type RegisterTokenRequest,
  type RevokeTokenRequest,
  type RolesUpdate,
  registerTokenRequestSchema,
  revokeTokenRequestSchema,
  rolesUpdateSchema,
  type UpdateTokenRequest,
  updateTokenRequestSchema,
} from "./requests";
export {
  type BatchTokensResponse,
  batchTokensResponseSchema,
  type IssueTokenResponse,
  issueTokenResponseSchema,
  type ListTokensResponse,
  listTokensResponseSchema,
  type RegisterTokenResponse,
  registerTokenResponseSchema,
} from "./responses";
export { formatScryptPhc, parseScryptPhc, type ScryptPhc, scryptPhcSchema } from "./scrypt-phc";
