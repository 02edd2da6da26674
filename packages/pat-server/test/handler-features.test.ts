import { randomBytes } from "node:crypto";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { importJWK, SignJWT } from "jose";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import {
  expectNoSecretIn,
  expectSameSecret,
  expectSecretMatches,
} from "../../../test/reliability/src/secret-assert.js";
import type { PatErrorState, PatRecoveryState } from "../src/handler-options";
import { createMemoryStore } from "../src/memory-store";
import { serve } from "../src/node/serve";
import { startPatServer } from "../src/node/start-pat-server";
import {
  createPatGuard,
  type JwksErrorState,
  type JwksRecoveryState,
  type PatGuardOptions,
} from "../src/pat-guard";
import { createPatHandler } from "../src/pat-handler";
import { hashSecret } from "../src/scrypt";
import { generateSigningKey } from "../src/signing-keys";
import { createSqliteStore } from "../src/sqlite/sqlite-store";
import type { PatStore } from "../src/store";
import { PatStoreUnavailableError } from "../src/store-unavailable-error";
import { bootstrapAdminToken, issueToken } from "../src/token-service";

const fast = { scryptLog2Cost: 10 } as const;

function sqlite() {
  const store = createSqliteStore({ path: ":memory:" });
  onTestFinished(() => store.close());
  return store;
}

async function served(handler: Parameters<typeof serve>[0]) {
  const s = await serve(handler);
  onTestFinished(() => s.close());
  return s;
}

describe("rate limit of the exchange", () => {
  it("answers 429 with Retry-After per socket address once the bucket is empty", async () => {
    const store = sqlite();
    const { token } = (await issueToken(store, { owner: "o" }, fast))!;
    // A frozen clock: the bucket refills nothing between the requests, so Retry-After is exactly 30 s.
    const frozen = Date.now();
    const handler = createPatHandler({
      store,
      ...fast,
      rateLimit: { maxRequests: 2, windowMs: 60_000 },
      now: () => frozen,
    });
    const { url } = await served(handler);
    const post = () =>
      fetch(`${url}/auth/token`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect((await post()).status).toBe(200);
    expect((await post()).status).toBe(200);
    const limited = await post();
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("30");
    expect(limited.headers.get("content-type")).toBe("application/json");
    expect(await limited.json()).toEqual({
      error: { message: "Too many requests", code: "ERR_RATE_LIMITED" },
    });
    // Admin routes are not limited.
    expect((await fetch(`${url}/admin/tokens`)).status).toBe(401);
  });

  it("uses getClientAddress when given, so each client has its own bucket", async () => {
    const store = sqlite();
    const handler = createPatHandler({
      store,
      ...fast,
      rateLimit: { maxRequests: 1, windowMs: 60_000 },
      getClientAddress: (request) => request.headers.get("x-test-client") ?? undefined,
    });
    const { url } = await served(handler);
    const post = (client: string) =>
      fetch(`${url}/auth/token`, {
        method: "POST",
        headers: { "x-test-client": client, authorization: "Bearer x" },
      });
    expect((await post("a")).status).toBe(401);
    expect((await post("a")).status).toBe(429);
    expect((await post("b")).status).toBe(401);
  });
  it("takes the client address from the host's context when called directly (Astro-style)", async () => {
    const handler = createPatHandler({
      store: sqlite(),
      ...fast,
      rateLimit: { maxRequests: 1, windowMs: 60_000 },
    });
    const post = (clientAddress: string) =>
      handler(
        new Request("http://app.test/auth/token", { method: "POST", headers: { authorization: "Bearer x" } }),
        {
          clientAddress,
        },
      );
    expect((await post("203.0.113.1")).status).toBe(401);
    expect((await post("203.0.113.1")).status).toBe(429);
    expect((await post("203.0.113.2")).status).toBe(401);
  });
});

describe("JWT lifetime and guards", () => {
  it("issues JWTs of the configured lifetime that admin routes refuse after exp", async () => {
    const store = sqlite();
    let now = Date.now();
    const { token } = (await issueToken(store, { owner: "admin", isAdmin: true }, fast))!;
    const handler = createPatHandler({ store, ...fast, jwtLifetimeSeconds: 5, now: () => now });
    const { url } = await served(handler);
    const exchanged = await fetch(`${url}/auth/token`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    const { access_token, expires_in } = (await exchanged.json()) as {
      access_token: string;
      expires_in: number;
    };
    expect(expires_in).toBe(5);
    const list = () => fetch(`${url}/admin/tokens`, { headers: { authorization: `Bearer ${access_token}` } });
    expect((await list()).status).toBe(200);
    now += 6000;
    const expired = await list();
    expect(expired.status).toBe(401);
    expect(await expired.json()).toEqual({ error: { message: "Invalid JWT", code: "ERR_JWT_EXPIRED" } });
  });

  it("refuses JWTs that are unsigned, forged, of another issuer, without exp or of another typ", async () => {
    const store = sqlite();
    const key = await generateSigningKey({ kid: "k1" });
    const handler = createPatHandler({ store, ...fast, signingKeys: [key] });
    const { url } = await served(handler);
    const { record } = (await issueToken(store, { owner: "admin", isAdmin: true }, fast))!;
    const now = Math.floor(Date.now() / 1000);
    const claims = { owner: "admin", admin: true, roles: [] };
    const sign = async (
      signer: typeof key,
      edit: (jwt: SignJWT) => SignJWT = (jwt) => jwt,
      header: Record<string, string> = { typ: "JWT" },
    ) =>
      edit(
        new SignJWT(claims)
          .setProtectedHeader({ alg: signer.alg, kid: signer.kid, ...header })
          .setSubject(record.tokenId)
          .setIssuer("tokenkeep-pat-server")
          .setIssuedAt(now)
          .setExpirationTime(now + 60),
      ).sign(await importJWK(signer, signer.alg));
    const status = async (jwt: string) =>
      (await fetch(`${url}/admin/tokens`, { headers: { authorization: `Bearer ${jwt}` } })).status;

    expect(await status(await sign(key))).toBe(200); // the control: a well-made JWT passes
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const unsigned = `${b64({ alg: "none", typ: "JWT" })}.${b64({ ...claims, sub: record.tokenId, iss: "tokenkeep-pat-server", iat: now, exp: now + 60 })}.`;
    expect(await status(unsigned)).toBe(401);
    expect(await status(await sign(await generateSigningKey({ kid: "k1" })))).toBe(401);
    expect(await status(await sign(key, (jwt) => jwt.setIssuer("someone-else")))).toBe(401);
    const withoutExp = await new SignJWT(claims)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
      .setSubject(record.tokenId)
      .setIssuer("tokenkeep-pat-server")
      .setIssuedAt(now)
      .sign(await importJWK(key, key.alg));
    expect(await status(withoutExp)).toBe(401);
    expect(await status(await sign(key, undefined, { typ: "at+jwt" }))).toBe(401);
  });

  it("guards the host app's routes by role through handler.authenticate", async () => {
    const store = sqlite();
    const handler = createPatHandler({ store, ...fast });
    const reader = (await issueToken(store, { owner: "r", roles: ["reader"] }, fast))!;
    const { url } = await served(async (request, context) => {
      if (new URL(request.url).pathname !== "/reports") return handler(request, context);
      const auth = await handler.authenticate(request, { role: "reader" });
      return auth.ok ? Response.json({ owner: auth.claims.owner }) : auth.response;
    });
    const jwt = (
      (await (
        await fetch(`${url}/auth/token`, {
          method: "POST",
          headers: { authorization: `Bearer ${reader.token}` },
        })
      ).json()) as { access_token: string }
    ).access_token;
    const ok = await fetch(`${url}/reports`, { headers: { authorization: `Bearer ${jwt}` } });
    expect(await ok.json()).toEqual({ owner: "r" });
    const denied = await handler.authenticate(
      new Request("http://x/", { headers: { authorization: `Bearer ${jwt}` } }),
      {
        role: "writer",
      },
    );
    expect(denied.ok).toBe(false);
    if (!denied.ok) {
      expect(denied.response.status).toBe(403);
      expect(await denied.response.json()).toEqual({ error: { message: "Access denied" } });
    }
    const anonymous = await fetch(`${url}/reports`);
    expect(anonymous.status).toBe(401);
  });
});

describe("createPatGuard", () => {
  it("lets another service verify JWTs through the published JWKS URL", async () => {
    const store = sqlite();
    const handler = createPatHandler({ store, ...fast, issuer: "https://pat.example" });
    const { url } = await served(handler);
    const admin = (await issueToken(store, { owner: "a", isAdmin: true, roles: ["ops"] }, fast))!;
    const user = (await issueToken(store, { owner: "u" }, fast))!;
    const jwtOf = async (token: string) =>
      (
        (await (
          await fetch(`${url}/auth/token`, { method: "POST", headers: { authorization: `Bearer ${token}` } })
        ).json()) as { access_token: string }
      ).access_token;
    const guard = createPatGuard({
      jwks: new URL(`${url}/.well-known/jwks.json`),
      issuer: "https://pat.example",
    });
    const request = (jwt: string) =>
      new Request("http://api.test/", { headers: { authorization: `Bearer ${jwt}` } });
    const ok = await guard.authenticate(request(await jwtOf(admin.token)), { admin: true, role: "ops" });
    expect(ok).toMatchObject({ ok: true, claims: { owner: "a", admin: true, roles: ["ops"] } });
    const notAdmin = await guard.authenticate(request(await jwtOf(user.token)), { admin: true });
    expect(notAdmin.ok ? 200 : notAdmin.response.status).toBe(403);
    const otherIssuer = createPatGuard({ jwks: await handler.jwks(), issuer: "https://elsewhere.example" });
    const refused = await otherIssuer.authenticate(request(await jwtOf(user.token)));
    expect(refused.ok ? 200 : refused.response.status).toBe(401);
  });
});

/**
 * A JWKS server on 127.0.0.1 whose answer the test sets: the handler's keys, a 502 HTML page, or JSON
 * that is no JWKS. `stop()` closes it, so later requests are refused.
 */
async function jwksServer(keys: unknown) {
  let mode: "keys" | "502" | "not-a-jwks" | "hold" = "keys";
  let requests = 0;
  const held = new Set<ServerResponse>();
  const server = createServer((_request, response) => {
    requests += 1;
    if (mode === "hold") {
      held.add(response);
      response.on("close", () => held.delete(response));
    } else if (mode === "502") {
      response.writeHead(502, { "content-type": "text/html" }).end("<html><h1>502 Bad Gateway</h1></html>");
    } else {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(mode === "keys" ? keys : { status: "ok" }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  onTestFinished(async () => {
    if (server.listening) await stop();
  });
  return {
    url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`),
    answer: (next: typeof mode) => {
      mode = next;
    },
    requests: () => requests,
    /** Requests answered nothing yet (mode `hold`), the client still waiting. */
    held: () => held.size,
    stop,
  };
}

/** Lets the event loop run (sockets included) until `done()`, for at most 2 s of real time. */
async function until(done: () => boolean): Promise<void> {
  const deadline = performance.now() + 2_000;
  while (!done()) {
    if (performance.now() > deadline) throw new Error("timed out waiting for a background fetch");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * How many fetches of the JWKS document were started, counted as they start (jose calls the global
 * `fetch` synchronously when it begins one), so that "none was started" needs no wait on real time.
 */
function countFetches(): () => number {
  const spy = vi.spyOn(globalThis, "fetch");
  onTestFinished(() => spy.mockRestore());
  return () => spy.mock.calls.length;
}

describe("createPatGuard when the JWKS cannot be fetched", () => {
  async function setup(options: Partial<PatGuardOptions> = {}) {
    const store = sqlite();
    const handler = createPatHandler({ store, ...fast, rateLimit: false });
    onTestFinished(() => handler.close());
    const { token } = (await issueToken(store, { owner: "u", roles: ["read"] }, fast))!;
    const exchanged = await handler(
      new Request("http://pat.test/auth/token", {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      }),
    );
    const { access_token: jwt } = (await exchanged.json()) as { access_token: string };
    const jwks = await jwksServer(await handler.jwks());
    const failures: unknown[] = [];
    const guard = createPatGuard({
      jwks: jwks.url,
      onError: ({ error }) => failures.push(error),
      ...options,
    });
    const check = async (bearer = jwt) => {
      const result = await guard.authenticate(
        new Request("http://api.test/", { headers: { authorization: `Bearer ${bearer}` } }),
      );
      if (result.ok) return { status: 200 };
      const body = (await result.response.json()) as { error: { code?: string } };
      return {
        status: result.response.status,
        code: body.error.code,
        retryAfter: result.response.headers.get("retry-after"),
      };
    };
    return { jwt, jwks, failures, check };
  }
  const unavailable = { status: 503, code: "ERR_JWKS_UNAVAILABLE", retryAfter: "5" };

  /** A JWT of a signing key the PAT server's JWKS does not hold: finding its `kid` needs a fetch. */
  async function foreignJwt() {
    const otherKey = await generateSigningKey({ kid: "elsewhere" });
    return new SignJWT({ owner: "u", admin: false, roles: [] })
      .setProtectedHeader({ alg: "EdDSA", kid: "elsewhere", typ: "JWT" })
      .setIssuer("tokenkeep-pat-server")
      .setSubject("A".repeat(21))
      .setIssuedAt()
      .setExpirationTime("1h")
      .setJti("B".repeat(21))
      .sign(await importJWK(otherKey, "EdDSA"));
  }

  /** Fakes only Date: jose's cache age and cooldown and the guard's spacing follow it; sockets do not. */
  function fakeDate(): void {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    onTestFinished(() => {
      vi.useRealTimers();
    });
  }

  /** A guard (see `setup`) whose outage reports and recoveries are recorded. */
  async function observedSetup() {
    const reports: JwksErrorState[] = [];
    const recoveries: JwksRecoveryState[] = [];
    const set = await setup({
      onError: (state) => reports.push(state),
      onRecover: (state) => recoveries.push(state),
    });
    return { ...set, reports, recoveries };
  }

  it("reports an outage at its first failure, then once per errorReportIntervalMs, and its end once", async () => {
    fakeDate();
    const { jwks, check, reports, recoveries } = await observedSetup();
    jwks.answer("502");
    for (let n = 0; n < 5; n++) expect(await check()).toEqual(unavailable);
    expect(reports.map(({ failures }) => failures)).toEqual([1]); // the first at once, not one per request
    vi.advanceTimersByTime(59_999);
    expect(await check()).toEqual(unavailable);
    expect(reports).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(await check()).toEqual(unavailable);
    expect(reports.map(({ failures }) => failures)).toEqual([1, 7]);
    expect(recoveries).toEqual([]);

    // The document is back: the outage ends, told once.
    jwks.answer("keys");
    expect(await check()).toEqual({ status: 200 });
    expect(await check()).toEqual({ status: 200 });
    expect(recoveries).toEqual([{ failures: 7, outageMs: 60_000 }]);

    // A new outage, 31 s after the last report: told at once. A token of a known kid is still verified
    // with the cached keys meanwhile, and that does not end the outage; the next fetch that works does.
    vi.advanceTimersByTime(31_000);
    jwks.answer("502");
    const foreign = await foreignJwt();
    expect(await check(foreign)).toEqual(unavailable);
    expect(reports.map(({ failures }) => failures)).toEqual([1, 7, 1]);
    expect(await check()).toEqual({ status: 200 });
    expect(await check(foreign)).toEqual(unavailable);
    expect(reports).toHaveLength(3);
    expect(recoveries).toHaveLength(1);
    jwks.answer("keys");
    expect(await check(foreign)).toMatchObject({ status: 401, code: "ERR_JWKS_NO_MATCHING_KEY" });
    expect(recoveries).toEqual([
      { failures: 7, outageMs: 60_000 },
      { failures: 2, outageMs: 0 },
    ]);
  });

  it("reports the end of an outage within recoveryProbeIntervalMs while only tokens of cached keys arrive", async () => {
    // Without the probe, jose would fetch again only at its cache's expiry (10 minutes after the last
    // fetch) and onRecover would wait until then.
    fakeDate();
    const { jwks, check, reports, recoveries } = await observedSetup();
    const fetches = countFetches();
    expect(await check()).toEqual({ status: 200 }); // the keys are fetched and cached
    expect(jwks.requests()).toBe(1);
    // An outage, found by a token of an unknown kid past jose's 30 s cooldown.
    vi.advanceTimersByTime(31_000);
    jwks.answer("502");
    expect(await check(await foreignJwt())).toEqual(unavailable);
    expect(reports.map(({ failures }) => failures)).toEqual([1]);
    expect(jwks.requests()).toBe(2);
    // Tokens of the cached kid are verified without a fetch; a failed probe fails none and is not told.
    vi.advanceTimersByTime(30_000);
    expect(await check()).toEqual({ status: 200 });
    await until(() => jwks.requests() === 3);
    expect(await check()).toEqual({ status: 200 }); // no second probe within the interval
    expect(fetches()).toBe(3);
    expect(reports).toHaveLength(1);
    // The document is back: no request fails any more, so only a probe can see it.
    jwks.answer("keys");
    vi.advanceTimersByTime(29_999);
    expect(await check()).toEqual({ status: 200 });
    expect(fetches()).toBe(3);
    expect(jwks.requests()).toBe(3);
    expect(recoveries).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(await check()).toEqual({ status: 200 });
    await until(() => recoveries.length > 0);
    expect(recoveries).toEqual([{ failures: 1, outageMs: 60_000 }]);
    expect(jwks.requests()).toBe(4);
    // Over: later requests fetch nothing more and tell nothing more.
    vi.advanceTimersByTime(30_000);
    expect(await check()).toEqual({ status: 200 });
    expect(fetches()).toBe(4);
    expect(jwks.requests()).toBe(4);
    expect(recoveries).toHaveLength(1);
    expect(() => createPatGuard({ jwks: jwks.url, recoveryProbeIntervalMs: -1 })).toThrow(
      expect.objectContaining({ code: "ERR_TOKENKEEP_INVALID_OPTIONS" }),
    );
  });

  it("does not make the request that starts a probe wait for it", async () => {
    fakeDate();
    const { jwks, check } = await setup({ onRecover: () => {} });
    expect(await check()).toEqual({ status: 200 });
    vi.advanceTimersByTime(31_000);
    jwks.answer("502");
    expect(await check(await foreignJwt())).toEqual(unavailable);
    // A PAT server that accepts the connection and answers nothing (jose gives up after 5 s).
    jwks.answer("hold");
    vi.advanceTimersByTime(30_000);
    expect(await check()).toEqual({ status: 200 });
    await until(() => jwks.held() === 1); // the probe is still waiting for its answer
    expect(jwks.requests()).toBe(3);
  });

  it("reports every failure with errorReportIntervalMs 0; a listener that throws changes no answer", async () => {
    const { jwks, failures, check } = await setup({
      errorReportIntervalMs: 0,
      onRecover: () => {
        throw new Error("listener bug");
      },
    });
    jwks.answer("502");
    for (let n = 0; n < 3; n++) expect(await check()).toEqual(unavailable);
    expect(failures).toHaveLength(3);
    jwks.answer("keys");
    expect(await check()).toEqual({ status: 200 });
    expect(() => createPatGuard({ jwks: jwks.url, errorReportIntervalMs: -1 })).toThrow(
      expect.objectContaining({ code: "ERR_TOKENKEEP_INVALID_OPTIONS" }),
    );
  });

  it("an async listener that rejects changes no answer and leaves no unhandled rejection", async () => {
    // On Node an unhandled rejection ends the process: an async onError whose log sink is down must not.
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", record);
    onTestFinished(() => {
      process.off("unhandledRejection", record);
    });
    const { jwks, check } = await setup({
      onError: () => Promise.reject(new Error("log sink down")),
      onRecover: () => Promise.reject(new Error("log sink down")),
    });
    jwks.answer("502");
    expect(await check()).toEqual(unavailable);
    jwks.answer("keys");
    expect(await check()).toEqual({ status: 200 });
    // Rejections are found unhandled once the microtasks have run: one turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
  });

  it("logs one console.error line per outage and one console.info line when it ends, by default", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const infos = vi.spyOn(console, "info").mockImplementation(() => {});
    onTestFinished(() => {
      errors.mockRestore();
      infos.mockRestore();
    });
    const { jwks, check } = await setup({ onError: undefined });
    jwks.answer("502");
    for (let n = 0; n < 4; n++) expect(await check()).toEqual(unavailable);
    expect(errors.mock.calls).toEqual([
      [expect.stringMatching(/^\[tokenkeep\/pat-server\] createPatGuard: JWKS unavailable: /)],
    ]);
    jwks.answer("keys");
    expect(await check()).toEqual({ status: 200 });
    expect(infos.mock.calls).toEqual([
      [expect.stringMatching(/JWKS available again after 4 failed requests over \d+ s$/)],
    ]);
  });

  it("answers 503 with Retry-After, not 401, while the JWKS server answers 502 or no JWKS", async () => {
    const { jwks, failures, check } = await setup();
    jwks.answer("502");
    expect(await check()).toEqual(unavailable);
    jwks.answer("not-a-jwks");
    expect(await check()).toEqual(unavailable);
    expect(failures).toHaveLength(1); // one outage: told once (see below)
    // Back up: the same guard verifies again, and token errors stay 401.
    jwks.answer("keys");
    expect(await check()).toEqual({ status: 200 });
    expect((await check("not.a.jwt")).status).toBe(401);
  });

  it("answers 503 while the JWKS server refuses connections", async () => {
    const { jwks, failures, check } = await setup();
    await jwks.stop();
    expect(await check()).toEqual(unavailable);
    expect(failures).toHaveLength(1);
  });

  it("keeps 401 for token errors: a bad signature, or a kid the JWKS does not hold", async () => {
    const { jwt, jwks, failures, check } = await setup();
    const [header, payload, signature] = jwt.split(".") as [string, string, string];
    const forged = `${header}.${payload}.${signature.slice(0, -4)}AAAA`;
    expect(await check(forged)).toMatchObject({ status: 401 });
    const otherKey = await generateSigningKey({ kid: "elsewhere" });
    const foreign = await new SignJWT({ owner: "u", admin: false, roles: [] })
      .setProtectedHeader({ alg: "EdDSA", kid: "elsewhere", typ: "JWT" })
      .setIssuer("tokenkeep-pat-server")
      .setSubject("A".repeat(21))
      .setIssuedAt()
      .setExpirationTime("1h")
      .setJti("B".repeat(21))
      .sign(await importJWK(otherKey, "EdDSA"));
    expect(await check(foreign)).toMatchObject({ status: 401, code: "ERR_JWKS_NO_MATCHING_KEY" });
    expect(failures).toEqual([]);
    expect(jwks.requests()).toBeGreaterThan(0);
  });
});

describe("bootstrap", () => {
  it("creates one admin token when none is active, and none afterwards", async () => {
    const store = sqlite();
    const first = await bootstrapAdminToken(store, fast);
    expect(first?.record).toMatchObject({ owner: "admin", isAdmin: true });
    expectSecretMatches(first?.token, /^pat_/, "the bootstrap PAT");
    expect(await bootstrapAdminToken(store, fast)).toBeUndefined();
    await store.revoke(first!.record.tokenId, { revokedAt: 1 });
    expect(await bootstrapAdminToken(store, { ...fast, owner: "ops" })).toMatchObject({
      record: { owner: "ops" },
    });
  });

  it("refuses an owner the protocol refuses (empty, over 100 characters, a NUL, a lone surrogate), storing nothing", async () => {
    const store = sqlite();
    for (const owner of ["", "o".repeat(101), "a\u0000b", "a\ud800"]) {
      const refused = await bootstrapAdminToken(store, { ...fast, owner }).catch((error: unknown) => error);
      expect(refused).toMatchObject({ name: "TypeError", code: "ERR_TOKENKEEP_INVALID_OPTIONS" });
      expect((refused as Error).message).toContain("owner");
    }
    expect(await store.count()).toBe(0);
    expect(await bootstrapAdminToken(store, { ...fast, owner: "o".repeat(100) })).toMatchObject({
      record: { owner: "o".repeat(100) },
    });
  });

  it("supports the original's bootstrap through the exchange with a configured PHC", async () => {
    const store = sqlite();
    const secret = randomBytes(32);
    const bootstrapSecretPhc = await hashSecret(secret, { log2Cost: 10 });
    const handler = createPatHandler({ store, ...fast, bootstrapSecretPhc });
    const { url } = await served(handler);
    const pat = `pat_Bootstrap00000000000A.${secret.toString("base64")}`;
    const post = (token: string) =>
      fetch(`${url}/auth/token`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect((await post(`pat_Bootstrap00000000000A.${randomBytes(32).toString("base64")}`)).status).toBe(401);
    expect(await store.count()).toBe(0);
    const response = await post(pat);
    expect(response.status).toBe(200);
    expect(await store.get("Bootstrap00000000000A")).toMatchObject({ owner: "admin", isAdmin: true });
    // With an admin present, another id with the same secret is not stored.
    expect((await post(pat.replace("Bootstrap00000000000A", "Bootstrap00000000000B"))).status).toBe(401);
    expect(await store.count()).toBe(1);
  });
});

describe("onError", () => {
  it("gets a 500's error with method and path; the request (holding the PAT) stays out of logs", async () => {
    const store = sqlite();
    const { token } = (await issueToken(store, { owner: "o" }, fast))!;
    const broken = Object.assign(Object.create(store) as typeof store, {
      get: async () => {
        throw new Error("store down");
      },
    });
    const states: PatErrorState[] = [];
    const handler = createPatHandler({ store: broken, ...fast, onError: (state) => states.push(state) });
    const response = await handler(
      new Request("http://app.test/auth/token?x=1", {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      }),
      { clientAddress: "203.0.113.9" },
    );
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: { message: "Internal server error" } });
    expect(states).toHaveLength(1);
    const [state] = states as [PatErrorState];
    expect(state).toMatchObject({ method: "POST", path: "/auth/token", error: { message: "store down" } });
    expectSameSecret(
      state.request?.headers.get("authorization"),
      `Bearer ${token}`,
      "the authorization header in the error state",
    );
    for (const text of [inspect(state, { depth: 10 }), JSON.stringify(state), String(Object.values(state))]) {
      expectNoSecretIn(text, token.slice(token.indexOf(".") + 1), "the error state");
    }
  });
});

describe("startPatServer", () => {
  it("starts an in-process server with custom paths and prefix, and closes everything", async () => {
    const server = await startPatServer({
      ...fast,
      authPath: "/pat/auth",
      adminPath: "/pat/admin",
      tokenPrefix: "tk_",
    });
    try {
      const { token } = await server.issueToken();
      expect(token.startsWith("tk_")).toBe(true);
      const exchanged = await fetch(`${server.url}/pat/auth/token`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      });
      expect(exchanged.status).toBe(200);
      const { access_token } = (await exchanged.json()) as { access_token: string };
      const listed = await fetch(`${server.url}/pat/admin/tokens`, {
        headers: { authorization: `Bearer ${access_token}` },
      });
      expect(listed.status).toBe(200);
      expect((await fetch(`${server.url}/admin/tokens`)).status).toBe(404);
    } finally {
      await server.close();
    }
    await expect(server.store.count()).rejects.toThrow(/closed/);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});

describe("signing keys", () => {
  it("fails at startup, not per request, when a signing key does not import", async () => {
    const broken = { kty: "OKP", crv: "Ed25519", x: "AAAA", d: "AAAA", kid: "k1", alg: "EdDSA" as const };
    await expect(startPatServer({ signingKeys: [broken] })).rejects.toThrow();
  });

  it("signs with the first key and publishes every key, RS256 included", async () => {
    const rsa = await generateSigningKey({ alg: "RS256", kid: "rsa-new" });
    const ed = await generateSigningKey({ kid: "ed-old" });
    const server = await startPatServer({ ...fast, signingKeys: [rsa, ed] });
    try {
      const { token } = await server.issueToken();
      const response = await fetch(`${server.url}/auth/token`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      });
      const { access_token } = (await response.json()) as { access_token: string };
      const header = JSON.parse(Buffer.from(access_token.split(".")[0]!, "base64url").toString()) as Record<
        string,
        string
      >;
      expect(header).toEqual({ alg: "RS256", kid: "rsa-new", typ: "JWT" });
      const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as {
        keys: Record<string, string>[];
      };
      expect(jwks.keys.map((k) => k.kid)).toEqual(["rsa-new", "ed-old"]);
      for (const key of jwks.keys)
        for (const secret of ["d", "p", "q", "dp", "dq", "qi"]) expect(key).not.toHaveProperty(secret);
    } finally {
      await server.close();
    }
  });
});

describe("the sv claim (secret version)", () => {
  it("is checked only when present: a JWT signed before the claim existed still opens the admin routes", async () => {
    const key = await generateSigningKey();
    const server = await startPatServer({ ...fast, signingKeys: [key] });
    try {
      const { record } = await server.issueToken();
      const nowSeconds = Math.floor(Date.now() / 1000);
      const legacy = await new SignJWT({ owner: "admin", admin: true, roles: [] })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
        .setSubject(record.tokenId)
        .setIssuer("tokenkeep-pat-server")
        .setIssuedAt(nowSeconds)
        .setExpirationTime(nowSeconds + 60)
        .sign(await importJWK(key, key.alg));
      const list = () =>
        fetch(`${server.url}/admin/tokens`, { headers: { authorization: `Bearer ${legacy}` } });
      expect((await list()).status).toBe(200);
      await server.store.revoke(record.tokenId, { revokedAt: nowSeconds });
      expect((await list()).status).toBe(401); // the rest of the recheck still applies
    } finally {
      await server.close();
    }
  });
});

describe("the handler's store outages and requests that outlive them", () => {
  it("a request begun in one outage does not end the next one", async () => {
    // A memory store the test takes down and brings back, and whose next `get` it can hold.
    const memory = createMemoryStore();
    let down = false;
    let held: Promise<void> | undefined;
    let holding = false;
    const store = new Proxy(memory, {
      get(target, key) {
        const value = Reflect.get(target, key) as unknown;
        if (typeof value !== "function") return value;
        return async (...args: unknown[]) => {
          if (key === "get" && held) {
            const gate = held;
            held = undefined; // only this call is held
            holding = true;
            await gate;
          }
          if (down) throw new PatStoreUnavailableError("the store is down (test)");
          return value.apply(target, args);
        };
      },
    }) as PatStore;
    const reports: PatErrorState[] = [];
    const recoveries: PatRecoveryState[] = [];
    const handler = createPatHandler({
      store,
      rateLimit: false,
      ...fast,
      onError: (state) => reports.push(state),
      onRecover: (state) => recoveries.push(state),
      now: () => 1_700_000_000_000, // the whole test within one errorReportIntervalMs
    });
    onTestFinished(() => handler.close());
    // An exchange of a PAT the store does not hold: one `get`, then 401 (503 while the store is down).
    const pat = `pat_${"A".repeat(21)}.${randomBytes(32).toString("base64")}`;
    const exchange = () =>
      handler(
        new Request("http://pat.test/auth/token", {
          method: "POST",
          headers: { authorization: `Bearer ${pat}` },
        }),
      );

    down = true;
    expect((await exchange()).status).toBe(503); // the first outage begins
    let release = () => {};
    held = new Promise<void>((resolve) => {
      release = resolve;
    });
    down = false;
    const slow = exchange(); // begun during the first outage, its `get` held
    await vi.waitFor(() => expect(holding).toBe(true));
    expect((await exchange()).status).toBe(401); // the store answers: the first outage ends
    down = true;
    expect((await exchange()).status).toBe(503); // a second outage begins
    down = false;
    release(); // the slow request's `get` answers now, after the second outage began
    expect((await slow).status).toBe(401);
    down = true;
    expect((await exchange()).status).toBe(503); // still the second outage: not reported again
    expect(recoveries).toHaveLength(1);
    expect(reports.map(({ failures }) => failures)).toEqual([1, 1]);
  });
});
