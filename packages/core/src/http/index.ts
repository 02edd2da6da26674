/**
 * @packageDocumentation
 * `@tokenkeep/core/http`: tokens on HTTP requests. An authorized `fetch`, hooks for a ky instance,
 * a body read up to a byte limit, the reader that turns a token endpoint's answer into a token set or the right error, and what every
 * client shares about the transport (secure URLs, endpoints named without a query, echoed credentials
 * redacted).
 */

export { type AuthFetch, type AuthFetchOptions, createAuthFetch } from "./auth-fetch.js";
export type { HttpAuthOptions, TokenSource } from "./http-auth.js";
export {
  createKyHooks,
  type KyAfterResponseState,
  type KyBeforeRequestState,
  type KyHooks,
  type KyHooksOptions,
} from "./ky-hooks.js";
export { type ReadLimitedOptions, readLimited } from "./read-limited.js";
export { type ReadTokenResponseOptions, readTokenResponse } from "./read-token-response.js";
export { redactSecrets } from "./redact-secrets.js";
export { parseRetryAfter } from "./retry-after.js";
export {
  describeReason,
  endpointOf,
  INSECURE_URL_MESSAGE,
  isSecureEnough,
  networkReason,
} from "./transport.js";
