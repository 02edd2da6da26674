/**
 * @packageDocumentation
 * The admin client of a personal access token service, API compatible with `@access-tokens/client`
 * (`AccessTokensClient` is exported too). Runtime-agnostic: `fetch` only, no `node:` modules. The
 * `tokenkeep-pat` command lives in its own entry (`dist/cli.js`) and is not exported here.
 *
 * Deliberately not exported: the HTTP layer and redaction helpers under `src/internal/`, and the
 * PAT-to-JWT creator (build your own manager with `@tokenkeep/core` if you need one).
 */

// The protocol's types and guard, so callers need no second import; and, so that switching from
// `@access-tokens/client` is a change of import, its response schemas under its names (the protocol's,
// tolerant as ours are) and, below, its type names (aliases of ours).
export {
  type ApiError,
  type BatchTokensResponse,
  /** `@access-tokens/client`'s name of `batchTokensResponseSchema` (`{ found, notFound }`). */
  batchTokensResponseSchema as batchLoadResultSchema,
  type IssueTokenResponse,
  isApiError,
  /** `@access-tokens/client`'s name of `issueTokenResponseSchema` (`{ token, record }`). */
  issueTokenResponseSchema as issueResultSchema,
  /** `@access-tokens/client`'s name of `listTokensResponseSchema` (`{ records, nextAfterTokenId? }`). */
  listTokensResponseSchema as listResponseSchema,
  type PatRecord,
  /** `@access-tokens/client`'s name of `patRecordSchema`, a token record. */
  patRecordSchema as tokenRecordSchema,
  type RolesUpdate,
  /** `@access-tokens/client`'s name of `registerTokenResponseSchema` (`{ record }`). */
  registerTokenResponseSchema as registerResultSchema,
  /** `@access-tokens/client`'s name of `tokenExchangeResponseSchema` (`{ access_token, token_type, expires_in, state? }`). */
  tokenExchangeResponseSchema as authTokenResponseSchema,
} from "@tokenkeep/pat-protocol";
export type {
  AccessTokensClientConfig,
  AuthTokenResponse,
  IssueConfig,
  IssueResult,
  ListResponse,
  RegisterConfig,
  RegisterResult,
  TokenRecord,
  UpdateConfig,
} from "./access-tokens-names";
export type { PatAdminClientOptions, PatRetryState } from "./client-options";
export {
  DEFAULT_ADMIN_PATH,
  DEFAULT_AUTH_PATH,
  DEFAULT_RETRY_BASE_DELAY_MS,
  DEFAULT_RETRY_LIMIT,
  DEFAULT_RETRY_MAX_DELAY_MS,
  DEFAULT_RETRY_STATUS_CODES,
  DEFAULT_TIMEOUT_MS,
} from "./defaults";
export {
  type AccessToken,
  type BatchGetOptions,
  type BatchLoadOptions,
  type BatchLoadResult,
  type IssueParams,
  type ListAllOptions,
  type ListOptions,
  PatAdminClient,
  /** The same class under the name of `@access-tokens/client`, for drop-in use. */
  PatAdminClient as AccessTokensClient,
  type RegisterParams,
  type RequestOptions,
  type RevokeOptions,
  type TokenPage,
  type UpdateParams,
} from "./pat-admin-client";
export {
  isPatClientError,
  PatClientError,
  type PatClientErrorCode,
  type PatClientErrorOptions,
  type PatClientOperation,
} from "./pat-client-error";
export type { PatRetryOptions } from "./retry-policy";
export { printable, terminalJson } from "./terminal-text";
