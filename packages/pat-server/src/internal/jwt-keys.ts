import { type CryptoKey, createLocalJWKSet, importJWK, type JSONWebKeySet, jwtVerify, SignJWT } from "jose";
import { generateSigningKey, type SigningJwk, toPublicJwk } from "../signing-keys";
import { generateTokenId } from "../token-generator";
import { secretVersion } from "./secret-version";

/** What a JWT issued by the exchange says about its token. */
export interface PatClaimsInput {
  readonly tokenId: string;
  readonly owner: string;
  readonly isAdmin: boolean;
  readonly roles: readonly string[];
  /** When the token itself expires (Unix seconds): the JWT never outlives it. `null`: never. */
  readonly expiresAt: number | null;
  /** The stored PHC string the secret was verified against: the JWT's `sv` claim names it. */
  readonly secretPhc: string;
}

/** Signs and verifies the exchange's JWTs. */
export interface JwtKeys {
  readonly jwks: JSONWebKeySet;
  /**
   * Signs a JWT for the token: `exp` is `nowSeconds` plus the lifetime, or the token's own
   * `expiresAt` when that comes first, and `expiresInSeconds` matches it.
   */
  sign(claims: PatClaimsInput, nowSeconds: number): Promise<{ jwt: string; expiresInSeconds: number }>;
  verify(jwt: string, nowSeconds: number): Promise<Record<string, unknown>>;
}

/** Imports the configured keys (or one ephemeral Ed25519 key when none is configured). */
export async function createJwtKeys(
  signingKeys: readonly SigningJwk[] | undefined,
  issuer: string,
  lifetimeSeconds: number,
): Promise<JwtKeys> {
  const keys = signingKeys && signingKeys.length > 0 ? signingKeys : [await generateSigningKey()];
  const active = keys[0]!;
  const privateKey = (await importJWK(active, active.alg)) as CryptoKey;
  const jwks: JSONWebKeySet = { keys: keys.map(toPublicJwk) };
  const keySet = createLocalJWKSet(jwks);
  const algorithms = [...new Set(keys.map((key) => key.alg))];
  return {
    jwks,
    async sign(claims, nowSeconds) {
      const exp = Math.min(nowSeconds + lifetimeSeconds, claims.expiresAt ?? Number.POSITIVE_INFINITY);
      const jwt = await new SignJWT({
        owner: claims.owner,
        admin: claims.isAdmin,
        roles: [...claims.roles],
        sv: await secretVersion(claims.secretPhc),
      })
        .setProtectedHeader({ alg: active.alg, kid: active.kid, typ: "JWT" })
        .setSubject(claims.tokenId)
        .setIssuer(issuer)
        .setIssuedAt(nowSeconds)
        .setExpirationTime(exp)
        .setJti(generateTokenId())
        .sign(privateKey);
      return { jwt, expiresInSeconds: exp - nowSeconds };
    },
    async verify(jwt, nowSeconds) {
      const { payload } = await jwtVerify(jwt, keySet, {
        issuer,
        algorithms,
        currentDate: new Date(nowSeconds * 1000),
        typ: "JWT",
      });
      return payload;
    },
  };
}
