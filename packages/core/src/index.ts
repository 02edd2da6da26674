/**
 * @packageDocumentation
 * The token lifecycle engine and the interfaces every tokenkeep package composes through.
 */

export { type AuthFetch, type AuthFetchOptions, createAuthFetch } from "./auth-fetch.js";
export type { RetryPolicy } from "./backoff.js";
export { DEFAULT_LIFETIME_MS, DEFAULT_SUCCESSOR_TTL_MS } from "./defaults.js";
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
export type { HttpAuthOptions, TokenSource } from "./http-auth.js";
export { identityKey } from "./identity.js";
export {
  createKyHooks,
  type KyAfterResponseState,
  type KyBeforeRequestState,
  type KyHooks,
  type KyHooksOptions,
} from "./ky-hooks.js";
export { createMemoryStore, type MemoryStore, type MemoryStoreOptions } from "./memory-store.js";
// For packages that build on core (grants, stores), so every factory reports bad options alike.
export { INVALID_OPTIONS_CODE, parseOptions } from "./parse-options.js";
export { parseRetryAfter } from "./retry-after.js";
export {
  createRotationCoordinator,
  type RotateOptions,
  type RotationCoordinator,
  type RotationCoordinatorOptions,
  type RotationEvent,
  type RotationEventType,
  type RotationRedeemContext,
  type RotationRedeemer,
  type RotationStats,
} from "./rotation.js";
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
  type ReadTokenResponseOptions,
  readTokenResponse,
  type TokenResponse,
} from "./token-response.js";
export type { JsonValue, TokenSet } from "./token-set.js";
