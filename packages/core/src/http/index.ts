/**
 * @packageDocumentation
 * `@tokenkeep/core/http`: tokens on HTTP requests. An authorized `fetch`, hooks for a ky instance,
 * and the reader that turns a token endpoint's answer into a token set or the right error.
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
export { type ReadTokenResponseOptions, readTokenResponse } from "./read-token-response.js";
export { parseRetryAfter } from "./retry-after.js";
