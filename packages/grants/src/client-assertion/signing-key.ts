import * as rules from "@tokenkeep/core/options";
import { base64url, importJWK, importPKCS8 } from "jose";

/** The asymmetric algorithms `privateKeyJwt` signs with. */
export const ASYMMETRIC_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"] as const;

/** A `private_key_jwt` signing algorithm. */
export type PrivateKeyJwtAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];

/**
 * A private key: a Web Crypto `CryptoKey` (non-extractable is fine), a private JWK (with `d`), or a
 * PKCS#8 PEM string (`-----BEGIN PRIVATE KEY-----`; an `algorithm` is then required).
 */
export type PrivateKeyInput = CryptoKey | JsonWebKey | string;

/** A `CryptoKey` by shape, so one from another realm (a worker, a test runner) is recognised too. */
export function isCryptoKey(value: unknown): value is CryptoKey {
  return rules.isObject(value) && typeof value.type === "string" && Array.isArray(value.usages);
}

/** A key input that can sign: a private `CryptoKey`, a JWK with `d`, or a PKCS#8 PEM. */
export function isPrivateKeyInput(value: unknown): value is PrivateKeyInput {
  if (typeof value === "string") return value.includes("-----BEGIN PRIVATE KEY-----");
  if (isCryptoKey(value)) return value.type === "private";
  return rules.isObject(value) && typeof value.kty === "string" && typeof value.d === "string";
}

const BY_WEB_CRYPTO_NAME: Readonly<Record<string, PrivateKeyJwtAlgorithm>> = {
  "RSASSA-PKCS1-v1_5": "RS256",
  "RSA-PSS": "PS256",
  ECDSA: "ES256",
  Ed25519: "EdDSA",
};

/**
 * The algorithm a key implies: a `CryptoKey`'s algorithm (an RSA key imported for RSA-PSS is PS256),
 * a JWK's `alg`, else its key type (RSA keys default to RS256). `undefined` for a PEM, or a key of
 * another kind (P-384, RSA-OAEP...).
 */
export function impliedAlgorithm(key: PrivateKeyInput): PrivateKeyJwtAlgorithm | undefined {
  if (typeof key === "string") return undefined;
  if (isCryptoKey(key)) {
    const algorithm = key.algorithm as { name: string; namedCurve?: string; hash?: { name: string } };
    if (algorithm.name === "ECDSA" && algorithm.namedCurve !== "P-256") return undefined;
    if (algorithm.name.startsWith("RSA") && algorithm.hash?.name !== "SHA-256") return undefined;
    return BY_WEB_CRYPTO_NAME[algorithm.name];
  }
  const jwk = key as JsonWebKey & { kid?: string };
  if ((ASYMMETRIC_ALGORITHMS as readonly unknown[]).includes(jwk.alg))
    return jwk.alg as PrivateKeyJwtAlgorithm;
  if (jwk.alg !== undefined) return undefined;
  if (jwk.kty === "RSA") return "RS256";
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ES256";
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  return undefined;
}

/**
 * Whether jose signs with `key`: it refuses an RSA key under 2048 bits (RFC 7518 section 3.3) on
 * every request, with its own `TypeError`, so such a key is an options error instead.
 */
export function isLongEnough(key: CryptoKey): boolean {
  const { modulusLength } = key.algorithm as Partial<RsaHashedKeyAlgorithm>;
  return modulusLength === undefined || modulusLength >= 2048;
}

/**
 * The `CryptoKey` to sign with: a `CryptoKey` as given (checked when `privateKeyJwt` was called), a
 * JWK or PEM imported once as a non-extractable key. A key that does not import, or that jose would
 * not sign with (an RSA key under 2048 bits), is an options error, naming no key material.
 */
export async function importSigningKey(
  key: PrivateKeyInput,
  algorithm: PrivateKeyJwtAlgorithm,
  factoryName: string,
): Promise<CryptoKey> {
  if (isCryptoKey(key)) return key;
  const imported = await (typeof key === "string"
    ? importPKCS8(key, algorithm, { extractable: false })
    : (importJWK(key as Parameters<typeof importJWK>[0], algorithm, {
        extractable: false,
      }) as Promise<CryptoKey>)
  ).catch(() => undefined);
  // jose's reason is left out: only the problem line, as for every other option.
  if (imported && isLongEnough(imported)) return imported;
  throw rules.invalidOptions(factoryName, [`key: not a usable ${algorithm} private key`]);
}

/**
 * The DER of a certificate given as PEM or as the Base64 of its DER; `undefined` for anything else.
 * Of a PEM text, the first `CERTIFICATE` block is taken (a chain's leaf, by convention first; a file
 * holding the private key too is fine): the rest is never hashed into the thumbprint. The DER must be
 * one ASN.1 SEQUENCE filling the whole input, as an X.509 certificate is (RFC 5280 section 4.1), so a
 * thumbprint given in the certificate's place (hex is Base64 too) is refused rather than hashed.
 */
export function certificateDer(value: unknown): Uint8Array | undefined {
  if (typeof value !== "string") return undefined;
  // RFC 7468's label, or the `X509 CERTIFICATE` of older tools.
  const pem = /-----BEGIN (X509 )?CERTIFICATE-----([^-]*)-----END \1CERTIFICATE-----/.exec(value);
  // PEM markers of anything else (a key, a request) without a certificate block: not a certificate.
  if (!pem && value.includes("-----")) return undefined;
  const base64 = (pem?.[2] ?? value).replace(/\s+/g, "");
  // What atob decodes: padding only to a multiple of 4 (it throws for `ab=`), never 1 character over.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 === 1) return undefined;
  if (base64.includes("=") && base64.length % 4 !== 0) return undefined;
  const der = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
  // DER length: one byte below 0x80, else 0x80 + the number of big-endian length bytes that follow.
  const first = der[1] ?? 0;
  const size = first < 0x80 ? 0 : first - 0x80;
  let length = first < 0x80 ? first : 0;
  for (let index = 0; index < size; index++) length = length * 256 + (der[2 + index] ?? 0);
  return der[0] === 0x30 && size <= 4 && length > 0 && 2 + size + length === der.length ? der : undefined;
}

/** Whether `value` is a certificate {@link certificateDer} can read. */
export const isCertificateInput = (value: unknown): value is string => certificateDer(value) !== undefined;

/**
 * The `x5t#S256` of a certificate: the base64url SHA-256 of its DER encoding (RFC 7515 section
 * 4.1.8), the thumbprint Microsoft Entra ID looks a certificate credential up by.
 */
export async function certificateThumbprint(certificate: string): Promise<string> {
  const der = certificateDer(certificate) as Uint8Array<ArrayBuffer>;
  return base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", der)));
}
