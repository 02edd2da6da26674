import { exportJWK, generateKeyPair, type JWK } from "jose";
import * as z from "zod";
import { DEFAULT_SIGNING_ALGORITHM } from "./defaults";
import { parseOptions } from "./internal/options";
import { generateTokenId } from "./token-generator";

/** JWT signing algorithms the server supports. */
export type SigningAlgorithm = "EdDSA" | "RS256";

/** A private key as a JWK, with the `kid` and `alg` the JWT header will carry. */
export type SigningJwk = JWK & { readonly kid: string; readonly alg: SigningAlgorithm };

/** Options of {@link generateSigningKey}. */
export interface GenerateSigningKeyOptions {
  /** @default "EdDSA" (Ed25519) */
  readonly alg?: SigningAlgorithm;
  /** @default a random 21-character id */
  readonly kid?: string;
}

const generateSigningKeyOptionsSchema = z.object({
  alg: z.enum(["EdDSA", "RS256"]).default(DEFAULT_SIGNING_ALGORITHM),
  kid: z.string().min(1).max(256).optional(),
});

/**
 * Generates a private signing key as a JWK (Ed25519 by default, or RSA 2048 for RS256). Keep it secret;
 * pass it (and older keys still in use) as `signingKeys` so every instance signs and verifies alike.
 * @throws TypeError with code `ERR_TOKENKEEP_INVALID_OPTIONS` for an unknown algorithm, an empty `kid`
 *   or an unknown option.
 */
export async function generateSigningKey(options: GenerateSigningKeyOptions = {}): Promise<SigningJwk> {
  const { alg, kid } = parseOptions(generateSigningKeyOptionsSchema, options, "generateSigningKey");
  const { privateKey } = await generateKeyPair(alg === "EdDSA" ? "Ed25519" : "RS256", { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: kid ?? generateTokenId(), alg, use: "sig" };
}

const PRIVATE_MEMBERS = new Set(["d", "p", "q", "dp", "dq", "qi", "oth", "k", "key_ops", "ext"]);

/** The public half of a signing JWK, fit for a JWKS document. */
export function toPublicJwk(jwk: SigningJwk): JWK {
  return Object.fromEntries(Object.entries(jwk).filter(([name]) => !PRIVATE_MEMBERS.has(name)));
}
