/**
 * The two upstream modes against real servers on 127.0.0.1: a custom-endpoint API (hand-written: no
 * off-the-shelf server has astro-tokenkit's endpoint shape) and oidc-provider for OAuth.
 */
import type { IncomingMessage } from "node:http";
import { isOAuthError, isTokenkeepError, type TokenSet } from "@tokenkeep/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectNoSecretIn, expectOtherSecret } from "../../../test/reliability/src/secret-assert.js";
import { listen, type RunningServer, readBody, sendJson } from "../../grants/test/fixtures/http.js";
import {
  CLIENTS,
  type OidcProviderServer,
  startOidcProvider,
  USERS,
} from "../../grants/test/fixtures/oidc-provider.js";
import { failure } from "../../grants/test/fixtures/rejection.js";
import { type EndpointsUpstreamOptions, parseConfig, type Upstream } from "../src/config/schema.js";
import { createSessionRotation } from "../src/rotation.js";
import { SESSION_PAYLOAD_KEY } from "../src/session.js";
import { resolveUpstream } from "../src/upstream/index.js";
import { watchLimitTimers } from "./helpers/limit-timers.js";

interface Seen {
  path: string;
  contentType: string | undefined;
  authorization: string | undefined;
  tenant: string | undefined;
  body: Record<string, unknown>;
}

let api: RunningServer;
const seen: Seen[] = [];
/** What the API answers next, by path. */
const answers = new Map<
  string,
  { status: number; body: unknown; raw?: string; breakOff?: boolean; stall?: "headers" | "body" }
>();

beforeAll(async () => {
  api = await listen(async (request: IncomingMessage, response) => {
    const text = await readBody(request);
    const contentType = request.headers["content-type"];
    const body = contentType?.includes("json")
      ? (JSON.parse(text) as Record<string, unknown>)
      : Object.fromEntries(new URLSearchParams(text));
    const path = new URL(request.url ?? "/", "http://x").pathname;
    seen.push({
      path,
      contentType,
      authorization: request.headers.authorization,
      tenant: request.headers["x-tenant"] as string | undefined,
      body,
    });
    const answer = answers.get(path) ?? { status: 404, body: { error: "not_found" } };
    // Never answers (`headers`), or sends its headers and part of the body, then nothing more
    // (`body`); the server's close ends the connection.
    if (answer.stall === "headers") return;
    if (answer.stall === "body") {
      response.writeHead(answer.status, { "content-type": "application/json", "content-length": "100" });
      response.write('{"access_token":');
      return;
    }
    if (answer.breakOff === true) {
      // Headers and part of the body, then the connection breaks off.
      response.writeHead(answer.status, { "content-type": "application/json", "content-length": "100" });
      response.write('{"active":');
      setTimeout(() => response.socket?.destroy(), 10);
      return;
    }
    if (answer.raw !== undefined) {
      response.writeHead(answer.status, { "content-type": "text/html" });
      response.end(answer.raw);
      return;
    }
    sendJson(response, answer.status, answer.body);
  });
});

afterAll(async () => {
  await api?.close();
});

function endpoints(options: Partial<EndpointsUpstreamOptions> = {}): Upstream {
  const config = parseConfig({
    upstream: {
      endpoints: { baseURL: `${api.url}/api`, login: "/auth/login", refresh: "/auth/refresh", ...options },
    },
  });
  return resolveUpstream(config.upstream);
}

const previous: TokenSet = {
  accessToken: "old-at",
  tokenType: "Bearer",
  expiresAt: 0,
  refreshToken: "old-rt",
  raw: {},
};
const refresh = (upstream: Upstream) =>
  upstream.refresh({ refreshToken: "old-rt", previous, signal: new AbortController().signal });

describe("custom endpoints", () => {
  it("login: JSON body with loginData and headers; answer read through dotted paths", async () => {
    answers.set("/api/auth/login", {
      status: 200,
      body: { data: { tokens: { access: "at-1", refresh: "rt-1", ttl: 900 }, profile: { name: "Alice" } } },
    });
    const upstream = endpoints({
      headers: { "x-tenant": "lynx" },
      loginData: { remember: true, tenant: "lynx" },
      fields: {
        accessToken: "data.tokens.access",
        refreshToken: "data.tokens.refresh",
        expiresIn: "data.tokens.ttl",
        sessionPayload: "data.profile",
      },
    });
    const before = Date.now();
    // A posted field of a configured name (the injected route passes on every field) does not win.
    const set = await upstream.signIn({ username: "alice", password: "pw", tenant: "other" }, {});
    expect(seen.at(-1)).toMatchObject({
      path: "/api/auth/login",
      contentType: "application/json",
      tenant: "lynx",
      body: { remember: true, tenant: "lynx", username: "alice", password: "pw" },
    });
    expect(set).toMatchObject({ accessToken: "at-1", refreshToken: "rt-1", tokenType: "Bearer" });
    expect(set.expiresAt).toBeGreaterThanOrEqual(before + 900_000);
    expect(set.expiresAt).toBeLessThanOrEqual(Date.now() + 900_000);
    expect(set.raw[SESSION_PAYLOAD_KEY]).toEqual({ name: "Alice" });
  });

  it("refresh: form body, the refresh-token field's name and refreshData; expiresAt in seconds or ISO", async () => {
    answers.set("/api/auth/refresh", {
      status: 200,
      body: { access_token: "at-2", refresh_token: "rt-2", expires_at: 1_900_000_000 },
    });
    const upstream = endpoints({
      contentType: "application/x-www-form-urlencoded",
      refreshRequestField: "token",
      refreshData: { client: "web" },
    });
    const set = await refresh(upstream);
    expect(seen.at(-1)).toMatchObject({
      contentType: "application/x-www-form-urlencoded",
      body: { client: "web", token: "old-rt" },
    });
    expect(set).toMatchObject({ accessToken: "at-2", refreshToken: "rt-2", expiresAt: 1_900_000_000_000 });

    answers.set("/api/auth/refresh", {
      status: 200,
      body: { accessToken: "at-3", expiresAt: "2030-01-01T00:00:00Z" },
    });
    const kept = await refresh(endpoints());
    expect(kept).toMatchObject({
      accessToken: "at-3",
      refreshToken: "old-rt",
      expiresAt: Date.parse("2030-01-01T00:00:00Z"),
    });
  });

  it("parser functions win over the mapping", async () => {
    answers.set("/api/auth/refresh", { status: 200, body: { weird: ["at-4", "rt-4", 60] } });
    const upstream = endpoints({
      parseRefresh: (body) => {
        const [accessToken, refreshToken, expiresIn] = (body as { weird: [string, string, number] }).weird;
        return { accessToken, refreshToken, expiresIn, sessionPayload: { parsed: true } };
      },
    });
    const set = await refresh(upstream);
    expect(set).toMatchObject({
      accessToken: "at-4",
      refreshToken: "rt-4",
      raw: { [SESSION_PAYLOAD_KEY]: { parsed: true } },
    });
  });

  it("parseLogin reads the login answer; tokenType and expiresAt map through dotted paths", async () => {
    answers.set("/api/auth/login", { status: 200, body: { odd: { a: "at-5", r: "rt-5" } } });
    const signedIn = await endpoints({
      parseLogin: (body) => {
        const { odd } = body as { odd: { a: string; r: string } };
        return {
          accessToken: odd.a,
          refreshToken: odd.r,
          tokenType: "DPoP",
          sessionPayload: { via: "parseLogin" },
        };
      },
    }).signIn({ username: "alice", password: "pw" }, {});
    expect(signedIn).toMatchObject({
      accessToken: "at-5",
      refreshToken: "rt-5",
      tokenType: "DPoP",
      raw: { [SESSION_PAYLOAD_KEY]: { via: "parseLogin" } },
    });

    answers.set("/api/auth/refresh", {
      status: 200,
      body: { auth: { jwt: "at-6", kind: "MAC", until: "2030-01-01T00:00:00Z" } },
    });
    const mapped = await refresh(
      endpoints({ fields: { accessToken: "auth.jwt", tokenType: "auth.kind", expiresAt: "auth.until" } }),
    );
    expect(mapped).toMatchObject({
      accessToken: "at-6",
      tokenType: "MAC",
      expiresAt: Date.parse("2030-01-01T00:00:00Z"),
      refreshToken: "old-rt",
    });
  });

  it("a rejected refresh (400/401/403) is a permanent invalid_grant; 5xx and HTML are transient", async () => {
    answers.set("/api/auth/refresh", { status: 401, body: { message: "expired" } });
    const rejected = await failure(refresh(endpoints()));
    expect(isOAuthError(rejected) && rejected.error === "invalid_grant" && !rejected.transient).toBe(true);
    // Whatever the API calls it (NestJS: "Unauthorized"), a refused refresh ends the session.
    answers.set("/api/auth/refresh", { status: 401, body: { error: "Unauthorized", statusCode: 401 } });
    const named = await failure(refresh(endpoints()));
    expect(named).toMatchObject({
      error: "invalid_grant",
      errorDescription: "Unauthorized",
      transient: false,
    });

    answers.set("/api/auth/refresh", { status: 503, body: {} });
    const unavailable = await failure(refresh(endpoints()));
    expect(isTokenkeepError(unavailable) && unavailable.transient).toBe(true);

    answers.set("/api/auth/refresh", { status: 200, body: null, raw: "<html>proxy</html>" });
    const html = await failure(refresh(endpoints()));
    expect(isTokenkeepError(html) && html.transient).toBe(true);
  });

  it("an answer without an access token names the field, never a value", async () => {
    answers.set("/api/auth/refresh", { status: 200, body: { refreshToken: "rt-secret-9" } });
    const error = await failure(refresh(endpoints()));
    expect(String((error as Error).message)).toMatch(/accessToken/);
    expectNoSecretIn(JSON.stringify(error), "rt-secret-9", "the error's JSON");
  });

  it("logout posts the refresh token with the access token as bearer", async () => {
    answers.set("/api/auth/logout", { status: 204, body: {} });
    const upstream = endpoints({ logout: "/auth/logout" });
    await upstream.signOut?.({ accessToken: "at-9", refreshToken: "rt-9" });
    expect(seen.at(-1)).toMatchObject({
      path: "/api/auth/logout",
      authorization: "Bearer at-9",
      body: { refreshToken: "rt-9" },
    });
    expect(endpoints().signOut).toBeUndefined();
  });

  it("introspect posts the refresh token and reads active; anything else is 'cannot tell' (a throw, transient for what may answer later)", async () => {
    const upstream = endpoints({ introspect: "/auth/introspect", refreshRequestField: "token" });
    const ask = () =>
      upstream.isRefreshTokenActive!({
        refreshToken: "rt-7",
        previous,
        signal: new AbortController().signal,
      });
    answers.set("/api/auth/introspect", { status: 200, body: { active: true } });
    await expect(ask()).resolves.toBe(true);
    expect(seen.at(-1)).toMatchObject({ path: "/api/auth/introspect", body: { token: "rt-7" } });
    answers.set("/api/auth/introspect", { status: 200, body: { active: false } });
    await expect(ask()).resolves.toBe(false);
    for (const [answer, transient] of [
      [{ status: 200, body: { active: "yes" } }, false],
      [{ status: 200, body: {} }, false],
      [{ status: 401, body: { error: "invalid_client" } }, false],
      [{ status: 404, body: {} }, false],
      [{ status: 200, body: null, raw: "<html>proxy</html>" }, true],
      [{ status: 200, body: null, breakOff: true }, true],
      [{ status: 502, body: {} }, true],
      [{ status: 503, body: {} }, true],
      [{ status: 429, body: {} }, true],
    ] as const) {
      answers.set("/api/auth/introspect", answer);
      const error = await failure(ask());
      expect([answer.status, isTokenkeepError(error) && error.transient]).toEqual([answer.status, transient]);
      expectNoSecretIn(JSON.stringify(error), "rt-7", "the error's JSON");
    }
    answers.set("/api/auth/introspect", { status: 200, body: { active: true } });
    const throwing = endpoints({
      introspect: "/auth/introspect",
      parseIntrospect: () => {
        throw new Error("parser bug");
      },
    });
    const parserError = await failure(
      throwing.isRefreshTokenActive!({
        refreshToken: "rt-7",
        previous,
        signal: new AbortController().signal,
      }),
    );
    expect(isTokenkeepError(parserError) && parserError.transient).toBe(false);
    // Another shape through parseIntrospect; no hook without introspect.
    answers.set("/api/auth/introspect", { status: 200, body: { state: "live" } });
    const parsed = endpoints({
      introspect: "/auth/introspect",
      parseIntrospect: (body) => (body as { state: string }).state === "live",
    });
    await expect(
      parsed.isRefreshTokenActive!({ refreshToken: "rt-7", previous, signal: new AbortController().signal }),
    ).resolves.toBe(true);
    expect(endpoints().isRefreshTokenActive).toBeUndefined();
    expect(() => endpoints({ parseIntrospect: () => true })).toThrow(/parseIntrospect: needs introspect/);
  });

  it("each request's time limit is one timer, cleared once its answer was read, a failure's included: none is left pending", async () => {
    // The upstream's limit timers, told apart from the runtime's own (undici's) by their length.
    const LIMIT_MS = 43_219;
    using timers = watchLimitTimers(LIMIT_MS);
    /** Limit timers pending as each request goes out, and once its call settled. */
    const pendingAtSend: number[] = [];
    const pendingAfter: number[] = [];
    const upstream = endpoints({
      timeoutMs: LIMIT_MS,
      introspect: "/auth/introspect",
      logout: "/auth/logout",
      fetch: (input, init) => {
        pendingAtSend.push(timers.pending());
        return globalThis.fetch(input, init);
      },
    });
    const settled = async (call: Promise<unknown>) => {
      await call.catch(() => {});
      pendingAfter.push(timers.pending());
    };
    const tokens = { access_token: "at-1", refresh_token: "rt-1", expires_in: 60 };
    answers.set("/api/auth/login", { status: 200, body: tokens });
    answers.set("/api/auth/refresh", { status: 200, body: tokens });
    answers.set("/api/auth/introspect", { status: 200, body: { active: true } });
    answers.set("/api/auth/logout", { status: 204, body: {} });
    await settled(upstream.signIn({ username: "alice", password: "pw" }, {}));
    await settled(refresh(upstream));
    await settled(
      upstream.isRefreshTokenActive!({
        refreshToken: "rt-1",
        previous,
        signal: new AbortController().signal,
      }),
    );
    await settled(upstream.signOut!({ accessToken: "at-1", refreshToken: "rt-1" }));
    answers.set("/api/auth/refresh", { status: 503, body: {} });
    await settled(refresh(upstream));
    // Each request goes out under exactly one limit; none outlives its call (an
    // `AbortSignal.timeout` would hold its timer for 43 s after it).
    expect(pendingAtSend).toEqual([1, 1, 1, 1, 1]);
    expect(pendingAfter).toEqual([0, 0, 0, 0, 0]);
  });

  it("timeoutMs bounds reading the answer as well as waiting for it", async () => {
    const upstream = endpoints({ timeoutMs: 150 });
    answers.set("/api/auth/refresh", { status: 200, body: null, stall: "headers" });
    const started = performance.now();
    const unanswered = await failure(refresh(upstream));
    expect(isTokenkeepError(unanswered) && [unanswered.code, unanswered.transient]).toEqual([
      "ERR_TOKENKEEP_TIMEOUT",
      true,
    ]);
    // Headers came, the body never ends: the runtime's TimeoutError, as before the limit was a timer.
    answers.set("/api/auth/refresh", { status: 200, body: null, stall: "body" });
    const unread = await failure(refresh(upstream));
    expect(unread instanceof DOMException && unread.name).toBe("TimeoutError");
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe("OAuth (oidc-provider)", () => {
  let provider: OidcProviderServer;
  beforeAll(async () => {
    provider = await startOidcProvider({ rotateRefreshToken: true });
  });
  afterAll(async () => {
    await provider?.close();
  });

  it("signs in with the password grant, rotates with the refresh grant, revokes on sign-out", async () => {
    const upstream = resolveUpstream(
      parseConfig({
        upstream: {
          oauth: {
            issuer: provider.issuer,
            clientId: CLIENTS.service.id,
            clientSecret: CLIENTS.service.secret,
          },
        },
      }).upstream,
    );
    const first = await upstream.signIn({ username: "alice", password: USERS.alice! }, {});
    expect(first.refreshToken).toBeTruthy();
    expect(first.raw).toEqual({}); // the wire answer stays out of the cookie
    const second = await upstream.refresh({
      refreshToken: first.refreshToken!,
      previous: first,
      signal: new AbortController().signal,
    });
    expectOtherSecret(second.refreshToken, first.refreshToken, "the rotated refresh token");
    await upstream.signOut?.({ accessToken: second.accessToken, refreshToken: second.refreshToken });
    const revoked = await failure(
      upstream.refresh({
        refreshToken: second.refreshToken!,
        previous: second,
        signal: new AbortController().signal,
      }),
    );
    expect(isOAuthError(revoked) && revoked.error).toBe("invalid_grant");
    const wrong = await failure(upstream.signIn({ username: "alice", password: "nope" }, {}));
    expect(isOAuthError(wrong) && wrong.error).toBe("invalid_grant");
  });

  it("revokes at revocationUrl without an issuer; with a tokenUrl alone, sign-out is local only", async () => {
    const metadata = (await (await fetch(`${provider.issuer}/.well-known/openid-configuration`)).json()) as {
      token_endpoint: string;
      revocation_endpoint: string;
    };
    const client = { clientId: CLIENTS.service.id, clientSecret: CLIENTS.service.secret };
    const build = (oauth: Record<string, unknown>) =>
      resolveUpstream(parseConfig({ upstream: { oauth: { ...client, ...oauth } } }).upstream);
    const explicit = build({
      tokenUrl: metadata.token_endpoint,
      revocationUrl: metadata.revocation_endpoint,
    });
    const set = await explicit.signIn({ username: "alice", password: USERS.alice! }, {});
    await explicit.signOut?.({ accessToken: set.accessToken, refreshToken: set.refreshToken });
    const revoked = await failure(
      explicit.refresh({
        refreshToken: set.refreshToken!,
        previous: set,
        signal: new AbortController().signal,
      }),
    );
    expect(isOAuthError(revoked) && revoked.error).toBe("invalid_grant");
    // No endpoint and no issuer to find one: no revocation to attempt (logout says `revoked: false`).
    expect(build({ tokenUrl: metadata.token_endpoint }).signOut).toBeUndefined();
  });

  const oauth = (extra: Record<string, unknown>) =>
    resolveUpstream(
      parseConfig({
        upstream: {
          oauth: {
            issuer: provider.issuer,
            clientId: CLIENTS.service.id,
            clientSecret: CLIENTS.service.secret,
            ...extra,
          },
        },
      }).upstream,
    );
  const live = (upstream: Upstream, refreshToken: string) =>
    upstream.isRefreshTokenActive!({
      refreshToken,
      previous: { accessToken: "", tokenType: "Bearer", expiresAt: 0, refreshToken, raw: {} },
      signal: new AbortController().signal,
    });

  it("introspection: the refresh token is asked about at the issuer's introspection endpoint (RFC 7662)", async () => {
    expect(oauth({}).isRefreshTokenActive).toBeUndefined();
    expect(oauth({ introspection: false }).isRefreshTokenActive).toBeUndefined();
    const upstream = oauth({ introspection: true });
    const first = await upstream.signIn({ username: "alice", password: USERS.alice! }, {});
    await expect(live(upstream, first.refreshToken!)).resolves.toBe(true);
    const second = await upstream.refresh({
      refreshToken: first.refreshToken!,
      previous: first,
      signal: new AbortController().signal,
    });
    await expect(live(upstream, first.refreshToken!)).resolves.toBe(false); // rotated away
    // The endpoint named explicitly (no discovery needed for it).
    const named = oauth({ introspection: `${provider.issuer}/token/introspection` });
    await expect(live(named, second.refreshToken!)).resolves.toBe(true);
    // Errors name this config's setting, not grants' own option names.
    expect(() =>
      resolveUpstream(
        parseConfig({
          upstream: {
            oauth: {
              tokenUrl: `${provider.issuer}/token`,
              clientId: CLIENTS.service.id,
              clientSecret: CLIENTS.service.secret,
              introspection: true,
            },
          },
        }).upstream,
      ),
    ).toThrow(/upstream\.oauth\.introspection: true needs issuer/);
    expect(() => oauth({ introspection: "http://10.0.0.1/introspect" })).toThrow(
      /^upstream\.oauth\.introspection: (?!createIntrospection)/,
    );
    expect(() => oauth({ introspection: 5 })).toThrow(
      expect.objectContaining({
        code: "ERR_TOKENKEEP_INVALID_OPTIONS",
        message: expect.stringMatching(/introspection/),
      }),
    );
  });

  it("introspection: a refresh answered 502 before the server saw it is checked after the settle time and redeemed once", async () => {
    let refreshes = 0;
    let gatewayDown = true;
    // A gateway in front of the token endpoint: its 502 never reaches the server.
    const gateway: typeof fetch = async (input, init) => {
      const body = init?.body instanceof URLSearchParams ? init.body.toString() : String(init?.body ?? "");
      if (body.includes("grant_type=refresh_token")) {
        refreshes++;
        if (gatewayDown) return new Response("<html>502 Bad Gateway</html>", { status: 502 });
      }
      return fetch(input, init);
    };
    const upstream = oauth({ introspection: true, fetch: gateway });
    const first = await upstream.signIn({ username: "alice", password: USERS.alice! }, {});
    let clock = Date.now();
    const rotation = createSessionRotation({
      upstream,
      store: undefined,
      successorTtlMs: 30_000,
      settleMs: 10_000,
      now: () => clock,
      onRedeemed: () => {},
      onSuccessor: () => {},
    });
    try {
      const doubtful = await rotation.rotate(first, 5_000);
      expect(doubtful.kind).toBe("transient"); // the session is kept while its access token lasts
      gatewayDown = false;
      const early = await rotation.rotate(first, 5_000);
      expect(early.kind).toBe("transient"); // not asked before the settle time
      expect(refreshes).toBe(1);
      clock += 10_000;
      const recovered = await rotation.rotate(first, 5_000);
      expect(recovered.kind).toBe("rotated");
      expect(refreshes).toBe(2);
      const next = recovered.kind === "rotated" ? recovered.set : first;
      expectOtherSecret(next.refreshToken, first.refreshToken, "the recovered refresh token");
      // The family is alive upstream: the new refresh token redeems.
      await expect(live(upstream, next.refreshToken!)).resolves.toBe(true);
    } finally {
      await rotation.dispose();
    }
  });
});
