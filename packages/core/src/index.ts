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
  NetworkError,
  OAuthError,
  type OAuthErrorOptions,
  PERMANENT_OAUTH_ERRORS,
  TimeoutError,
  TokenkeepError,
  type TokenkeepErrorCode,
  type TokenkeepErrorOptions,
} from "./errors/errors.js";
export { isTransientError, isTransientStatus } from "./errors/failure-classification.js";
export type { Timers } from "./internal/timers.js";
export type { RetryPolicy } from "./manager/backoff.js";
export type { TokenEvent, TokenEventHandler, TokenEventType } from "./manager/events.js";
export { identityKey } from "./manager/identity.js";
export type { TokenManagerStats } from "./manager/stats.js";
export {
  createTokenManager,
  type GetTokenOptions,
  type InvalidateOptions,
  type TokenManager,
} from "./manager/token-manager.js";
export type { TokenManagerOptions } from "./manager/token-manager-options.js";
export type { SharedStore } from "./shared/shared-store.js";
export type { LeaseRelease, Store } from "./store/store.js";
export type {
  TokenCreator,
  TokenCreatorContext,
  TokenCreatorResult,
  TokenIdentity,
} from "./token/token-creator.js";
export {
  isTokenSet,
  type ParseTokenResponseOptions,
  parseTokenResponse,
  type TokenResponse,
} from "./token/token-response.js";
export type { JsonValue, TokenSet } from "./token/token-set.js";
