/**
 * @packageDocumentation
 * `@tokenkeep/grants/introspection`: token introspection (RFC 7662), and a verifier that asks
 * whether a refresh token is still unredeemed. A separate entry so that a client that only obtains
 * tokens never bundles it.
 */

export {
  createIntrospection,
  type Introspection,
  type IntrospectionOptions,
  type IntrospectionResult,
  type IntrospectOptions,
  type RefreshTokenActiveContext,
  refreshTokenActive,
} from "./introspection.js";
