/**
 * @packageDocumentation
 * The token lifecycle engine and the interfaces every tokenkeep package composes through.
 *
 * The rest lives at subpaths, so an app pays only for what it imports:
 * `@tokenkeep/core/http` (authorized fetch, ky hooks, reading a token endpoint's answer),
 * `@tokenkeep/core/shared` (managers in several processes sharing one store),
 * `@tokenkeep/core/rotation` (one refresh-token redemption across processes),
 * `@tokenkeep/core/memory-store` (the in-process `Store`, for the rotation coordinator and tests),
 * `@tokenkeep/core/options` (option validation for packages that build on core) and
 * `@tokenkeep/core/testing` (the store contract).
 */

export type { RetryPolicy } from "./backoff.js";
export { DEFAULT_LIFETIME_MS } from "./defaults.js";
export {
  AbortError,
  InvalidResponseError,
  type InvalidResponseErrorOptions,
  isAbortError,
  isInvalidResponseError,
  isNetworkError,
  isOAuthError,
  isTimeoutError,
  isTokenkeepError,
  isTransientError,
  NetworkError,
  OAuthError,
  type OAuthErrorOptions,
  PERMANENT_OAUTH_ERRORS,
  TimeoutError,
  TokenkeepError,
  type TokenkeepErrorCode,
  type TokenkeepErrorOptions,
} from "./errors.js";
export type { TokenEvent, TokenEventHandler, TokenEventType } from "./events.js";
export { isTransientFailure } from "./failure-classification.js";
export { identityKey } from "./identity.js";
export type { SharedStore } from "./shared-store.js";
export type { TokenManagerStats } from "./stats.js";
export type { LeaseRelease, Store } from "./store.js";
export type { Timers } from "./timers.js";
export type {
  TokenCreator,
  TokenCreatorContext,
  TokenCreatorResult,
  TokenIdentity,
} from "./token-creator.js";
export {
  createTokenManager,
  type GetTokenOptions,
  type InvalidateOptions,
  type TokenManager,
} from "./token-manager.js";
export type { TokenManagerOptions } from "./token-manager-options.js";
export {
  isTokenSet,
  type ParseTokenResponseOptions,
  parseTokenResponse,
  type TokenResponse,
} from "./token-response.js";
export type { JsonValue, TokenSet } from "./token-set.js";
