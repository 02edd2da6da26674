import { execFileSync } from "node:child_process";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { createTokenManager } from "@tokenkeep/core";
import { decodeJwt, decodeProtectedHeader, exportJWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectNoSecretIn, expectOtherSecret } from "../../../test/reliability/src/secret-assert.js";
import { mintSecret } from "../../../test/reliability/src/secret-registry.js";
import { clientSecretJwt, privateKeyJwt } from "../src/client-assertion/index.js";
import { clientCredentialsGrant, revokeToken } from "../src/index.js";
import { type OidcProviderServer, startOidcProvider } from "./fixtures/oidc-provider.js";
import { rejection } from "./fixtures/rejection.js";

// One client per algorithm family, each registered with its public key only.
const subtle = globalThis.crypto.subtle;
const rsaPss = (await subtle.generateKey(
  { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
  false,
  ["sign", "verify"],
)) as CryptoKeyPair;
const ed25519 = (await subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"])) as CryptoKeyPair;
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ecPrivateJwk = { ...ec.privateKey.export({ format: "jwk" }), kid: "ec-1" };
const otherEc = generateKeyPairSync("ec", { namedCurve: "P-256" });

// An RSA key and a self-signed certificate made by the openssl CLI (a certificate credential).
const dir = mkdtempSync(join(tmpdir(), "tokenkeep-assertion-"));
execFileSync(
  "openssl",
  ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=billing", "-days", "1"].concat([
    "-keyout",
    join(dir, "key.pem"),
    "-out",
    join(dir, "cert.pem"),
  ]),
  { stdio: "ignore" },
);
// A second certificate (another key), to stand behind the first in a chain.
execFileSync(
  "openssl",
  ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=ca", "-days", "1"].concat([
    "-keyout",
    join(dir, "ca-key.pem"),
    "-out",
    join(dir, "ca.pem"),
  ]),
  { stdio: "ignore" },
);
const rsaPem = readFileSync(join(dir, "key.pem"), "utf8");
const certificatePem = readFileSync(join(dir, "cert.pem"), "utf8");
const caPem = readFileSync(join(dir, "ca.pem"), "utf8");
rmSync(dir, { recursive: true });
const certificate = new X509Certificate(certificatePem);
const expectedX5t = Buffer.from(certificate.fingerprint256.replaceAll(":", ""), "hex").toString("base64url");

const SECRET_JWT = {
  id: "hmac",
  secret: mintSecret("client secret", { prefix: "a-long-enough-shared-secret-for-hs256-" }),
};

const jwtClient = (id: string, method: string, extra: Record<string, unknown>) => ({
  client_id: id,
  token_endpoint_auth_method: method,
  grant_types: ["client_credentials"],
  response_types: [],
  redirect_uris: [],
  scope: "api:read",
  ...extra,
});

let op: OidcProviderServer;
beforeAll(async () => {
  const publicJwk = async (key: CryptoKey, kid?: string) => ({ ...(await exportJWK(key)), kid });
  op = await startOidcProvider({
    clients: [
      jwtClient("rs256", "private_key_jwt", {
        jwks: { keys: [{ ...certificate.publicKey.export({ format: "jwk" }), kid: "rsa-1" }] },
      }),
      jwtClient("ps256", "private_key_jwt", { jwks: { keys: [await publicJwk(rsaPss.publicKey)] } }),
      jwtClient("es256", "private_key_jwt", {
        jwks: { keys: [{ ...ec.publicKey.export({ format: "jwk" }), kid: "ec-1" }] },
      }),
      jwtClient("eddsa", "private_key_jwt", { jwks: { keys: [await publicJwk(ed25519.publicKey)] } }),
      jwtClient(SECRET_JWT.id, "client_secret_jwt", { client_secret: SECRET_JWT.secret }),
    ],
  });
});
afterAll(() => op?.close());

/** A fetch that keeps the body of every request, to look at the assertions sent. */
function recordingFetch(bodies: URLSearchParams[]): typeof fetch {
  return (input, init) => {
    bodies.push(new URLSearchParams(String(init?.body)));
    return fetch(input, init);
  };
}

describe("private_key_jwt against oidc-provider", () => {
  const cases = [
    [
      "RS256, PKCS#8 PEM, kid and x5t#S256",
      "rs256",
      () => privateKeyJwt({ key: rsaPem, algorithm: "RS256", keyId: "rsa-1", certificate: certificatePem }),
    ],
    ["PS256, non-extractable CryptoKey", "ps256", () => privateKeyJwt({ key: rsaPss.privateKey })],
    ["ES256, private JWK (kid from the JWK)", "es256", () => privateKeyJwt({ key: ecPrivateJwk })],
    ["EdDSA, non-extractable CryptoKey", "eddsa", () => privateKeyJwt({ key: ed25519.privateKey })],
  ] as const;

  for (const [name, clientId, authentication] of cases) {
    it(`${name}: a token per request, each with a fresh assertion`, async () => {
      const bodies: URLSearchParams[] = [];
      const creator = clientCredentialsGrant({
        issuer: op.issuer,
        clientId,
        clientAuthentication: authentication(),
        fetch: recordingFetch(bodies),
      });
      const first = await creator();
      // The server refuses a jti it has seen: a second success proves the assertion is new.
      const second = await creator();
      expectOtherSecret(first.accessToken, second.accessToken, "the second access token");
      const tokenRequests = bodies.filter((body) => body.has("client_assertion"));
      expect(tokenRequests).toHaveLength(2);
      const [a, b] = tokenRequests.map((body) => decodeJwt(body.get("client_assertion")!));
      expect(a!.jti).not.toBe(b!.jti);
      expect(a).toMatchObject({ iss: clientId, sub: clientId, aud: `${op.issuer}/token` });
      expect(a!.exp! - a!.iat!).toBe(60);
      expect(tokenRequests[0]!.get("client_assertion_type")).toBe(
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      );
      expect(tokenRequests[0]!.get("client_id")).toBe(clientId);
      expect(tokenRequests[0]!.has("client_secret")).toBe(false);
    });
  }

  it("puts kid and the certificate's x5t#S256 in the header", async () => {
    const bodies: URLSearchParams[] = [];
    await clientCredentialsGrant({
      tokenUrl: `${op.issuer}/token`,
      clientId: "rs256",
      clientAuthentication: privateKeyJwt({
        key: rsaPem,
        algorithm: "RS256",
        keyId: "rsa-1",
        certificate: certificatePem,
      }),
      fetch: recordingFetch(bodies),
    })();
    const header = decodeProtectedHeader(bodies[0]!.get("client_assertion")!);
    expect(header).toEqual({ alg: "RS256", kid: "rsa-1", "x5t#S256": expectedX5t });
  });

  it("takes the first certificate of a PEM holding a chain or the key too, and refuses a thumbprint", async () => {
    const x5tOf = async (certificate: string) => {
      const params: Record<string, string> = {};
      const authenticator = privateKeyJwt({ key: rsaPem, algorithm: "RS256", certificate });
      await authenticator.authenticate({
        clientId: "rs256",
        endpoint: `${op.issuer}/token`,
        issuer: undefined,
        params,
        headers: {},
        now: Date.now,
      });
      return decodeProtectedHeader(params.client_assertion!)["x5t#S256"];
    };
    // The leaf, as a file with its chain or with its key holds it (openssl pkcs12 -nodes writes both).
    expect(await x5tOf(`${certificatePem}${caPem}`)).toBe(expectedX5t);
    expect(await x5tOf(`${rsaPem}${certificatePem}`)).toBe(expectedX5t);
    expect(await x5tOf(`Bag Attributes\n    localKeyID: 01 00\nsubject=CN=billing\n${certificatePem}`)).toBe(
      expectedX5t,
    );
    // What the portals show in a certificate's place: its hex thumbprints (SHA-1 and SHA-256).
    const sha1 = certificate.fingerprint.replaceAll(":", "");
    const sha256 = certificate.fingerprint256.replaceAll(":", "");
    for (const thumbprint of [sha1, sha256, rsaPem]) {
      expect(() => privateKeyJwt({ key: rsaPem, algorithm: "RS256", certificate: thumbprint })).toThrow(
        "certificate: expected an X.509 certificate: PEM, or the Base64 of its DER (not a thumbprint)",
      );
    }
  });

  it("signs for the issuer when asked, and for an explicit audience", async () => {
    const bodies: URLSearchParams[] = [];
    const grant = (audience: string, issuer: string | URL = op.issuer) =>
      clientCredentialsGrant({
        issuer,
        clientId: "es256",
        clientAuthentication: privateKeyJwt({ key: ecPrivateJwk, audience }),
        fetch: recordingFetch(bodies),
      })();
    await grant("issuer");
    await grant(op.issuer);
    // As a URL (whose href gains a slash), the issuer is still the server's: discovery and aud agree.
    await grant("issuer", new URL(op.issuer));
    const audiences = bodies
      .filter((body) => body.has("client_assertion"))
      .map((body) => decodeJwt(body.get("client_assertion")!).aud);
    expect(audiences).toEqual([op.issuer, op.issuer, op.issuer]);
  });

  it('refuses audience "issuer" when the creator has no issuer', async () => {
    const creator = clientCredentialsGrant({
      tokenUrl: `${op.issuer}/token`,
      clientId: "es256",
      clientAuthentication: privateKeyJwt({ key: ecPrivateJwk, audience: "issuer" }),
    });
    await expect(creator()).rejects.toMatchObject({
      name: "TypeError",
      code: "ERR_TOKENKEEP_INVALID_OPTIONS",
    });
  });

  it("a key the server does not hold is a permanent invalid_client that leaks no assertion", async () => {
    const bodies: URLSearchParams[] = [];
    const error = await rejection(
      clientCredentialsGrant({
        issuer: op.issuer,
        clientId: "es256",
        clientAuthentication: privateKeyJwt({ key: otherEc.privateKey.export({ format: "jwk" }) }),
        fetch: recordingFetch(bodies),
      })(),
    );
    expect(error).toMatchObject({ error: "invalid_client", status: 401, transient: false });
    const assertion = bodies.find((body) => body.has("client_assertion"))!.get("client_assertion")!;
    for (const text of [JSON.stringify(error), String(error), inspect(error, { depth: 5 }), error.stack]) {
      expectNoSecretIn(text, [assertion, assertion.split(".")[2]!], "the error's rendering");
    }
  });

  it("feeds a token manager and authenticates revocation", async () => {
    const server = {
      issuer: op.issuer,
      clientId: "eddsa",
      clientAuthentication: privateKeyJwt({ key: ed25519.privateKey }),
    };
    const manager = createTokenManager({ creator: clientCredentialsGrant(server) });
    const header = await manager.getAuthorizationHeader();
    expect(header).toMatch(/^Bearer /);
    // The revocation endpoint accepts an assertion whose aud is its own URL.
    await revokeToken({ ...server, token: header.slice("Bearer ".length), tokenTypeHint: "access_token" });
    await manager.dispose();
  });
});

describe("client_secret_jwt against oidc-provider", () => {
  it("signs with HMAC keyed by the secret, which is never sent", async () => {
    const bodies: URLSearchParams[] = [];
    const set = await clientCredentialsGrant({
      issuer: op.issuer,
      clientId: SECRET_JWT.id,
      clientAuthentication: clientSecretJwt({ secret: SECRET_JWT.secret }),
      fetch: recordingFetch(bodies),
    })();
    expect(set.accessToken).toBeTruthy();
    const body = bodies.find((entry) => entry.has("client_assertion"))!;
    expect(decodeProtectedHeader(body.get("client_assertion")!)).toEqual({ alg: "HS256" });
    expectNoSecretIn(body.toString(), encodeURIComponent(SECRET_JWT.secret), "the request body");
  });

  it("a wrong secret is invalid_client", async () => {
    const error = await rejection(
      clientCredentialsGrant({
        issuer: op.issuer,
        clientId: SECRET_JWT.id,
        clientAuthentication: clientSecretJwt({ secret: `${SECRET_JWT.secret}-wrong` }),
      })(),
    );
    expect(error).toMatchObject({ error: "invalid_client", transient: false });
    expectNoSecretIn(JSON.stringify(error), SECRET_JWT.secret, "the error's JSON");
  });
});
