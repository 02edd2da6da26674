/**
 * @packageDocumentation
 * OAuth 2.0 token creators for tokenkeep: client credentials, password, robot credentials, refresh
 * token, token exchange (RFC 8693) and JWT bearer (RFC 7523) grants, revocation (RFC 7009) and
 * discovery (RFC 8414 / OpenID Connect).
 *
 * Deliberately not exported: the request plumbing in `src/internal/` (the transport), which may
 * change in any release.
 */

/** The `code` of the `TypeError` a creator throws for a bad option (core's `INVALID_OPTIONS_CODE`). */
export { INVALID_OPTIONS_CODE as INVALID_OPTIONS } from "@tokenkeep/core/options";
export type { BodyEncoding, RequestParams } from "./body-encoding.js";
export {
  applyClientAuthentication,
  basicAuthorization,
  type ClientAuthentication,
  type ClientAuthenticationMethod,
  type ClientAuthenticationRequest,
  type ClientAuthenticator,
  type ClientCredentials,
} from "./client-authentication.js";
export { type ClientCredentialsGrantOptions, clientCredentialsGrant } from "./client-credentials-grant.js";
export {
  DEFAULT_ALLOW_INSECURE_REQUESTS,
  DEFAULT_BODY_ENCODING,
  DEFAULT_CLIENT_AUTHENTICATION,
  DEFAULT_DISCOVERY_CACHE_MS,
  DEFAULT_TIMEOUT_MS,
} from "./defaults.js";
export { type AuthorizationServerMetadata, type DiscoverOptions, discover } from "./discovery.js";
export type { GrantCreator } from "./grant-creator.js";
export type { GrantOptions, KyLike } from "./grant-options.js";
export {
  JWT_BEARER_GRANT_TYPE,
  type JwtBearerGrantOptions,
  jwtBearerGrant,
} from "./jwt-bearer-grant.js";
export { type PasswordGrantOptions, passwordGrant } from "./password-grant.js";
export { NO_REFRESH_TOKEN, type RefreshTokenGrantOptions, refreshTokenGrant } from "./refresh-token-grant.js";
export {
  createRevocation,
  type Revocation,
  type RevocationOptions,
  type RevokeOptions,
  type RevokeTokenOptions,
  revokeToken,
} from "./revoke-token.js";
export { type RobotGrantOptions, robotGrant } from "./robot-grant.js";
export {
  TOKEN_EXCHANGE_GRANT_TYPE,
  type TokenExchangeGrantOptions,
  type TokenSource,
  type TokenType,
  tokenExchangeGrant,
} from "./token-exchange-grant.js";
