import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectNoSecretIn, expectSecretMatches } from "../../../test/reliability/src/secret-assert.js";
import { registerSecret } from "../../../test/reliability/src/secret-registry";
import { serve } from "../src/node/serve";
import { createPatHandler } from "../src/pat-handler";
import type { PatStore } from "../src/store";
import { generateToken } from "../src/token-generator";
import { openStore, type StoreKind, startTestServer, storeKindsFor, type TestServer } from "./helpers/server";

/** Exactly, without `; charset=...`: the `@access-tokens` client reads error bodies only then. */
const JSON_TYPE = "application/json";

async function expectError(response: Response, status: number, message?: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe(JSON_TYPE);
  const body = (await response.json()) as { error: { message: string; code?: string } };
  expect(typeof body.error.message).toBe("string");
  if (message !== undefined) expect(body.error.message).toBe(message);
  return body.error;
}

describe.each(storeKindsFor("HTTP tests on PostgreSQL"))("PAT server over HTTP (%s)", (kind: StoreKind) => {
  let server: TestServer;

  beforeEach(async () => {
    server = await startTestServer(kind);
  });
  afterEach(async () => {
    await server.close();
  });

  const exchange = (init: RequestInit) => fetch(`${server.url}/auth/token`, { method: "POST", ...init });

  describe("exchange", () => {
    it("returns a JWT with the protocol's claims, verifiable with the published JWKS", async () => {
      const { token, record } = await server.issue({ owner: "o@example.com", roles: ["reader"] });
      const response = await exchange({
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ grant_type: "client_credentials", client_secret: token, state: "s1" }),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe(JSON_TYPE);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ token_type: "Bearer", expires_in: 3600, state: "s1" });
      const jwt = body.access_token as string;
      const header = decodeProtectedHeader(jwt);
      expect(header).toMatchObject({ alg: "EdDSA", typ: "JWT" });
      const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
      // A private key's "d" (the pattern takes its value too, so a failure hides it).
      expectNoSecretIn(JSON.stringify(jwks), /"d":"?[^"]*/, "the JWKS");
      const { payload } = await jwtVerify(jwt, createLocalJWKSet(jwks), { issuer: "tokenkeep-pat-server" });
      expect(payload).toMatchObject({
        sub: record.tokenId,
        owner: "o@example.com",
        admin: false,
        roles: ["reader"],
      });
      expect(payload.exp! - payload.iat!).toBe(3600);
      expect(payload.jti).toMatch(/^[A-Za-z0-9]{21}$/);
      expect(header.kid).toBe((jwks as { keys: { kid: string }[] }).keys[0]!.kid);
    });

    it("takes the PAT from urlencoded client_secret, Basic and Bearer", async () => {
      const { token } = await server.issue({ owner: "o" });
      const form = await exchange({
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "client_credentials", client_secret: token }).toString(),
      });
      expect(form.status).toBe(200);
      const basic = await exchange({ headers: { authorization: `Basic ${btoa(`id:${token}`)}` } });
      expect(basic.status).toBe(200);
      // RFC 6749 section 2.3.1: an OAuth client (grants' client_secret_basic, the default) form-url-
      // encodes the id and secret before base64, so every PAT's "=" (and any "+" or "/") arrives
      // percent-encoded. A raw PAT never holds "%", so both spellings are one PAT.
      const formEncoded = new URLSearchParams({ s: token }).toString().slice("s=".length);
      expect(formEncoded).toContain("%3D");
      const encodedBasic = await exchange({
        headers: { authorization: `Basic ${btoa(`${encodeURIComponent("my id")}:${formEncoded}`)}` },
      });
      expect(encodedBasic.status).toBe(200);
      const uriEncodedBasic = await exchange({
        headers: { authorization: `Basic ${btoa(`id:${encodeURIComponent(token)}`)}` },
      });
      expect(uriEncodedBasic.status).toBe(200);
      const bearer = await exchange({ headers: { authorization: `Bearer ${token}` } });
      expect(bearer.status).toBe(200);
      const emptySecret = await exchange({
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ client_secret: "" }),
      });
      expect(emptySecret.status).toBe(200);
    });

    it("answers the same 401 for every invalid PAT and records nothing", async () => {
      const { token, record } = await server.issue({ owner: "o" });
      const expired = await server.issue({ owner: "o", expiresAt: Math.floor(Date.now() / 1000) });
      const revoked = await server.issue({ owner: "o" });
      await server.store.revoke(revoked.record.tokenId, { revokedAt: 1 });
      const other = await generateToken({ scryptLog2Cost: 10 });
      const wrongSecret = `${token.slice(0, token.indexOf(".") + 1)}${other.token.slice(other.token.indexOf(".") + 1)}`;
      for (const bad of [
        wrongSecret,
        expired.token,
        revoked.token,
        other.token,
        "pat_nope",
        token.replace("pat_", "tok_"),
      ]) {
        const error = await expectError(await exchange({ headers: { authorization: `Bearer ${bad}` } }), 401);
        expect(error.message).toBe("Invalid Authorization token");
      }
      await server.handler.flush();
      expect((await server.store.get(record.tokenId))?.lastUsedAt).toBeNull();
    });

    it("rejects other grant types, missing credentials and Basic without a colon", async () => {
      const json = { "content-type": "application/json" };
      await expectError(
        await exchange({
          headers: json,
          body: JSON.stringify({ grant_type: "password", client_secret: "x" }),
        }),
        400,
        "Unsupported grant_type",
      );
      await expectError(await exchange({}), 400);
      await expectError(
        await exchange({ headers: { authorization: `Basic ${btoa("no-colon")}` } }),
        401,
        "Invalid Basic authentication format",
      );
    });

    it("coalesces lastUsedAt writes into one batch per window", async () => {
      const writes: number[] = [];
      const { store, cleanup } = openStore(kind);
      const counting: PatStore = Object.assign(Object.create(store) as PatStore, {
        recordUsage: async (entries: Parameters<PatStore["recordUsage"]>[0]) => {
          writes.push(entries.length);
          return store.recordUsage(entries);
        },
      });
      const handler = createPatHandler({ store: counting, scryptLog2Cost: 10, lastUsedFlushMs: 60_000 });
      const served = await serve(handler);
      try {
        const a = await server.issue({ owner: "a" });
        const tokens = [a];
        for (const t of tokens) await store.insert({ ...(await server.store.get(t.record.tokenId))! });
        for (let i = 0; i < 5; i++) {
          const r = await fetch(`${served.url}/auth/token`, {
            method: "POST",
            headers: { authorization: `Bearer ${a.token}` },
          });
          expect(r.status).toBe(200);
        }
        expect(writes).toEqual([]);
        expect((await store.get(a.record.tokenId))?.lastUsedAt).toBeNull();
        await handler.close();
        expect(writes).toEqual([1]);
        expect((await store.get(a.record.tokenId))?.lastUsedAt).toBeGreaterThan(0);
      } finally {
        await served.close();
        await store.close();
        await cleanup();
      }
    });
  });

  describe("admin routes", () => {
    it("issues (201), lists, registers, updates, revokes and restores", async () => {
      const issued = await server.admin("/admin/tokens", {
        method: "POST",
        json: { owner: "user@example.com", roles: ["b", "a", "b"], expiresAt: 4_000_000_000 },
      });
      expect(issued.status).toBe(201);
      expect(issued.headers.get("content-type")).toBe(JSON_TYPE);
      const { token, record } = (await issued.json()) as { token: string; record: Record<string, unknown> };
      expectSecretMatches(token, /^pat_[A-Za-z0-9]{21}\.[A-Za-z0-9+/]{43}=$/, "the issued PAT");
      expect(record).toEqual({
        tokenId: token.slice(4, 25),
        owner: "user@example.com",
        isAdmin: false,
        roles: ["a", "b"],
        createdAt: expect.any(Number),
        lastUsedAt: null,
        expiresAt: 4_000_000_000,
        revokedAt: null,
      });
      const tokenId = record.tokenId as string;
      expect((await server.jwtFor(token)).length).toBeGreaterThan(0);

      const pre = await generateToken({ scryptLog2Cost: 10 });
      const registered = await server.admin(`/admin/tokens/${pre.tokenId}`, {
        method: "PUT",
        json: { secretPhc: pre.secretPhc, owner: "pre", isAdmin: false },
      });
      expect(registered.status).toBe(200);
      expect(((await registered.json()) as { record: { tokenId: string } }).record.tokenId).toBe(pre.tokenId);
      expect((await server.jwtFor(pre.token)).length).toBeGreaterThan(0);

      const patched = await server.admin(`/admin/tokens/${tokenId}`, {
        method: "PATCH",
        json: { owner: "new@example.com", roles: { add: ["c"] }, expiresAt: null },
      });
      expect(patched.status).toBe(204);
      expect(await patched.text()).toBe("");
      expect(await server.store.get(tokenId)).toMatchObject({
        owner: "new@example.com",
        roles: ["a", "b", "c"],
        expiresAt: null,
      });

      await server.admin(`/admin/tokens/${tokenId}`, { method: "PATCH", json: { expiresAt: 4_100_000_000 } });
      expect(
        (await server.admin(`/admin/tokens/${tokenId}/revoke`, { method: "PUT", json: {} })).status,
      ).toBe(204);
      expect(
        (await server.admin(`/admin/tokens/${tokenId}/revoke`, { method: "PUT", json: {} })).status,
      ).toBe(204);
      await expectError(await exchange({ headers: { authorization: `Bearer ${token}` } }), 401);
      expect(await server.store.get(tokenId)).toMatchObject({
        expiresAt: 4_100_000_000,
        revokedAt: expect.any(Number),
      });

      const listed = await server.admin("/admin/tokens");
      expect(
        ((await listed.json()) as { records: { tokenId: string }[] }).records.map((r) => r.tokenId),
      ).not.toContain(tokenId);
      const withRevoked = await server.admin("/admin/tokens?includeRevoked=true");
      expect(
        ((await withRevoked.json()) as { records: { tokenId: string }[] }).records.map((r) => r.tokenId),
      ).toContain(tokenId);

      expect((await server.admin(`/admin/tokens/${tokenId}/restore`, { method: "PUT" })).status).toBe(204);
      expect(await server.store.get(tokenId)).toMatchObject({ expiresAt: 4_100_000_000, revokedAt: null });
      expect((await server.jwtFor(token)).length).toBeGreaterThan(0);
    });

    it("answers 404 for unknown ids and 409 for existing ones", async () => {
      const { record } = await server.issue({ owner: "o" });
      const unknown = "AAAAAAAAAAAAAAAAAAAAA";
      await expectError(
        await server.admin(`/admin/tokens/${unknown}`, { method: "PATCH", json: { owner: "x" } }),
        404,
        "Token not found",
      );
      await expectError(
        await server.admin(`/admin/tokens/${unknown}/revoke`, { method: "PUT", json: {} }),
        404,
      );
      await expectError(await server.admin(`/admin/tokens/${unknown}/restore`, { method: "PUT" }), 404);
      const pre = await generateToken({ scryptLog2Cost: 10 });
      await expectError(
        await server.admin(`/admin/tokens/${record.tokenId}`, {
          method: "PUT",
          json: { secretPhc: pre.secretPhc, owner: "x" },
        }),
        409,
        "Token already exists",
      );
      await expectError(
        await server.admin("/admin/tokens", {
          method: "POST",
          json: { tokenId: record.tokenId, owner: "x" },
        }),
        409,
      );
    });

    it("pages after filtering, with a cursor, and filters by role", async () => {
      for (let i = 0; i < 7; i++) {
        const { record } = await server.issue({ owner: `u${i}`, roles: i % 2 ? ["odd"] : [] });
        if (i % 3 === 0) await server.store.revoke(record.tokenId, { revokedAt: 1 });
      }
      const seen: string[] = [];
      let cursor: string | null | undefined;
      let pages = 0;
      do {
        const query = new URLSearchParams({ limit: "2", ...(cursor && { afterTokenId: cursor }) });
        const body = (await (await server.admin(`/admin/tokens?${query}`)).json()) as {
          records: { tokenId: string }[];
          nextAfterTokenId: string | null;
        };
        expect(body.records.length).toBeLessThanOrEqual(2);
        seen.push(...body.records.map((r) => r.tokenId));
        cursor = body.nextAfterTokenId;
        pages++;
      } while (cursor);
      // admin + 7 issued - 3 revoked
      expect(seen).toHaveLength(5);
      expect([...seen].sort()).toEqual(seen);
      expect(pages).toBe(3);
      const odd = (await (await server.admin("/admin/tokens?hasRole=odd&includeRevoked=1")).json()) as {
        records: unknown[];
      };
      expect(odd.records).toHaveLength(3);
    });

    it("returns secret hashes only when asked, and loads batches", async () => {
      const { record } = await server.issue({ owner: "o" });
      const plain = (await (await server.admin("/admin/tokens")).json()) as {
        records: Record<string, unknown>[];
      };
      expect(plain.records.every((r) => !("secretPhc" in r))).toBe(true);
      const withHash = (await (await server.admin("/admin/tokens?includeSecretPhc=true")).json()) as {
        records: { secretPhc: string }[];
      };
      expect(withHash.records[0]!.secretPhc).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/);
      const batch = await server.admin("/admin/tokens/batch", {
        method: "POST",
        json: { tokenIds: [record.tokenId, "AAAAAAAAAAAAAAAAAAAAA", "not-an-id", record.tokenId] },
      });
      expect(batch.status).toBe(200);
      const body = (await batch.json()) as { found: { tokenId: string }[]; notFound: string[] };
      expect(body.found.map((r) => r.tokenId)).toEqual([record.tokenId]);
      expect(body.notFound).toEqual(["AAAAAAAAAAAAAAAAAAAAA", "not-an-id"]);
    });

    it("requires an admin JWT", async () => {
      await expectError(
        await fetch(`${server.url}/admin/tokens`),
        401,
        "Missing or invalid Authorization header",
      );
      const invalid = await expectError(
        await fetch(`${server.url}/admin/tokens`, { headers: { authorization: "Bearer not.a.jwt" } }),
        401,
        "Invalid JWT",
      );
      expect(invalid.code).toMatch(/^ERR_/);
      const { token } = await server.issue({ owner: "user" });
      const userJwt = await server.jwtFor(token);
      await expectError(
        await fetch(`${server.url}/admin/tokens`, { headers: { authorization: `Bearer ${userJwt}` } }),
        403,
        "Admin access required",
      );
      // A PAT is not a JWT: sending it to an admin route is refused.
      await expectError(
        await fetch(`${server.url}/admin/tokens`, {
          headers: { authorization: `Bearer ${server.adminToken}` },
        }),
        401,
        "Invalid JWT",
      );
    });

    it("refuses the JWT of an admin token revoked since (recheck), and accepts it when recheck is off", async () => {
      const second = await server.issue({ owner: "admin2", isAdmin: true });
      const jwt = await server.jwtFor(second.token);
      await server.store.revoke(second.record.tokenId, { revokedAt: 1 });
      const error = await expectError(
        await fetch(`${server.url}/admin/tokens`, { headers: { authorization: `Bearer ${jwt}` } }),
        401,
        "Invalid JWT",
      );
      expect(error.code).toBe("ERR_TOKEN_INACTIVE");
      // handler.authenticate() for the host app's own admin routes: the same check, the same answer.
      const guarded = await server.handler.authenticate(
        new Request(`${server.url}/mine`, { headers: { authorization: `Bearer ${jwt}` } }),
        { admin: true },
      );
      expect(guarded.ok).toBe(false);
      if (!guarded.ok) expect(await expectError(guarded.response, 401, "Invalid JWT")).toMatchObject(error);

      // Demoted since: 403 on the admin routes and from handler.authenticate() alike.
      const third = await server.issue({ owner: "admin4", isAdmin: true });
      const demotedJwt = await server.jwtFor(third.token);
      await server.store.update(third.record.tokenId, { isAdmin: false });
      const demoted = new Request(`${server.url}/mine`, {
        headers: { authorization: `Bearer ${demotedJwt}` },
      });
      await expectError(await fetch(`${server.url}/admin/tokens`, { headers: demoted.headers }), 403);
      const demotedGuard = await server.handler.authenticate(demoted, { admin: true });
      if (demotedGuard.ok) throw new Error("expected the demoted token's JWT to be refused");
      await expectError(demotedGuard.response, 403, "Admin access required");

      const trusting = await startTestServer(kind, { recheckAdminTokens: false });
      try {
        const admin = await trusting.issue({ owner: "admin3", isAdmin: true });
        const trustedJwt = await trusting.jwtFor(admin.token);
        await trusting.store.revoke(admin.record.tokenId, { revokedAt: 1 });
        const headers = { authorization: `Bearer ${trustedJwt}` };
        const response = await fetch(`${trusting.url}/admin/tokens`, { headers });
        expect(response.status).toBe(200);
        const trusted = await trusting.handler.authenticate(
          new Request(`${trusting.url}/mine`, { headers }),
          {
            admin: true,
          },
        );
        expect(trusted.ok).toBe(true);
      } finally {
        await trusting.close();
      }
    });

    it("refuses the JWT of an admin token whose secret was replaced since (recheck), as a revoked one", async () => {
      const admin = await server.issue({ owner: "admin5", isAdmin: true });
      const oldJwt = await server.jwtFor(admin.token);
      const headers = { authorization: `Bearer ${oldJwt}` };
      expect((await fetch(`${server.url}/admin/tokens`, { headers })).status).toBe(200);
      // The secret is rotated (say it leaked): the old PAT stops exchanging, and a JWT minted from it
      // stops opening the admin routes too, instead of lasting until its exp.
      const rotated = await generateToken({ tokenId: admin.record.tokenId, scryptLog2Cost: 10 });
      registerSecret(rotated.token, "PAT");
      const patched = await server.admin(`/admin/tokens/${admin.record.tokenId}`, {
        method: "PATCH",
        json: { secretPhc: rotated.secretPhc },
      });
      expect(patched.status).toBe(204);
      const error = await expectError(
        await fetch(`${server.url}/admin/tokens`, { headers }),
        401,
        "Invalid JWT",
      );
      expect(error.code).toBe("ERR_TOKEN_INACTIVE");
      const guarded = await server.handler.authenticate(new Request(`${server.url}/mine`, { headers }), {
        admin: true,
      });
      expect(guarded.ok).toBe(false);
      const newJwt = await server.jwtFor(rotated.token);
      const fresh = await fetch(`${server.url}/admin/tokens`, {
        headers: { authorization: `Bearer ${newJwt}` },
      });
      expect(fresh.status).toBe(200);
    });

    it("checks a role against the record too when it rechecks an admin JWT (a role removed since is refused)", async () => {
      const admin = await server.issue({ owner: "admin6", isAdmin: true, roles: ["ops"] });
      const headers = { authorization: `Bearer ${await server.jwtFor(admin.token)}` };
      const check = () =>
        server.handler.authenticate(new Request(`${server.url}/mine`, { headers }), {
          admin: true,
          role: "ops",
        });
      expect((await check()).ok).toBe(true);
      await server.store.update(admin.record.tokenId, { roles: { remove: ["ops"] } });
      const refused = await check();
      if (refused.ok) throw new Error("expected the JWT of a token that lost its role to be refused");
      await expectError(refused.response, 403, "Access denied");
    });

    it("answers JSON 404 and 405 for unknown routes and methods", async () => {
      await expectError(await fetch(`${server.url}/nope`), 404, "Not found");
      const wrong = await server.admin("/admin/tokens", { method: "DELETE" });
      await expectError(wrong, 405);
      expect(wrong.headers.get("allow")).toBe("GET, POST");
      await expectError(await fetch(`${server.url}/auth/token`), 405);
    });
  });

  it("serves a health route", async () => {
    const response = await fetch(`${server.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });
});

describe("handler options", () => {
  it("rejects bad options with a TypeError listing path: message", () => {
    const { store } = openStore("sqlite");
    try {
      createPatHandler({ store, jwtLifetimeSeconds: -1, adminPath: "admin" });
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ name: "TypeError", code: "ERR_TOKENKEEP_INVALID_OPTIONS" });
      expect((error as Error).cause).toEqual([
        expect.stringMatching(/^jwtLifetimeSeconds: /),
        expect.stringMatching(/^adminPath: /),
      ]);
    } finally {
      void store.close();
    }
  });

  it("rejects a misspelt option and a delay no timer can wait, naming the nearest known option", () => {
    const { store } = openStore("sqlite");
    try {
      createPatHandler({
        store,
        lastUsedFlushMs: 3e9,
        verifierCache: { ttlMs: 3e9 },
        rateLimt: false,
      } as never);
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ name: "TypeError", code: "ERR_TOKENKEEP_INVALID_OPTIONS" });
      expect((error as Error).cause).toEqual(
        expect.arrayContaining([
          "(options): unknown option `rateLimt` - did you mean `rateLimit`?",
          expect.stringMatching(/^lastUsedFlushMs: /),
          expect.stringMatching(/^verifierCache\.ttlMs: /),
        ]),
      );
    } finally {
      void store.close();
    }
  });
});
