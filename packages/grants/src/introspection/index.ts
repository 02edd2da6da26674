/**
 * @packageDocumentation
 * `@tokenkeep/grants/introspection`: token introspection (RFC 7662), and a verifier that asks
 * whether a refresh token is still unredeemed. A separate entry so that a client that only obtains
 * tokens never bundles it.
 */

// The defaults its options table names, as the main entry exports them. Re-exported by name also
// so the built entry imports the chunk holding them by name: a bare `import "./chunk.js"` of a
// side-effect-free package makes esbuild (and Vite) warn in every app that bundles this entry.
export {
  DEFAULT_ALLOW_INSECURE_REQUESTS,
  DEFAULT_BODY_ENCODING,
  DEFAULT_CLIENT_AUTHENTICATION,
  DEFAULT_TIMEOUT_MS,
} from "../defaults.js";
export {
  createIntrospection,
  type Introspection,
  type IntrospectionOptions,
  type IntrospectionResult,
  type IntrospectOptions,
  type RefreshTokenActiveContext,
  refreshTokenActive,
} from "./introspection.js";
