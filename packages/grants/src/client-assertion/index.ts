/**
 * @packageDocumentation
 * `@tokenkeep/grants/client-assertion`: JWT client authentication, `private_key_jwt` and
 * `client_secret_jwt` (RFC 7523 section 2.2, OpenID Connect Core section 9). Signing uses jose; it
 * is a separate entry so that clients authenticating with a shared secret never bundle it.
 */

export { DEFAULT_ASSERTION_AUDIENCE, DEFAULT_ASSERTION_LIFETIME_MS } from "../defaults.js";
export {
  type AssertionAudience,
  type ClientAssertionOptions,
  type ClientSecretJwtAlgorithm,
  type ClientSecretJwtOptions,
  clientSecretJwt,
  JWT_BEARER_ASSERTION_TYPE,
  type PrivateKeyJwtOptions,
  privateKeyJwt,
} from "./client-assertion.js";
export type { PrivateKeyInput, PrivateKeyJwtAlgorithm } from "./signing-key.js";
