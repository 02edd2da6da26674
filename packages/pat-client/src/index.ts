/**
 * @packageDocumentation
 * The admin client of a personal access token service, API compatible with `@access-tokens/client`
 * (`AccessTokensClient` is exported too). Runtime-agnostic: `fetch` only, no `node:` modules. The
 * `tokenkeep-pat` command lives in its own entry (`dist/cli.js`) and is not exported here.
 *
 * Deliberately not exported: the HTTP layer and redaction helpers under `src/internal/`, and the
 * PAT-to-JWT creator (build your own manager with `@tokenkeep/core` if you need one).
 */

// The protocol's types and guard, so callers need no second import.
export {
  type ApiError,
  type BatchTokensResponse,
  type IssueTokenResponse,
  isApiError,
  type PatRecord,
  type RolesUpdate,
} from "@tokenkeep/pat-protocol";
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
