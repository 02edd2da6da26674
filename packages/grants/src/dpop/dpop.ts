import * as rules from "@tokenkeep/core/options";
import { base64url, calculateJwkThumbprint, exportJWK, type JWK } from "jose";

/** The algorithms DPoP proofs are signed with: those oidc-provider and most servers accept. */
export type DPoPAlgorithm = "ES256" | "EdDSA";

/** Options of {@link createDPoP}. */
export interface DPoPOptions {
  /**
   * The key pair proofs are signed with. The private key may (and should) be non-extractable; the
   * public key must be extractable, since every proof carries it as a JWK. The two must be halves of
   * one pair: checked at first use (a probe signed and verified), after which every request and
   * `thumbprint()` reject with a `TypeError` (code `ERR_TOKENKEEP_INVALID_OPTIONS`) if they are not.
   * @default a P-256 pair generated on first use, with a non-extractable private key (ES256)
   */
  keyPair?: CryptoKeyPair | undefined;
  /**
   * The clock for the proofs' `iat`, in epoch milliseconds.
   * @default Date.now
   */
  now?: (() => number) | undefined;
}

/** One sender-constraining key and the nonces servers gave it. */
export interface DPoP {
  /**
   * Wraps a `fetch` so each request carries a fresh DPoP proof (RFC 9449 section 4): `htm`, `htu`
   * without query and fragment, a random `jti`, `iat`, the server's last nonce, and `ath` when the
   * request carries `Authorization: DPoP <token>`. A request with a `Bearer` token gets none, nor
   * does a `GET` or `HEAD` without a DPoP token (discovery, requests to other origins). Every
   * `DPoP-Nonce` an answer carries is remembered per origin. A resource server's nonce challenge
   * (401 with `WWW-Authenticate: DPoP error="use_dpop_nonce"`) is answered by sending the request
   * once more with the nonce; an authorization server's (400 `use_dpop_nonce`) is returned as it
   * is, for the grant to send again with fresh credentials (every creator, revocation and
   * introspection of this package does, once: a client assertion cannot be sent twice). With a
   * server whose nonces are single-use, concurrent requests race for the one remembered nonce: a
   * request whose retry carries a nonce another spent first gets the 401 `use_dpop_nonce`.
   * @param fetch the `fetch` to wrap (default: `globalThis.fetch`, looked up per call)
   */
  wrap(fetch?: typeof globalThis.fetch): typeof globalThis.fetch;
  /** `wrap()` of `globalThis.fetch`: pass it as a grant's or `createAuthFetch`'s `fetch`. */
  readonly fetch: typeof globalThis.fetch;
  /** The JWK SHA-256 thumbprint of the public key (RFC 7638): the `cnf.jkt` of bound tokens. */
  thumbprint(): Promise<string>;
}

interface Signer {
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
  /** The protected header, the same for every proof of this key: encoded once. */
  readonly header: string;
  /** The Web Crypto parameters of the signature. */
  readonly algorithm: AlgorithmIdentifier | EcdsaParams;
}

/**
 * A P-256 ECDSA or Ed25519 pair whose private key may sign and whose public key, of the same kind, can
 * go into the proofs.
 */
const isKeyPair = (value: unknown): value is CryptoKeyPair => {
  if (!rules.isObject(value) || !rules.isObject(value.privateKey) || !rules.isObject(value.publicKey)) {
    return false;
  }
  type Algorithm = { name?: string; namedCurve?: string } | undefined;
  const algorithm = value.privateKey.algorithm as Algorithm;
  const publicAlgorithm = value.publicKey.algorithm as Algorithm;
  return (
    value.publicKey.extractable === true &&
    (value.privateKey.usages as unknown[] | undefined)?.includes("sign") === true &&
    (algorithm?.name === "Ed25519" || (algorithm?.name === "ECDSA" && algorithm.namedCurve === "P-256")) &&
    // The public half of the same kind: the proofs' header names the algorithm by the private key,
    // and the server verifies them with the public one.
    value.publicKey.type === "public" &&
    publicAlgorithm?.name === algorithm.name &&
    publicAlgorithm.namedCurve === algorithm.namedCurve
  );
};

async function signerOf(keyPair: CryptoKeyPair | undefined): Promise<Signer> {
  const pair =
    keyPair ??
    ((await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
      "sign",
      "verify",
    ])) as CryptoKeyPair);
  const { kty, crv, x, y, e, n } = await exportJWK(pair.publicKey);
  const jwk = Object.fromEntries(Object.entries({ kty, crv, x, y, e, n }).filter(([, v]) => v !== undefined));
  const alg: DPoPAlgorithm = pair.privateKey.algorithm.name === "Ed25519" ? "EdDSA" : "ES256";
  const algorithm = alg === "EdDSA" ? { name: "Ed25519" } : { name: "ECDSA", hash: "SHA-256" };
  if (keyPair !== undefined) {
    // Two halves of the same kind may still be two keys, and then every proof would be refused: a probe
    // signed with the private key must verify with the public key the proofs carry (as a server would).
    const probe = new TextEncoder().encode("tokenkeep DPoP key pair probe");
    const verifier = await crypto.subtle.importKey("jwk", jwk, pair.publicKey.algorithm, false, ["verify"]);
    const signature = await crypto.subtle.sign(algorithm, pair.privateKey, probe);
    if (!(await crypto.subtle.verify(algorithm, verifier, signature, probe))) {
      throw rules.invalidOptions("createDPoP", [
        "keyPair: its public key is not the private key's own half: pass the two keys of one pair",
      ]);
    }
  }
  return {
    privateKey: pair.privateKey,
    jwk,
    header: base64url.encode(JSON.stringify({ alg, typ: "dpop+jwt", jwk })),
    algorithm,
  };
}

/**
 * Whether a resource server's answer asks for the request again with the nonce it carries (RFC 9449
 * section 9). An authorization server's 400 `use_dpop_nonce` (section 8) is not answered here: a
 * token request may carry a single-use client assertion the server has spent, so the grant that sent
 * it builds the resend (see `postToEndpoint`); the nonce is remembered for it all the same.
 */
const isNonceChallenge = (response: Response): boolean =>
  response.status === 401 &&
  response.headers.has("dpop-nonce") &&
  /\bDPoP\b[\s\S]*error="?use_dpop_nonce/i.test(response.headers.get("www-authenticate") ?? "");

/**
 * A DPoP key (RFC 9449) for one client: pass `dpop.fetch` (or `dpop.wrap(yourFetch)`) as the
 * `fetch` of the grant that obtains tokens and of `createAuthFetch` that spends them, so both prove
 * possession of the same key. The server then answers `token_type: "DPoP"`, and `createAuthFetch`
 * sends `Authorization: DPoP <token>` with a proof bound to it.
 *
 * @example
 * const dpop = createDPoP();
 * const manager = createTokenManager({
 *   creator: clientCredentialsGrant({ issuer, clientId, clientSecret, fetch: dpop.fetch }),
 * });
 * const authFetch = createAuthFetch(manager, { origins: ["https://api.example"], fetch: dpop.fetch });
 * @see https://www.rfc-editor.org/rfc/rfc9449
 */
export function createDPoP(options: DPoPOptions = {}): DPoP {
  const parsed = rules.validate(
    rules.object({
      keyPair: rules.optional(
        rules.check<CryptoKeyPair>(
          isKeyPair,
          "expected a P-256 ECDSA or Ed25519 CryptoKeyPair whose private key may sign and whose public key, of the same kind, is extractable",
        ),
      ),
      now: rules.optional(rules.func<() => number>()),
    }),
    options,
    "createDPoP",
  );
  const now = parsed.now ?? (() => Date.now());
  let signer: Promise<Signer> | undefined;
  const load = () => {
    signer ??= signerOf(parsed.keyPair);
    return signer;
  };
  const nonces = new Map<string, string>();

  const encoder = new TextEncoder();
  // The `ath` of the last token: a manager hands out the same token for many requests.
  let hashed: { token: string; ath: Promise<string> } | undefined;
  const athOf = (token: string) => {
    if (hashed?.token !== token) {
      const ath = crypto.subtle
        .digest("SHA-256", encoder.encode(token))
        .then((digest) => base64url.encode(new Uint8Array(digest)));
      hashed = { token, ath };
    }
    return hashed.ath;
  };

  // A compact JWS over the claims (RFC 9449 section 4.2), signed with Web Crypto directly: the header
  // is encoded once per key, and the key and algorithm were checked at creation. jose's SignJWT (a
  // structured clone and checks of claims we build ourselves) or CompactSign (the header encoded and
  // the key checked again on every proof) would cost more, at one proof per request.
  const proof = async (method: string, url: URL, accessToken: string | undefined): Promise<string> => {
    const { privateKey, header, algorithm } = await load();
    const claims: Record<string, string | number> = {
      htm: method,
      htu: `${url.origin}${url.pathname}`,
      jti: crypto.randomUUID(),
      iat: Math.floor(now() / 1000),
    };
    const nonce = nonces.get(url.origin);
    if (nonce !== undefined) claims.nonce = nonce;
    if (accessToken !== undefined) claims.ath = await athOf(accessToken);
    const input = `${header}.${base64url.encode(JSON.stringify(claims))}`;
    const signature = await crypto.subtle.sign(algorithm, privateKey, encoder.encode(input));
    return `${input}.${base64url.encode(new Uint8Array(signature))}`;
  };

  const wrap = (fetch?: typeof globalThis.fetch): typeof globalThis.fetch => {
    const send = fetch ?? ((input, init) => globalThis.fetch(input, init));
    return async (input, init) => {
      // createAuthFetch and ky hand over a Request of their own: it is used as it is.
      const request = input instanceof Request && init === undefined ? input : new Request(input, init);
      const authorization = request.headers.get("authorization") ?? "";
      const accessToken = /^dpop (.+)$/i.exec(authorization)?.[1];
      // Proofs go with token requests (POSTs) and DPoP-authorized calls. A Bearer token is not ours to
      // bind, and a GET without a DPoP token (discovery, another origin's page) needs no proof.
      if (
        /^bearer /i.test(authorization) ||
        (accessToken === undefined && /^(GET|HEAD)$/.test(request.method))
      ) {
        return send(request);
      }
      const url = new URL(request.url);
      const attempt = async (outgoing: Request) => {
        outgoing.headers.set("dpop", await proof(outgoing.method, url, accessToken));
        const response = await send(outgoing);
        const nonce = response.headers.get("dpop-nonce");
        if (nonce) nonces.set(url.origin, nonce);
        return response;
      };
      const again = request.body === null ? undefined : request.clone();
      const response = await attempt(request);
      if (!isNonceChallenge(response)) return response;
      await response.body?.cancel().catch(() => {});
      return attempt(again ?? new Request(request));
    };
  };

  return {
    wrap,
    fetch: wrap(),
    thumbprint: async () => calculateJwkThumbprint((await load()).jwk),
  };
}
