import { createTokenManager, isInvalidResponseError, isTimeoutError, type TokenEvent } from "@tokenkeep/core";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { expectOtherSecret } from "../../../test/reliability/src/secret-assert.js";
import { clientCredentialsGrant, passwordGrant, refreshTokenGrant } from "../src/index.js";
import { createIntrospection } from "../src/introspection/index.js";
import { CLIENTS, type OidcProviderServer, startOidcProvider, USERS } from "./fixtures/oidc-provider.js";
import { startScriptedServer, tokenAnswer } from "./fixtures/scripted-server.js";

// Grants classify failures; the token manager (core) decides what to retry. These tests run both.

let op: OidcProviderServer;
beforeAll(async () => {
  op = await startOidcProvider({ rotateRefreshToken: true });
});
afterAll(() => op.close());

const service = () => ({
  issuer: op.issuer,
  clientId: CLIENTS.service.id,
  clientSecret: CLIENTS.service.secret,
});
const tokenHits = () => op.hits.get("/token") ?? 0;

async function scripted() {
  const server = await startScriptedServer();
  onTestFinished(() => server.close());
  return server;
}

function manager(creator: Parameters<typeof createTokenManager>[0]["creator"], events: TokenEvent[] = []) {
  const instance = createTokenManager({
    creator,
    retry: { retries: 2, baseDelayMs: 10, maxDelayMs: 5_000 },
    onEvent: (event) => events.push(event),
  });
  onTestFinished(() => instance.dispose());
  return instance;
}

describe("refresh-token rotation through the manager (oidc-provider)", () => {
  it("rotates, and a replayed rotated token fails with invalid_grant without a retry", async () => {
    const user = { ...service(), username: "alice", password: USERS.alice! };
    const tokens = createTokenManager({
      creator: passwordGrant(user),
      refresher: refreshTokenGrant(service()),
    });
    onTestFinished(() => tokens.dispose());

    const first = await tokens.getToken();
    const second = await tokens.getToken({ forceRefresh: true });
    expect(second.refreshToken).toBeTruthy();
    expectOtherSecret(second.refreshToken, first.refreshToken, "the rotated refresh token");
    expectOtherSecret(second.accessToken, first.accessToken, "the refreshed access token");

    // Someone presents the rotated-away refresh token again: the server revokes the whole grant.
    const replayer = manager(refreshTokenGrant({ ...service(), refreshToken: first.refreshToken }));
    const before = tokenHits();
    const error = await replayer.getToken().catch((reason: unknown) => reason);
    expect(error).toMatchObject({ code: "ERR_TOKENKEEP_OAUTH", error: "invalid_grant", transient: false });
    expect(tokenHits() - before).toBe(1);

    // The newest refresh token died with the family: the manager falls back to the password grant once.
    const hitsBeforeRecovery = tokenHits();
    const third = await tokens.getToken({ forceRefresh: true });
    expect(tokenHits() - hitsBeforeRecovery).toBe(2);
    expectOtherSecret(third.refreshToken, second.refreshToken, "the third refresh token");
  });
});

describe("a refresh whose answer is lost (oidc-provider, rotating refresh tokens)", () => {
  /**
   * A `fetch` that forwards every request to the provider, but loses the answer of the first
   * refresh-token request after the provider redeemed it (read in full), answering with `lose(init)`
   * instead: a gateway's 502, or a connection that hangs until the caller gives up.
   */
  function losingRefreshAnswers(lose: (init: RequestInit | undefined) => Promise<Response>) {
    const refreshes: number[] = [];
    const fetcher: typeof fetch = async (input, init) => {
      const refresh = String(init?.body ?? "").includes("grant_type=refresh_token");
      // Forwarded whole whatever the caller's signal does: the provider redeems the token.
      const response = await fetch(input, refresh ? { ...init, signal: null } : init);
      if (!refresh) return response;
      refreshes.push(response.status);
      if (refreshes.length > 1) return response;
      await response.arrayBuffer();
      return lose(init);
    };
    return { fetcher, refreshes };
  }

  async function scenario(
    lose: (init: RequestInit | undefined) => Promise<Response>,
    extra: Partial<Parameters<typeof createTokenManager>[0]> = {},
  ) {
    const { fetcher, refreshes } = losingRefreshAnswers(lose);
    const events: TokenEvent[] = [];
    const tokens = createTokenManager({
      creator: passwordGrant({ ...service(), username: "alice", password: USERS.alice! }),
      refresher: refreshTokenGrant({ ...service(), fetch: fetcher }),
      retry: { retries: 3, baseDelayMs: 10, maxDelayMs: 100 },
      onEvent: (event) => events.push(event),
      ...extra,
    });
    onTestFinished(() => tokens.dispose());
    const first = await tokens.getToken();
    const renewed = await tokens.getToken({ forceRefresh: true });
    // The refresh token went to the provider once, which redeemed it; the manager then got a new
    // grant with the creator instead of presenting the (rotated) refresh token again.
    expect(refreshes).toEqual([200]);
    expect(events.filter((event) => event.type === "refresh-token-dropped")).toHaveLength(1);
    expect(tokens.stats()).toMatchObject({ refreshTokensDropped: 1 });
    expectOtherSecret(renewed.refreshToken, first.refreshToken, "the new grant's refresh token");
    // No reuse, so the provider revoked nothing: the first grant's access token is still active.
    const { introspect } = createIntrospection(service());
    expect((await introspect(first.accessToken)).active).toBe(true);
    // The new grant refreshes normally.
    const next = await tokens.getToken({ forceRefresh: true });
    expect(refreshes).toEqual([200, 200]);
    expectOtherSecret(next.refreshToken, renewed.refreshToken, "the rotated refresh token");
  }

  it("presents the refresh token once when a gateway answers 502 after the provider redeemed it", async () => {
    await scenario(
      async () =>
        new Response("<html>502 Bad Gateway</html>", {
          status: 502,
          headers: { "content-type": "text/html" },
        }),
    );
  });

  it("presents the refresh token once when the answer never comes and creatorTimeoutMs aborts", async () => {
    await scenario(
      (init) =>
        new Promise<never>((_, reject) => {
          const signal = init?.signal;
          if (signal?.aborted) reject(signal.reason);
          signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
      // Long enough for the provider to answer every other request on a loaded machine.
      { creatorTimeoutMs: 1_000 },
    );
  });
});

describe("failing endpoints through the manager", () => {
  it("retries a 500 and then succeeds", async () => {
    const server = await scripted();
    server.script.push({ status: 500, body: { error: "server_error" } });
    const tokens = manager(
      clientCredentialsGrant({ tokenUrl: `${server.url}/token`, clientId: "a", clientSecret: "b" }),
    );
    const set = await tokens.getToken();
    expect(set.accessToken).toMatch(/^token-/);
    expect(server.received.length).toBe(2);
  });

  it("waits for a 429's Retry-After before the next attempt", async () => {
    const server = await scripted();
    server.script.push({ status: 429, headers: { "retry-after": "1" }, body: { error: "slow_down" } });
    // The manager's timers are held here, and the test fires the retry's wait itself: it sees the
    // wait's length and that no second request goes out before it ends, with no real second spent.
    const waits = new Map<number, { ms: number; fire: () => void }>();
    let handles = 0;
    let retried!: (delayMs: number) => void;
    const retry = new Promise<number>((resolve) => (retried = resolve));
    const tokens = createTokenManager({
      creator: clientCredentialsGrant({ tokenUrl: `${server.url}/token`, clientId: "a", clientSecret: "b" }),
      retry: { retries: 2, baseDelayMs: 10, maxDelayMs: 5_000 },
      timers: {
        setTimeout: (fire, ms) => {
          waits.set(++handles, { ms, fire });
          return handles;
        },
        clearTimeout: (handle) => waits.delete(handle as number),
      },
      onEvent: (event) => {
        if (event.type === "retry") retried(event.delayMs ?? 0);
      },
    });
    onTestFinished(() => tokens.dispose());
    const pending = tokens.getToken();
    const delayMs = await retry;
    expect(delayMs).toBeGreaterThanOrEqual(1_000);
    const backoff = [...waits.values()].filter((wait) => wait.ms === delayMs);
    expect(backoff).toHaveLength(1);
    expect(server.received.length).toBe(1);
    backoff[0]!.fire();
    expect((await pending).accessToken).toMatch(/^token-/);
    expect(server.received.length).toBe(2);
  });

  it("times out a hanging endpoint, retries, and reports the timeout", async () => {
    const server = await scripted();
    for (let i = 0; i < 3; i++) server.script.push({ status: 200, hang: true });
    const tokens = manager(
      clientCredentialsGrant({
        tokenUrl: `${server.url}/token`,
        clientId: "a",
        clientSecret: "b",
        // Long enough for each request to reach the server on a loaded machine (at 100 ms an attempt
        // could time out before the server read it, and the count below came out 2).
        timeoutMs: 400,
      }),
    );
    const error = await tokens.getToken().catch((reason: unknown) => reason);
    expect(isTimeoutError(error)).toBe(true);
    expect(server.received.length).toBe(3);
  });

  it("surfaces an HTML 502 as a clear invalid-response error once retries are spent", async () => {
    const server = await scripted();
    for (let i = 0; i < 3; i++) {
      server.script.push({
        status: 502,
        headers: { "content-type": "text/html" },
        body: "<html>bad gateway</html>",
      });
    }
    const tokens = manager(
      clientCredentialsGrant({ tokenUrl: `${server.url}/token`, clientId: "a", clientSecret: "b" }),
    );
    const error = await tokens.getToken().catch((reason: unknown) => reason);
    expect(isInvalidResponseError(error)).toBe(true);
    expect(String(error)).toMatch(/502 with text\/html instead of JSON/);
  });

  it("does not retry a wrong client secret", async () => {
    const before = tokenHits();
    const tokens = manager(clientCredentialsGrant({ ...service(), clientSecret: "wrong" }));
    const error = await tokens.getToken().catch((reason: unknown) => reason);
    expect(error).toMatchObject({ error: "invalid_client", status: 401, transient: false });
    expect(tokenHits() - before).toBe(1);
  });

  it("serves a cached token without calling the endpoint again", async () => {
    const server = await scripted();
    server.script.push(tokenAnswer(600));
    const tokens = manager(
      clientCredentialsGrant({ tokenUrl: `${server.url}/token`, clientId: "a", clientSecret: "b" }),
    );
    const [a, b] = await Promise.all([tokens.getToken(), tokens.getToken()]);
    const c = await tokens.getToken();
    expect(new Set([a.accessToken, b.accessToken, c.accessToken]).size).toBe(1);
    expect(server.received.length).toBe(1);
  });
});
