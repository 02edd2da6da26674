// Mutual TLS client authentication (RFC 8705) on Node: oidc-provider behind an https server that
// asks for client certificates, a CA and certificates made by the openssl CLI, and the client's
// certificate presented through undici's Agent, as the README's recipe does.
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTokenManager } from "@tokenkeep/core";
import { createAuthFetch } from "@tokenkeep/core/http";
import Provider from "oidc-provider";
import { Agent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintSecret } from "../../../test/reliability/src/secret-registry.js";
import { createDPoP } from "../src/dpop/index.js";
import { clientCredentialsGrant, discover } from "../src/index.js";
import { rejection } from "./fixtures/rejection.js";

const dir = mkdtempSync(join(tmpdir(), "tokenkeep-mtls-"));
const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
openssl(
  "req",
  "-x509",
  ...newKey,
  "-keyout",
  "ca.key",
  "-out",
  "ca.pem",
  "-subj",
  "/CN=tokenkeep test CA",
  "-days",
  "1",
);
/** A certificate for `subject` signed by the CA, with the given extensions. */
function issued(name: string, subject: string, extensions: string) {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl("req", ...newKey, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
  openssl(
    ...["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"],
    ...["-out", `${name}.pem`, "-days", "1", "-extfile", `${name}.ext`],
  );
}
issued("server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1\n");
issued("client", "/CN=billing", "extendedKeyUsage=clientAuth\n");
for (const name of ["self", "stranger"]) {
  openssl(
    "req",
    "-x509",
    ...newKey,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-subj",
    `/CN=${name}`,
    "-days",
    "1",
  );
}
const read = (file: string) => readFileSync(join(dir, file), "utf8");
const ca = read("ca.pem");
const pems = Object.fromEntries(
  ["server", "client", "self", "stranger"].map((name) => [
    name,
    { cert: read(`${name}.pem`), key: read(`${name}.key`) },
  ]),
);
rmSync(dir, { recursive: true });

/**
 * The README's recipe: the runtime's fetch with undici's Agent, which presents a client certificate
 * (and trusts the test CA). It takes a `Request` as well as a URL: createAuthFetch and dpop.fetch
 * pass one (undici's own fetch, the recipe before, refused a `Request` of the runtime's).
 */
function fetchWith(certificate?: { cert: string; key: string }): typeof globalThis.fetch {
  const dispatcher = new Agent({ connect: { ca, ...certificate } });
  return (input, init) => fetch(input, { ...init, dispatcher } as RequestInit);
}

/** The `client_secret_basic` client's secret: minted and registered (secret-registry.ts). */
const TLS_SECRET = mintSecret("client secret");
let server: Server;
let issuer: string;
const paths: string[] = [];

beforeAll(async () => {
  server = createServer({ ...pems.server, ca, requestCert: true, rejectUnauthorized: false });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  type Ctx = { socket: import("node:tls").TLSSocket };
  const certificateOf = (ctx: Ctx) => ctx.socket.getPeerX509Certificate()?.toString();
  const client = (id: string, metadata: Record<string, unknown>) => ({
    client_id: id,
    grant_types: ["client_credentials"],
    response_types: [],
    redirect_uris: [],
    ...metadata,
  });
  const selfJwk = { ...new X509Certificate(pems.self!.cert).publicKey.export({ format: "jwk" }) };
  const provider = new Provider(issuer, {
    clients: [
      client("billing", {
        token_endpoint_auth_method: "tls_client_auth",
        tls_client_auth_subject_dn: "CN=billing",
        tls_client_certificate_bound_access_tokens: true,
      }),
      client("self", {
        token_endpoint_auth_method: "self_signed_tls_client_auth",
        jwks: { keys: [{ ...selfJwk, x5c: [new X509Certificate(pems.self!.cert).raw.toString("base64")] }] },
      }),
      client("secret", { client_secret: TLS_SECRET }),
    ],
    clientAuthMethods: ["client_secret_basic", "tls_client_auth", "self_signed_tls_client_auth"],
    discovery: { mtls_endpoint_aliases: { token_endpoint: `${issuer}/mtls/token` } },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: () => true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        selfSignedTlsClientAuth: true,
        getCertificate: certificateOf,
        certificateAuthorized: (ctx: Ctx) => ctx.socket.authorized,
        certificateSubjectMatches: (ctx: Ctx, property: string, expected: string) => {
          const pem = certificateOf(ctx);
          return (
            property === "tls_client_auth_subject_dn" &&
            !!pem &&
            new X509Certificate(pem).subject === expected
          );
        },
      },
    },
    ttl: {
      AccessToken: 300,
      ClientCredentials: 300,
      Grant: 300,
      Session: 300,
      Interaction: 300,
      IdToken: 300,
    },
  });
  const callback = provider.callback();
  server.on("request", (request, response) => {
    paths.push(new URL(request.url ?? "/", issuer).pathname);
    // A resource of the test's own: who presented which certificate, with which token scheme.
    if (request.url === "/resource") {
      const { subject } = (request.socket as import("node:tls").TLSSocket).getPeerCertificate();
      const scheme = request.headers.authorization?.split(" ")[0];
      response.end(JSON.stringify({ subject: subject?.CN, scheme, dpop: "dpop" in request.headers }));
      return;
    }
    // The alias serves the same token endpoint (oidc-provider mounts it only once).
    if (request.url?.startsWith("/mtls/")) request.url = request.url.slice("/mtls".length);
    callback(request, response);
  });
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("mutual TLS client authentication against oidc-provider", () => {
  it("discovery reports the mTLS endpoint aliases", async () => {
    const metadata = await discover(issuer, { fetch: fetchWith() });
    expect(metadata.mtls_endpoint_aliases?.token_endpoint).toBe(`${issuer}/mtls/token`);
  });

  it("tls_client_auth: the CA-issued certificate authenticates, at the alias, and binds the token", async () => {
    const before = paths.length;
    const set = await clientCredentialsGrant({
      issuer,
      clientId: "billing",
      clientAuthentication: "tls_client_auth",
      fetch: fetchWith(pems.client),
    })();
    expect(paths.slice(before).filter((path) => path.endsWith("/token"))).toEqual(["/mtls/token"]);
    // Bound to the certificate (RFC 8705 section 3): cnf is its SHA-256 thumbprint.
    const introspection = await fetchWith()(`${issuer}/token/introspection`, {
      method: "POST",
      headers: { authorization: `Basic ${btoa(`secret:${TLS_SECRET}`)}` },
      body: new URLSearchParams({ token: set.accessToken }),
    });
    const thumbprint = Buffer.from(
      new X509Certificate(pems.client!.cert).fingerprint256.replaceAll(":", ""),
      "hex",
    ).toString("base64url");
    expect(await introspection.json()).toMatchObject({ active: true, cnf: { "x5t#S256": thumbprint } });
  });

  it("the recipe installs the undici major these tests use: Node's fetch refuses undici 8's Agent", () => {
    // undici 8 is npm's latest; its Agent, given to Node 22's or 24's fetch, fails every request
    // (`invalid onRequestStart method`). The README must name the major whose Agent is tested here.
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const { devDependencies } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    const major = /\d+/.exec(devDependencies.undici)?.[0];
    expect(readme.match(/npm install undici[^`\s]*/g)).toEqual([`npm install undici@${major}`]);
  });

  it("the recipe's fetch spends the bound token through createAuthFetch and dpop.fetch (a Request)", async () => {
    const mtlsFetch = fetchWith(pems.client);
    const manager = createTokenManager({
      creator: clientCredentialsGrant({
        issuer,
        clientId: "billing",
        clientAuthentication: "tls_client_auth",
        fetch: mtlsFetch,
      }),
    });
    const authFetch = createAuthFetch(manager, { origins: [issuer], fetch: mtlsFetch });
    const response = await authFetch(`${issuer}/resource`);
    expect(await response.json()).toEqual({ subject: "billing", scheme: "Bearer", dpop: false });
    const proved = await createDPoP().wrap(mtlsFetch)(`${issuer}/resource`, { method: "POST", body: "{}" });
    expect(await proved.json()).toEqual({ subject: "billing", dpop: true });
    await manager.dispose();
  });

  it("tls_client_auth without a certificate, or with another one, is invalid_client", async () => {
    for (const certificate of [undefined, pems.stranger]) {
      const error = await rejection(
        clientCredentialsGrant({
          issuer,
          clientId: "billing",
          clientAuthentication: "tls_client_auth",
          fetch: fetchWith(certificate),
        })(),
      );
      expect(error).toMatchObject({ error: "invalid_client", status: 401, transient: false });
    }
  });

  it("self_signed_tls_client_auth: the registered self-signed certificate, and no other", async () => {
    const grant = (certificate: { cert: string; key: string }) =>
      clientCredentialsGrant({
        issuer,
        clientId: "self",
        clientAuthentication: "self_signed_tls_client_auth",
        fetch: fetchWith(certificate),
      })();
    expect((await grant(pems.self!)).accessToken).toBeTruthy();
    expect(await rejection(grant(pems.stranger!))).toMatchObject({ error: "invalid_client" });
  });

  it("an authenticator object whose method is an mTLS one posts to the alias too", async () => {
    // A ClientAuthenticator of the user's (logging, say) for each mTLS method: it adds client_id, the
    // certificate authenticates. RFC 8705 section 5 is about the method, not how it was passed.
    const cases = [
      ["billing", "tls_client_auth", pems.client!],
      ["self", "self_signed_tls_client_auth", pems.self!],
    ] as const;
    for (const [clientId, method, certificate] of cases) {
      const before = paths.length;
      const set = await clientCredentialsGrant({
        issuer,
        clientId,
        clientAuthentication: {
          method,
          authenticate: async ({ params }) => {
            params.client_id = clientId;
          },
        },
        fetch: fetchWith(certificate),
      })();
      expect(set.accessToken).toBeTruthy();
      expect(paths.slice(before).filter((path) => path.endsWith("/token"))).toEqual(["/mtls/token"]);
    }
  });

  it("a client authenticating with a secret ignores the aliases", async () => {
    const before = paths.length;
    await clientCredentialsGrant({
      issuer,
      clientId: "secret",
      clientSecret: TLS_SECRET,
      fetch: fetchWith(),
    })();
    expect(paths.slice(before).filter((path) => path.endsWith("/token"))).toEqual(["/token"]);
  });

  it("needs clientId but no clientSecret", () => {
    expect(() => clientCredentialsGrant({ issuer, clientAuthentication: "tls_client_auth" })).toThrow(
      "clientId: required with tls_client_auth",
    );
    expect(() =>
      clientCredentialsGrant({
        issuer,
        clientId: "billing",
        clientAuthentication: "self_signed_tls_client_auth",
      }),
    ).not.toThrow();
  });
});
