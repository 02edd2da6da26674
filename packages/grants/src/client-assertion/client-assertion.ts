import * as rules from "@tokenkeep/core/options";
import { CompactSign } from "jose";
import type { ClientAuthenticator } from "../client-authentication.js";
import { DEFAULT_ASSERTION_AUDIENCE, DEFAULT_ASSERTION_LIFETIME_MS } from "../defaults.js";
import { CREDENTIALS_IN_URL_MESSAGE, hasCredentials } from "../internal/transport-security.js";
import {
  ASYMMETRIC_ALGORITHMS,
  certificateThumbprint,
  impliedAlgorithm,
  importSigningKey,
  isCertificateInput,
  isCryptoKey,
  isLongEnough,
  isPrivateKeyInput,
  type PrivateKeyInput,
  type PrivateKeyJwtAlgorithm,
} from "./signing-key.js";

/** RFC 7523 section 2.2: the `client_assertion_type` of a JWT client assertion. */
export const JWT_BEARER_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/**
 * A client assertion's `aud`: `"token_endpoint"` (the URL the request is posted to), `"issuer"` (the
 * creator's `issuer` option, for servers that ask for it), or an explicit URL.
 */
export type AssertionAudience = "token_endpoint" | "issuer" | (string & {});

/** Options both JWT client authentication methods share. */
export interface ClientAssertionOptions {
  /**
   * The assertion's `aud`: the URL of the endpoint it is posted to (RFC 7523 section 3), the
   * creator's `issuer` (some servers ask for it; the creator must then be given `issuer`), or a URL
   * (without a user name or password).
   * @default "token_endpoint"
   */
  audience?: AssertionAudience | undefined;
  /**
   * How long each assertion is valid (its `exp` minus its `iat`), in milliseconds, rounded up to a
   * second. Each request signs a fresh assertion with a new `jti`, so it only needs to outlive one
   * request and the clock difference with the server.
   * @default 60_000
   */
  lifetimeMs?: number | undefined;
}

/** Options of {@link privateKeyJwt}. */
export interface PrivateKeyJwtOptions extends ClientAssertionOptions {
  /**
   * The client's private key: a Web Crypto `CryptoKey` (it may be non-extractable), a private JWK,
   * or a PKCS#8 PEM string. A JWK or PEM is imported once, as a non-extractable key. Secret.
   */
  key: PrivateKeyInput;
  /**
   * The signing algorithm.
   * @default implied by the key: a `CryptoKey`'s algorithm, a JWK's `alg`, else RS256 for RSA, ES256
   * for P-256, EdDSA for Ed25519. Required with a PEM key.
   */
  algorithm?: PrivateKeyJwtAlgorithm | undefined;
  /**
   * The `kid` header, naming the key among those the server holds for the client.
   * @default the JWK's `kid`, else none
   */
  keyId?: string | undefined;
  /**
   * The X.509 certificate of the key (PEM, or the Base64 of its DER): the assertion then carries
   * its `x5t#S256` thumbprint, as certificate credentials in Microsoft Entra ID expect. Of a PEM
   * holding several blocks (a chain, or the key and its certificate), the first certificate is used.
   * A thumbprint is refused: give the certificate itself.
   * @default undefined (no `x5t#S256`)
   */
  certificate?: string | undefined;
}

/** The HMAC algorithms `clientSecretJwt` signs with. */
export type ClientSecretJwtAlgorithm = "HS256" | "HS384" | "HS512";

/** Options of {@link clientSecretJwt}. */
export interface ClientSecretJwtOptions extends ClientAssertionOptions {
  /** The client secret: the HMAC key, never sent. Secret. */
  secret: string;
  /**
   * The HMAC algorithm.
   * @default "HS256"
   */
  algorithm?: ClientSecretJwtAlgorithm | undefined;
}

const audienceRule = (): rules.Rule<AssertionAudience> => {
  const valid = rules.check<AssertionAudience>(
    (value) =>
      value === "token_endpoint" || value === "issuer" || (typeof value === "string" && URL.canParse(value)),
    'expected "token_endpoint", "issuer" or an absolute URL',
  );
  // As every URL option: the JWT would carry them to the server, and errors would quote them.
  const clean = rules.check<AssertionAudience>((value) => !hasCredentials(value), CREDENTIALS_IN_URL_MESSAGE);
  return (value, problems, path) => clean(valid(value, problems, path), problems, path);
};

const sharedShape = () => ({
  audience: rules.optional(audienceRule(), DEFAULT_ASSERTION_AUDIENCE),
  lifetimeMs: rules.optional(rules.number({ above: 0, max: 86_400_000 }), DEFAULT_ASSERTION_LIFETIME_MS),
});

/**
 * The authenticator both methods build: per request, a JWT with `iss` = `sub` = the client id, the
 * chosen `aud`, a fresh random `jti`, `iat` now and `exp` `lifetimeMs` later, signed with `key`.
 */
function assertionAuthenticator(
  method: string,
  header: { alg: string; kid?: string | undefined },
  audience: AssertionAudience,
  lifetimeMs: number,
  key: () => Promise<CryptoKey | Uint8Array>,
  thumbprint: () => Promise<string | undefined>,
): ClientAuthenticator {
  return {
    method,
    async authenticate({ clientId, endpoint, issuer, params, now }) {
      const aud = audience === "token_endpoint" ? endpoint : audience === "issuer" ? issuer : audience;
      if (aud === undefined) {
        throw rules.invalidOptions(method, ['audience: "issuer" needs the creator\'s issuer option']);
      }
      const iat = Math.floor(now() / 1000);
      const x5t = await thumbprint();
      // A compact JWS over claims built here (RFC 7523 section 3). jose's SignJWT would sign the same
      // bytes after re-checking claims we build ourselves; CompactSign keeps this entry smaller.
      const claims = {
        iss: clientId,
        sub: clientId,
        aud,
        jti: crypto.randomUUID(),
        iat,
        exp: iat + Math.ceil(lifetimeMs / 1000),
      };
      const assertion = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
        .setProtectedHeader({ ...header, ...(x5t === undefined ? {} : { "x5t#S256": x5t }) })
        .sign(await key());
      params.client_id = clientId;
      params.client_assertion_type = JWT_BEARER_ASSERTION_TYPE;
      params.client_assertion = assertion;
    },
  };
}

/** Runs `load` on first use and keeps its promise; a failure is kept too (it is an options error). */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load();
    return loaded;
  };
}

/**
 * `private_key_jwt` client authentication (OpenID Connect Core section 9, RFC 7523 section 2.2):
 * each request carries a fresh JWT signed with the client's private key. Pass the result as a
 * creator's (or `revokeToken`'s) `clientAuthentication`, with `clientId` and no `clientSecret`.
 *
 * @example
 * clientCredentialsGrant({
 *   issuer: "https://login.example.com",
 *   clientId: "billing",
 *   clientAuthentication: privateKeyJwt({ key: privateJwk, keyId: "2026-12" }),
 * });
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 * @see https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication
 */
export function privateKeyJwt(options: PrivateKeyJwtOptions): ClientAuthenticator {
  const rule = rules.object({
    ...sharedShape(),
    key: rules.check<PrivateKeyInput>(
      isPrivateKeyInput,
      "expected a private CryptoKey, a private JWK or a PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)",
    ),
    algorithm: rules.optional(rules.oneOf(ASYMMETRIC_ALGORITHMS)),
    keyId: rules.optional(rules.string(1)),
    certificate: rules.optional(
      rules.check<string>(
        isCertificateInput,
        "expected an X.509 certificate: PEM, or the Base64 of its DER (not a thumbprint)",
      ),
    ),
  });
  const parsed = rules.validate(rule, options, "privateKeyJwt", ({ key, algorithm }) => {
    const implied = impliedAlgorithm(key);
    if (algorithm === undefined && implied === undefined) {
      return ["algorithm: required: the key does not imply one of RS256, PS256, ES256, EdDSA"];
    }
    // A CryptoKey is bound to its algorithm: signing with another one would fail on every request.
    if (algorithm !== undefined && isCryptoKey(key) && implied !== algorithm) {
      return [`algorithm: the CryptoKey is not a ${algorithm} key`];
    }
    return isCryptoKey(key) && !isLongEnough(key) ? ["key: an RSA key needs at least 2048 bits"] : [];
  });
  const algorithm = (parsed.algorithm ?? impliedAlgorithm(parsed.key)) as PrivateKeyJwtAlgorithm;
  const { key, certificate } = parsed;
  const keyId =
    parsed.keyId ?? (isCryptoKey(key) || typeof key === "string" ? undefined : (key as { kid?: string }).kid);
  return assertionAuthenticator(
    "private_key_jwt",
    { alg: algorithm, ...(keyId === undefined ? {} : { kid: keyId }) },
    parsed.audience,
    parsed.lifetimeMs,
    once(() => importSigningKey(key, algorithm, "privateKeyJwt")),
    once(async () => (certificate === undefined ? undefined : certificateThumbprint(certificate))),
  );
}

/**
 * `client_secret_jwt` client authentication (OpenID Connect Core section 9, RFC 7523 section 2.2):
 * each request carries a fresh JWT signed with HMAC, keyed by the client secret, which itself never
 * travels. Pass the result as a creator's `clientAuthentication`, with `clientId`.
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication
 */
export function clientSecretJwt(options: ClientSecretJwtOptions): ClientAuthenticator {
  const rule = rules.object({
    ...sharedShape(),
    secret: rules.string(1),
    algorithm: rules.optional(rules.oneOf(["HS256", "HS384", "HS512"]), "HS256"),
  });
  const parsed = rules.validate(rule, options, "clientSecretJwt");
  const key = new TextEncoder().encode(parsed.secret);
  return assertionAuthenticator(
    "client_secret_jwt",
    { alg: parsed.algorithm },
    parsed.audience,
    parsed.lifetimeMs,
    async () => key,
    async () => undefined,
  );
}
