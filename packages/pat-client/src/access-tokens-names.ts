// The type names of `@access-tokens/client`, for code that switches its import to this package. Each
// is one of ours under the original's name; the schemas it exported are re-exported from
// `@tokenkeep/pat-protocol` in `index.ts`. Writable, as the original's were: code that builds the
// parameters step by step (`config.isAdmin = true`, `config.roles.push(role)`) keeps compiling.
import type {
  IssueTokenResponse,
  ListTokensResponse,
  PatRecord,
  RegisterTokenResponse,
  TokenExchangeResponse,
} from "@tokenkeep/pat-protocol";
import type { PatAdminClientOptions } from "./client-options";
import type { Writable } from "./internal/writable";
import type { IssueParams, RegisterParams, UpdateParams } from "./pat-admin-client";

/** `@access-tokens/client`'s name of {@link PatAdminClientOptions}, the constructor's options. */
export type AccessTokensClientConfig = Writable<PatAdminClientOptions>;
/** `@access-tokens/client`'s name of {@link IssueParams}, the parameters of `issue`. */
export type IssueConfig = Writable<IssueParams>;
/** `@access-tokens/client`'s name of {@link RegisterParams}, the parameters of `register`. */
export type RegisterConfig = Writable<RegisterParams>;
/** `@access-tokens/client`'s name of {@link UpdateParams}, the changes of `update`. */
export type UpdateConfig = Writable<UpdateParams>;
/**
 * `@access-tokens/client`'s name of `PatRecord`, a token record as `list`, `register` and `batchLoad`
 * return it. `roles` is always an array here (empty when the server sent none).
 */
export type TokenRecord = PatRecord;
/** `@access-tokens/client`'s name of `TokenExchangeResponse`, the answer of `POST <authPath>/token`. */
export type AuthTokenResponse = TokenExchangeResponse;
/** `@access-tokens/client`'s name of `ListTokensResponse`, the answer of `GET <adminPath>/tokens`. */
export type ListResponse = ListTokensResponse;
/** `@access-tokens/client`'s name of `IssueTokenResponse`, what `issue` returns. */
export type IssueResult = IssueTokenResponse;
/** `@access-tokens/client`'s name of `RegisterTokenResponse`, the answer of `PUT <adminPath>/tokens/:tokenId`. */
export type RegisterResult = RegisterTokenResponse;
