/**
 * @packageDocumentation
 * `@tokenkeep/grants/dpop`: sender-constrained tokens with DPoP (RFC 9449). Proofs are signed with
 * Web Crypto, the key's JWK and thumbprint made with jose; a separate entry so that Bearer clients
 * never bundle it.
 */

export { createDPoP, type DPoP, type DPoPAlgorithm, type DPoPOptions } from "./dpop.js";
