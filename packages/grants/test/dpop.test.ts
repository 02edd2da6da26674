import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createTokenManager } from "@tokenkeep/core";
import { createAuthFetch, createKyHooks } from "@tokenkeep/core/http";
import {
  base64url,
  calculateJwkThumbprint,
  createRemoteJWKSet,
  decodeJwt,
  EmbeddedJWK,
  exportJWK,
  type JWTPayload,
  jwtVerify,
} from "jose";
import ky from "ky";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectOtherSecret } from "../../../test/reliability/src/secret-assert.js";
import { privateKeyJwt } from "../src/client-assertion/index.js";
import { createDPoP } from "../src/dpop/index.js";
import { clientCredentialsGrant, jwtBearerGrant, refreshTokenGrant } from "../src/index.js";
import { listen, type RunningServer, readBody, sendJson } from "./fixtures/http.js";
import { CLIENTS, type OidcProviderServer, RESOURCE, startOidcProvider } from "./fixtures/oidc-provider.js";

/** What the resource server saw of one request. */
interface Seen {
  readonly scheme: string;
  readonly status: number;
  readonly proof?: JWTPayload | undefined;
  readonly token?: string | undefined;
}

/**
 * A resource server that verifies DPoP-bound JWT access tokens with jose: the token (issuer,
 * audience, `at+jwt`), the proof (`dpop+jwt`, embedded JWK, htm, htu, ath, a jti never seen, its
 * nonce) and the binding (`cnf.jkt` = the proof key's thumbprint). Tokens in `revoked` get 401
 * `invalid_token`.
 */
async function startResourceServer(issuer: string) {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const seen: Seen[] = [];
  const jtis = new Set<unknown>();
  const revoked = new Set<string>();
  // `fixed`: one nonce for ever; `single-use`: each nonce is spent by the request that carries it and
  // every answer gives the next (strictly single-use nonces); `always`: every request is challenged.
  const nonces = { mode: "fixed" as "fixed" | "single-use" | "always", current: "rs-nonce-1", issued: 1 };
  const next = () => {
    nonces.current = `rs-nonce-${++nonces.issued}`;
    return nonces.current;
  };
  let base = "";
  const deny = (response: ServerResponse, error: string, extra: Record<string, string> = {}) => {
    response.writeHead(401, { "www-authenticate": `DPoP error="${error}", algs="ES256 EdDSA"`, ...extra });
    response.end();
    return 401;
  };
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<Seen> => {
    const [scheme = "", token] = (request.headers.authorization ?? "").split(" ");
    if (scheme !== "DPoP" || !token) return { scheme, status: deny(response, "invalid_token") };
    const at = await jwtVerify(token, jwks, { issuer, audience: RESOURCE, typ: "at+jwt" });
    const proof = await jwtVerify(String(request.headers.dpop), EmbeddedJWK, {
      typ: "dpop+jwt",
      maxTokenAge: "60s",
    });
    const path = new URL(request.url ?? "/", base).pathname;
    const ath = base64url.encode(
      new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))),
    );
    const jkt = await calculateJwkThumbprint(proof.protectedHeader.jwk!);
    const checks = [
      proof.payload.htm === request.method,
      proof.payload.htu === `${base}${path}`,
      proof.payload.ath === ath,
      !jtis.has(proof.payload.jti),
      (at.payload.cnf as { jkt?: string } | undefined)?.jkt === jkt,
    ];
    jtis.add(proof.payload.jti);
    const base_ = { scheme, proof: proof.payload, token };
    if (checks.includes(false)) return { ...base_, status: deny(response, "invalid_dpop_proof") };
    if (proof.payload.nonce !== nonces.current || nonces.mode === "always") {
      const fresh = nonces.mode === "fixed" ? nonces.current : next();
      return { ...base_, status: deny(response, "use_dpop_nonce", { "dpop-nonce": fresh }) };
    }
    if (revoked.has(token)) return { ...base_, status: deny(response, "invalid_token") };
    if (nonces.mode === "single-use") response.setHeader("dpop-nonce", next());
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ ok: true }));
    return { ...base_, status: 200 };
  };
  const server: RunningServer = await listen((request, response) => {
    handle(request, response).then(
      (entry) => seen.push(entry),
      () => {
        seen.push({ scheme: "error", status: deny(response, "invalid_token") });
      },
    );
  });
  base = server.url;
  return Object.assign(server, { seen, revoked, nonces });
}

let op: OidcProviderServer;
let rs: Awaited<ReturnType<typeof startResourceServer>>;
// A private_key_jwt client (FAPI 2's pairing of DPoP and signed client authentication).
const clientKey = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
  "sign",
  "verify",
])) as CryptoKeyPair;
beforeAll(async () => {
  op = await startOidcProvider({
    jwtAccessTokens: true,
    dPoP: { nonceSecret: randomBytes(32), requireNonce: () => true },
    clients: [
      {
        client_id: "signed",
        token_endpoint_auth_method: "private_key_jwt",
        jwks: { keys: [await exportJWK(clientKey.publicKey)] },
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        scope: "api:read",
      },
    ],
  });
  rs = await startResourceServer(op.issuer);
});
afterAll(async () => {
  await rs?.close();
  await op?.close();
});

const grant = (fetch: typeof globalThis.fetch) =>
  clientCredentialsGrant({
    issuer: op.issuer,
    clientId: CLIENTS.service.id,
    clientSecret: CLIENTS.service.secret,
    resource: RESOURCE,
    fetch,
  });

describe("DPoP (RFC 9449) against oidc-provider and a resource server verifying with jose", () => {
  it("binds the token to the key, answering the token endpoint's nonce challenge once", async () => {
    const dpop = createDPoP();
    const statuses: number[] = [];
    const observed: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (new URL(response.url).pathname === "/token") statuses.push(response.status);
      return response;
    };
    const creator = grant(dpop.wrap(observed));
    const set = await creator();
    expect(set.tokenType).toBe("DPoP");
    expect((decodeJwt(set.accessToken).cnf as { jkt: string }).jkt).toBe(await dpop.thumbprint());
    await creator(); // the nonce is remembered: no second challenge
    expect(statuses).toEqual([400, 200, 200]);
  });

  it("answers the nonce challenge with a freshly signed client assertion (private_key_jwt)", async () => {
    // oidc-provider spends the assertion's jti on the challenged request: the resend must not reuse it.
    const dpop = createDPoP();
    const sent: { status: number; jti: unknown }[] = [];
    const observed: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      const assertion = new URLSearchParams(await request.clone().text()).get("client_assertion");
      const response = await fetch(request);
      sent.push({ status: response.status, jti: assertion && decodeJwt(assertion).jti });
      return response;
    };
    const set = await clientCredentialsGrant({
      issuer: op.issuer,
      clientId: "signed",
      clientAuthentication: privateKeyJwt({ key: clientKey.privateKey }),
      resource: RESOURCE,
      fetch: dpop.wrap(observed),
    })();
    expect(set.tokenType).toBe("DPoP");
    const token = sent.filter((entry) => entry.jti !== null);
    expect(token.map((entry) => entry.status)).toEqual([400, 200]);
    expect(token[1]!.jti).not.toBe(token[0]!.jti);
  });

  it("sends a challenged token request again once, building its parameters again", async () => {
    let assertions = 0;
    await using server = await listen((_request, response) =>
      sendJson(response, 400, { error: "use_dpop_nonce" }, { "dpop-nonce": "n" }),
    );
    const error = await jwtBearerGrant({
      tokenUrl: `${server.url}/token`,
      clientAuthentication: "none",
      assertion: () => `assertion-${++assertions}`,
      fetch: createDPoP().fetch,
    })().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ error: "use_dpop_nonce", status: 400 });
    expect([server.hits.get("/token"), assertions]).toEqual([2, 2]);
  });

  it("does not send a challenge without a DPoP-Nonce again: the refresh token is presented once", async () => {
    // RFC 9449 section 8 gives the nonce in the header; without one the resend would carry the same
    // proof, be refused alike, and present the refresh token a second time (a reuse to some servers).
    const tokens: (string | null)[] = [];
    await using server = await listen(async (request, response) => {
      tokens.push(new URLSearchParams(await readBody(request)).get("refresh_token"));
      sendJson(response, 400, { error: "use_dpop_nonce" });
    });
    const error = await refreshTokenGrant({
      tokenUrl: `${server.url}/token`,
      clientId: "app",
      clientAuthentication: "none",
      fetch: createDPoP().fetch,
    })({
      previous: { accessToken: "a", tokenType: "DPoP", expiresAt: 0, refreshToken: "rt-1", raw: {} },
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ error: "use_dpop_nonce", status: 400 });
    expect(tokens).toEqual(["rt-1"]);
  });

  it("answers a single-use nonce spent by a concurrent token request with the one resend", async () => {
    // Two token requests leave together with the one nonce remembered for the origin; the server
    // spends it on the first and refuses the second (400 use_dpop_nonce, a new nonce), which the grant
    // sends again with the new nonce: neither caller sees the challenge.
    const unspent = new Set<string>();
    let issued = 0;
    const fresh = () => {
      const nonce = `n${++issued}`;
      unspent.add(nonce);
      return nonce;
    };
    const sent: unknown[] = [];
    const waiting: (() => void)[] = [];
    let racing = false;
    await using server = await listen(async (request, response) => {
      const scope = new URLSearchParams(await readBody(request)).get("scope");
      const { nonce } = decodeJwt(String(request.headers.dpop));
      sent.push(nonce);
      // The two racing requests both arrive before either is answered.
      if (racing && waiting.length < 2) {
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          if (waiting.length === 2) for (const go of waiting) go();
        });
      }
      if (typeof nonce !== "string" || !unspent.delete(nonce)) {
        sendJson(response, 400, { error: "use_dpop_nonce" }, { "dpop-nonce": fresh() });
      } else {
        sendJson(
          response,
          200,
          { access_token: `at-${scope}`, token_type: "DPoP", expires_in: 60 },
          {
            "dpop-nonce": fresh(),
          },
        );
      }
    });
    const dpop = createDPoP();
    const creator = clientCredentialsGrant({
      tokenUrl: `${server.url}/token`,
      clientId: "app",
      clientSecret: "s3cret",
      fetch: dpop.fetch,
    });
    await creator({ identity: { scope: "warm" } }); // challenged with n1, sent again: n1 spent, n2 remembered
    expect(sent).toEqual([undefined, "n1"]);
    sent.length = 0;
    racing = true;
    const sets = await Promise.all([
      creator({ identity: { scope: "a" } }),
      creator({ identity: { scope: "b" } }),
    ]);
    expect(sets.map((set) => set.accessToken)).toEqual(["at-a", "at-b"]);
    expect(sent.slice(0, 2)).toEqual(["n2", "n2"]);
    expect(sent).toHaveLength(3); // one resend, with a nonce the server issued after n2
    expect(unspent.has(String(sent[2]))).toBe(false);
  });

  it("keeps the refresh token when the one resend is challenged again: the manager retries it", async () => {
    // Two nonce challenges in a row (a nonce rotated between the answer and the resend): both are
    // the server's refusal of the proof before it looked at the grant, so the refresh token is intact.
    const sent: { token: string | null; nonce: unknown }[] = [];
    await using server = await listen(async (request, response) => {
      const token = new URLSearchParams(await readBody(request)).get("refresh_token");
      sent.push({ token, nonce: decodeJwt(String(request.headers.dpop)).nonce });
      if (sent.length <= 2)
        sendJson(response, 400, { error: "use_dpop_nonce" }, { "dpop-nonce": `n${sent.length}` });
      else sendJson(response, 200, { access_token: "refreshed", token_type: "DPoP", expires_in: 3600 });
    });
    let created = 0;
    const manager = createTokenManager({
      creator: async () => ({
        access_token: `created-${++created}`,
        refresh_token: "rt-1",
        expires_in: 3600,
      }),
      refresher: refreshTokenGrant({
        tokenUrl: `${server.url}/token`,
        clientId: "app",
        clientAuthentication: "none",
        fetch: createDPoP().fetch,
      }),
      random: () => 0, // no backoff between the manager's attempts
    });
    await manager.getToken();
    const set = await manager.getToken({ forceRefresh: true });
    expect(sent).toEqual([
      { token: "rt-1", nonce: undefined },
      { token: "rt-1", nonce: "n1" },
      { token: "rt-1", nonce: "n2" },
    ]);
    expect([set.accessToken, set.refreshToken, created]).toEqual(["refreshed", "rt-1", 1]);
    expect(manager.stats()).toMatchObject({ refreshTokensDropped: 0, retries: 1 });
    await manager.dispose();
  });

  it("createAuthFetch sends Authorization: DPoP with a fresh proof per request (htu without query)", async () => {
    const dpop = createDPoP();
    const manager = createTokenManager({ creator: grant(dpop.fetch) });
    const authFetch = createAuthFetch(manager, { origins: [rs.url], fetch: dpop.fetch });
    const before = rs.seen.length;
    const first = await authFetch(`${rs.url}/orders?page=2#top`);
    const second = await authFetch(`${rs.url}/orders?page=3`, { method: "POST", body: "{}" });
    expect([first.status, second.status]).toEqual([200, 200]);
    const seen = rs.seen.slice(before);
    // The first request met the resource server's nonce challenge; the rest carried the nonce.
    expect(seen.map((entry) => entry.status)).toEqual([401, 200, 200]);
    expect(seen.every((entry) => entry.scheme === "DPoP")).toBe(true);
    // Answered by the proof's nonce retry, not by createAuthFetch's invalidate-and-replay.
    expect(new Set(seen.map((entry) => entry.token)).size).toBe(1);
    expect(seen[2]!.proof).toMatchObject({ htm: "POST", htu: `${rs.url}/orders`, nonce: "rs-nonce-1" });
    expect(new Set(seen.map((entry) => entry.proof!.jti)).size).toBe(3);
    await manager.dispose();
  });

  it("a 401 invalid_token invalidates the token and replays once with a new token and proof", async () => {
    const dpop = createDPoP();
    const manager = createTokenManager({ creator: grant(dpop.fetch) });
    const authFetch = createAuthFetch(manager, { origins: [rs.url], fetch: dpop.fetch });
    expect((await authFetch(`${rs.url}/a`)).status).toBe(200);
    const old = (await manager.getToken()).accessToken;
    rs.revoked.add(old);
    const before = rs.seen.length;
    const response = await authFetch(`${rs.url}/a`);
    expect(response.status).toBe(200);
    const seen = rs.seen.slice(before);
    expect(seen.map((entry) => entry.status)).toEqual([401, 200]);
    expectOtherSecret(seen[1]!.token, old, "the replayed access token");
    expect(seen[1]!.proof!.jti).not.toBe(seen[0]!.proof!.jti);
    await manager.dispose();
  });

  it("keeps the token on a 401 invalid_dpop_proof: the proof was wrong, not the token", async () => {
    const dpop = createDPoP();
    const manager = createTokenManager({ creator: grant(dpop.fetch) });
    const created = () => manager.stats().creatorCalls;
    // Proofs of another key than the token's: the resource server refuses each, invalid_dpop_proof.
    const wrongKey = createDPoP().fetch;
    const authFetch = createAuthFetch(manager, { origins: [rs.url], fetch: wrongKey });
    const token = (await manager.getToken()).accessToken;
    const before = rs.seen.length;
    const response = await authFetch(`${rs.url}/a`);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/invalid_dpop_proof/);
    expect(rs.seen.slice(before).map((entry) => entry.status)).toEqual([401]);
    expect(created()).toBe(1);
    expect((await manager.getToken()).accessToken).toBe(token);
    // ky's hooks follow the same rule.
    const api = ky.create({
      fetch: wrongKey,
      retry: 0,
      hooks: createKyHooks(manager, { origins: [rs.url], fetch: wrongKey }),
    });
    await expect(api.get(`${rs.url}/b`)).rejects.toMatchObject({ response: { status: 401 } });
    expect(created()).toBe(1);
    await manager.dispose();
  });

  it("keeps the token when a nonce challenge outlasts the proof's one retry", async () => {
    const dpop = createDPoP();
    const manager = createTokenManager({ creator: grant(dpop.fetch) });
    const created = () => manager.stats().creatorCalls;
    const authFetch = createAuthFetch(manager, { origins: [rs.url], fetch: dpop.fetch });
    expect((await authFetch(`${rs.url}/warm`)).status).toBe(200);
    rs.nonces.mode = "always";
    try {
      const before = rs.seen.length;
      const response = await authFetch(`${rs.url}/a`);
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/use_dpop_nonce/);
      expect(rs.seen.slice(before).map((entry) => entry.status)).toEqual([401, 401]);
      expect(created()).toBe(1);
    } finally {
      rs.nonces.mode = "fixed";
    }
    expect((await authFetch(`${rs.url}/b`)).status).toBe(200); // the same token, the new nonce
    expect(created()).toBe(1);
    await manager.dispose();
  });

  it("with single-use nonces, concurrent calls may get a 401 use_dpop_nonce, never lose the token", async () => {
    // Every call races for the one nonce remembered for the origin: the first to arrive spends it, and
    // a call whose retry carries a nonce another call spent meanwhile is answered 401 (documented).
    const dpop = createDPoP();
    const manager = createTokenManager({ creator: grant(dpop.fetch) });
    const created = () => manager.stats().creatorCalls;
    const authFetch = createAuthFetch(manager, { origins: [rs.url], fetch: dpop.fetch });
    expect((await authFetch(`${rs.url}/warm`)).status).toBe(200);
    rs.nonces.mode = "single-use";
    try {
      const statuses = await Promise.all(
        Array.from({ length: 8 }, async (_, i) => (await authFetch(`${rs.url}/${i}`)).status),
      );
      expect(statuses).toContain(200);
      expect(statuses.every((status) => status === 200 || status === 401)).toBe(true);
      expect(created()).toBe(1);
      // One call at a time, each answer's nonce serves the next call: no 401 reaches the caller.
      for (let i = 0; i < 3; i++) expect((await authFetch(`${rs.url}/s${i}`)).status).toBe(200);
    } finally {
      rs.nonces.mode = "fixed";
    }
    expect(created()).toBe(1);
    await manager.dispose();
  });

  it("works through ky with createKyHooks, and with a supplied Ed25519 key (EdDSA)", async () => {
    const keyPair = (await crypto.subtle.generateKey({ name: "Ed25519" }, false, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const dpop = createDPoP({ keyPair });
    const manager = createTokenManager({ creator: grant(dpop.fetch) });
    const api = ky.create({
      fetch: dpop.fetch,
      retry: 0,
      hooks: createKyHooks(manager, { origins: [rs.url], fetch: dpop.fetch }),
    });
    const body = await api.get(`${rs.url}/items`).json();
    expect(body).toEqual({ ok: true });
    const set = await manager.getToken();
    expect((decodeJwt(set.accessToken).cnf as { jkt: string }).jkt).toBe(await dpop.thumbprint());
    expect(rs.seen.at(-1)!.proof).toMatchObject({ htm: "GET", htu: `${rs.url}/items` });
    await manager.dispose();
  });

  it("a grant sending through ky gets proofs from a ky instance made with dpop.fetch", async () => {
    const dpop = createDPoP();
    const set = await clientCredentialsGrant({
      issuer: op.issuer,
      clientId: CLIENTS.service.id,
      clientSecret: CLIENTS.service.secret,
      resource: RESOURCE,
      ky: ky.create({ fetch: dpop.fetch }),
    })();
    expect(set.tokenType).toBe("DPoP");
    expect((decodeJwt(set.accessToken).cnf as { jkt: string }).jkt).toBe(await dpop.thumbprint());
  });

  it("adds no proof to Bearer requests or to GETs without a DPoP token", async () => {
    const dpop = createDPoP();
    const headers: (string | null)[] = [];
    const wrapped = dpop.wrap(async (input, init) => {
      headers.push(new Request(input, init).headers.get("dpop"));
      return new Response(null, { status: 204 });
    });
    await wrapped(`${rs.url}/x`, { headers: { authorization: "Bearer abc" } });
    await wrapped(`${rs.url}/.well-known/openid-configuration`);
    await wrapped(`${rs.url}/token`, { method: "POST", body: "grant_type=client_credentials" });
    await wrapped(`${rs.url}/x`, { headers: { authorization: "DPoP abc" } });
    expect(headers.map((header) => header !== null)).toEqual([false, false, true, true]);
    expect(decodeJwt(headers[2]!)).not.toHaveProperty("ath");
    expect(decodeJwt(headers[3]!)).toHaveProperty("ath");
  });

  it("refuses, at first use and for good, a key pair whose halves are two keys of one kind", async () => {
    const generate = async () =>
      (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
        "sign",
        "verify",
      ])) as CryptoKeyPair;
    const [one, two] = [await generate(), await generate()];
    const dpop = createDPoP({ keyPair: { privateKey: one.privateKey, publicKey: two.publicKey } });
    let proofs = 0; // requests that left with a proof (discovery's GETs carry none)
    const counted = dpop.wrap(async (input, init) => {
      if (input instanceof Request && input.headers.has("dpop")) proofs++; // the wrapper sends Requests
      return fetch(input, init);
    });
    const expected = {
      name: "TypeError",
      code: "ERR_TOKENKEEP_INVALID_OPTIONS",
      message: expect.stringMatching(
        /^invalid createDPoP options: keyPair: its public key is not the private key's own half/,
      ),
    };
    // Through a grant and a manager: a permanent options error, not a network failure retried.
    const manager = createTokenManager({ creator: grant(counted) });
    await expect(manager.getToken()).rejects.toMatchObject(expected);
    expect(manager.stats()).toMatchObject({ creatorCalls: 1, retries: 0 });
    await manager.dispose();
    // Through a grant that sends with ky, and straight through the wrapper.
    const viaKy = clientCredentialsGrant({
      issuer: op.issuer,
      clientId: CLIENTS.service.id,
      clientSecret: CLIENTS.service.secret,
      ky: ky.create({ fetch: counted }),
    });
    await expect(viaKy()).rejects.toMatchObject(expected);
    await expect(counted(`${rs.url}/token`, { method: "POST" })).rejects.toMatchObject(expected);
    await expect(dpop.thumbprint()).rejects.toMatchObject(expected);
    expect(proofs).toBe(0); // no request ever left with a proof no server could verify
    // The two halves of one pair pass the same check.
    const good = createDPoP({ keyPair: one });
    expect(await good.thumbprint()).toBe(await calculateJwkThumbprint(await exportJWK(one.publicKey)));
  });

  it("refuses a key pair it cannot sign proofs with or put in them", async () => {
    const keyPair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const hidden = {
      privateKey: keyPair.privateKey,
      publicKey: { ...keyPair.publicKey, extractable: false },
    };
    expect(() => createDPoP({ keyPair: hidden as CryptoKeyPair })).toThrow(
      "keyPair: expected a P-256 ECDSA or Ed25519 CryptoKeyPair whose private key may sign and whose public key, of the same kind, is extractable",
    );
    // Halves of two kinds: an ES256 header over an Ed25519 key no server can verify the proofs with.
    const ed25519 = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    for (const mixed of [
      { privateKey: keyPair.privateKey, publicKey: ed25519.publicKey },
      { privateKey: ed25519.privateKey, publicKey: ed25519.privateKey },
    ]) {
      expect(() => createDPoP({ keyPair: mixed })).toThrow(/keyPair: expected .* of the same kind/);
    }
    // A key that may only verify in the private key's place: refused now, not by Web Crypto on the
    // first request.
    const { publicKey } = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    expect(() => createDPoP({ keyPair: { privateKey: publicKey, publicKey } })).toThrow(
      /keyPair: expected .* whose private key may sign/,
    );
    const rsa = (await crypto.subtle.generateKey(
      { name: "RSA-PSS", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
      false,
      ["sign", "verify"],
    )) as CryptoKeyPair;
    expect(() => createDPoP({ keyPair: rsa })).toThrow(/keyPair: expected a P-256 ECDSA or Ed25519/);
  });
});
