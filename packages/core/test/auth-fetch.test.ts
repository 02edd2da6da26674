import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { InvalidResponseError, isOAuthError, OAuthError } from "../src/errors/errors.js";
import { createAuthFetch } from "../src/http/auth-fetch.js";
import { createTokenManager, type TokenManager } from "../src/manager/token-manager.js";
import { createFakeTime } from "./support/fake-time.js";
import { type ResourceServer, startResourceServer } from "./support/resource-server.js";

interface Setup {
  api: ResourceServer;
  other: ResourceServer;
  manager: TokenManager;
  creatorCalls: () => number;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A resource server, a second origin, and a real manager whose creator mints tokens the API accepts. */
async function setup(options: { unauthorizedCooldownMs?: number } = {}): Promise<Setup> {
  const api = await startResourceServer();
  const other = await startResourceServer();
  let calls = 0;
  const manager = createTokenManager({
    creator: async () => {
      calls += 1;
      const token = `token-${calls}`;
      api.valid.add(token);
      other.valid.add(token);
      return { access_token: token, token_type: "bearer", expires_in: 3600 };
    },
    ...options,
  });
  cleanups.push(async () => {
    await manager.dispose();
    await api.close();
    await other.close();
  });
  return { api, other, manager, creatorCalls: () => calls };
}

describe("createAuthFetch", () => {
  it("requires an explicit origins list or predicate", async () => {
    const { manager } = await setup();
    for (const options of [
      {},
      { origins: [] },
      { origins: ["https://api.example.com/v1"] },
      { origins: ["nope"] },
    ]) {
      let error: unknown;
      try {
        createAuthFetch(manager, options as never);
      } catch (caught) {
        error = caught;
      }
      expect(error, JSON.stringify(options)).toBeInstanceOf(TypeError);
      expect((error as { code: string }).code).toBe("ERR_TOKENKEEP_INVALID_OPTIONS");
      expect((error as { cause: string[] }).cause[0]).toMatch(/^origins/);
    }
  });

  it("adds Authorization for allowed origins only", async () => {
    const { api, other, manager } = await setup();
    const authFetch = createAuthFetch(manager, { origins: [api.origin] });

    const response = await authFetch(`${api.origin}/items`);
    expect(response.status).toBe(200);
    expect(api.seen[0]?.authorization).toBe("Bearer token-1");

    const elsewhere = await authFetch(new URL("/public", other.origin));
    expect(elsewhere.status).toBe(401);
    expect(other.seen[0]?.authorization).toBeUndefined();
  });

  it("passes a URL it cannot read to fetch untouched, without asking for a token", async () => {
    const { manager, creatorCalls } = await setup();
    const authFetch = createAuthFetch(manager, { origins: () => true });
    await expect(authFetch("not a url")).rejects.toThrow(TypeError);
    expect(creatorCalls()).toBe(0);
  });

  it("accepts a predicate and Request inputs", async () => {
    const { api, other, manager } = await setup();
    const authFetch = createAuthFetch(manager, { origins: (url) => url.pathname.startsWith("/v1/") });
    expect((await authFetch(new Request(`${api.origin}/v1/items`))).status).toBe(200);
    expect((await authFetch(`${other.origin}/v2/items`)).status).toBe(401);
    expect(api.seen[0]?.authorization).toBe("Bearer token-1");
    expect(other.seen[0]?.authorization).toBeUndefined();
  });

  it("leaves a request's own Authorization alone and does not act on its 401", async () => {
    const { api, manager, creatorCalls } = await setup();
    const authFetch = createAuthFetch(manager, { origins: [api.origin] });
    const response = await authFetch(`${api.origin}/items`, { headers: { authorization: "Bearer mine" } });
    expect(response.status).toBe(401);
    expect(api.seen.map((seen) => seen.authorization)).toEqual(["Bearer mine"]);
    expect(creatorCalls()).toBe(0);
  });

  it("on a 401 invalidates the token it sent and replays once with a new one", async () => {
    const { api, manager, creatorCalls } = await setup();
    const authFetch = createAuthFetch(manager, { origins: [api.origin] });
    expect((await authFetch(`${api.origin}/a`)).status).toBe(200);
    api.valid.delete("token-1"); // the server revokes it before its expiry

    const response = await authFetch(`${api.origin}/b`);
    expect(response.status).toBe(200);
    expect(api.seen.map((seen) => `${seen.path} ${seen.authorization}`)).toEqual([
      "/a Bearer token-1",
      "/b Bearer token-1",
      "/b Bearer token-2",
    ]);
    expect(creatorCalls()).toBe(2);
  });

  it("a burst of 401s for one token causes one new token", async () => {
    const { api, manager, creatorCalls } = await setup();
    const authFetch = createAuthFetch(manager, { origins: [api.origin] });
    await authFetch(`${api.origin}/warm`);
    api.valid.delete("token-1");

    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => authFetch(`${api.origin}/${i}`)),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(200));
    expect(creatorCalls()).toBe(2);
  });

  it("replays at most once: a second 401 is returned", async () => {
    const { api, manager, creatorCalls } = await setup();
    api.routes.set("/never", (_request, response) => {
      response.writeHead(401);
      response.end();
    });
    const authFetch = createAuthFetch(manager, { origins: [api.origin] });
    const response = await authFetch(`${api.origin}/never`);
    expect(response.status).toBe(401);
    expect(api.seen.map((seen) => seen.authorization)).toEqual(["Bearer token-1", "Bearer token-2"]);
    expect(creatorCalls()).toBe(2);
  });

  it("renews only on a 401 whose challenge for the token's scheme names no error or invalid_token", async () => {
    const { api, manager, creatorCalls } = await setup({ unauthorizedCooldownMs: 0 });
    const challenges = new Map<string, string | undefined>([
      // About the request, not the token: kept, the 401 returned (RFC 6750 3.1, RFC 9449 7.1).
      ["/proof", 'DPoP error="invalid_dpop_proof", Bearer realm="api", error="invalid_request"'],
      ["/scope", 'Bearer realm="api", error=insufficient_scope, scope="a, b error=invalid_token"'],
      ["/nonce", 'Bearer error="use_dpop_nonce", error_description="a, b"'],
      // The token is bad, or the server does not say why: renewed.
      ["/token", 'Basic realm="x", error="invalid_request", bearer realm="api", error="invalid_token"'],
      ["/bare", 'Bearer realm="api"'],
      ["/none", undefined],
      ["/other", 'DPoP error="invalid_dpop_proof"'],
    ]);
    for (const [path, challenge] of challenges) {
      api.routes.set(path, (_request, response) => {
        response.writeHead(401, challenge === undefined ? {} : { "www-authenticate": challenge });
        response.end();
      });
    }
    const authFetch = createAuthFetch(manager, { origins: [api.origin] });
    expect((await authFetch(`${api.origin}/warm`)).status).toBe(200);
    const renewed: string[] = [];
    for (const path of challenges.keys()) {
      const before = creatorCalls();
      expect((await authFetch(`${api.origin}${path}`)).status).toBe(401);
      if (creatorCalls() > before) renewed.push(path);
    }
    expect(renewed).toEqual(["/token", "/bare", "/none", "/other"]);
  });

  it("rejects with the token error when no new token can be had after a 401", async () => {
    const { api } = await setup();
    let calls = 0;
    const manager = createTokenManager({
      creator: async () => {
        calls += 1;
        if (calls > 1) throw new OAuthError({ error: "invalid_client", status: 401 });
        return { access_token: "only-token", expires_in: 3600 };
      },
    });
    cleanups.push(() => manager.dispose());
    const authFetch = createAuthFetch(manager, { origins: [api.origin] });
    await expect(authFetch(`${api.origin}/items`)).rejects.toSatisfy(isOAuthError);
    expect(api.seen.map((seen) => seen.authorization)).toEqual(["Bearer only-token"]);
  });

  it("replays replayable bodies byte for byte", async () => {
    // Each body kind has its replacement token refused at once: no cooldown for that here.
    const { api, manager } = await setup({ unauthorizedCooldownMs: 0 });
    const authFetch = createAuthFetch(manager, { origins: [api.origin] });
    const bodies: [string, () => Parameters<typeof authFetch>][] = [
      ["string", () => [`${api.origin}/s`, { method: "POST", body: "plain text" }]],
      ["form", () => [`${api.origin}/f`, { method: "POST", body: new URLSearchParams({ a: "1", b: "2" }) }]],
      ["blob", () => [`${api.origin}/b`, { method: "PUT", body: new Blob(["blob body"]) }]],
      ["bytes", () => [`${api.origin}/u`, { method: "POST", body: new TextEncoder().encode("bytes body") }]],
      ["request", () => [new Request(`${api.origin}/r`, { method: "POST", body: "request body" })]],
    ];
    for (const [name, args] of bodies) {
      await manager.getToken(); // a token is cached...
      api.valid.clear(); // ...and the server refuses it once
      api.seen.length = 0;
      const response = await authFetch(...args());
      expect(response.status, name).toBe(200);
      expect(api.seen.length, name).toBe(2);
      expect(api.seen[1]?.body, name).toBe(api.seen[0]?.body);
      expect(api.seen[1]?.body.length, name).toBeGreaterThan(0);
    }
  });

  it("does not replay a ReadableStream body, but still invalidates the token", async () => {
    const { api, manager, creatorCalls } = await setup();
    const authFetch = createAuthFetch(manager, { origins: [api.origin] });
    await authFetch(`${api.origin}/warm`);
    api.valid.delete("token-1");
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("streamed"));
        controller.close();
      },
    });
    const response = await authFetch(`${api.origin}/upload`, {
      method: "POST",
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(401);
    expect(api.seen.filter((seen) => seen.path === "/upload")).toHaveLength(1);
    expect((await authFetch(`${api.origin}/after`)).status).toBe(200);
    expect(api.seen.at(-1)?.authorization).toBe("Bearer token-2");
    expect(creatorCalls()).toBe(2);
  });

  it("never sends the token to another origin through a redirect, nor acts on that origin's 401", async () => {
    const { api, other, manager, creatorCalls } = await setup();
    api.routes.set("/go-elsewhere", (_request, response) => {
      response.writeHead(302, { location: `${other.origin}/landing` });
      response.end();
    });
    api.routes.set("/go-home", (_request, response) => {
      response.writeHead(307, { location: "/items" });
      response.end();
    });
    const authFetch = createAuthFetch(manager, { origins: [api.origin] });

    const away = await authFetch(`${api.origin}/go-elsewhere`);
    expect(away.status).toBe(401);
    expect(away.redirected).toBe(true);
    expect(other.seen.map((seen) => seen.authorization)).toEqual([undefined]);
    expect(creatorCalls()).toBe(1); // the other origin's 401 did not invalidate our token

    const home = await authFetch(`${api.origin}/go-home`);
    expect(home.status).toBe(200);
    expect(api.seen.at(-1)).toMatchObject({ path: "/items", authorization: "Bearer token-1" });
  });

  it("uses the fetch option and the request's signal", async () => {
    const { api, manager } = await setup();
    const sentUrls: string[] = [];
    const authFetch = createAuthFetch(manager, {
      origins: [api.origin],
      fetch: (input, init) => {
        sentUrls.push(input instanceof Request ? input.url : String(input));
        return fetch(input, init);
      },
    });
    await authFetch(`${api.origin}/with-custom-fetch`);
    expect(sentUrls).toEqual([`${api.origin}/with-custom-fetch`]);

    const controller = new AbortController();
    controller.abort();
    await expect(authFetch(`${api.origin}/aborted`, { signal: controller.signal })).rejects.toMatchObject({
      name: "AbortError",
    });
  });
});

describe("createAuthFetch against an API that rejects every token", () => {
  /** A resource server that accepts no token at all, and a manager on fake time minting new ones. */
  async function rejecting(options: { unauthorizedCooldownMs?: number } = {}) {
    const api = await startResourceServer();
    const time = createFakeTime(undefined, { crypto: false });
    let calls = 0;
    const manager = createTokenManager({
      creator: async () => ({ access_token: `token-${++calls}`, expires_in: 3600 }),
      now: time.now,
      timers: time.timers,
      ...options,
    });
    cleanups.push(async () => {
      await manager.dispose();
      await api.close();
    });
    const authFetch = createAuthFetch(manager, { origins: [api.origin] });
    const sequence = async (n: number) => {
      for (let i = 0; i < n; i++) expect((await authFetch(`${api.origin}/${i}`)).status).toBe(401);
    };
    return { api, time, manager, sequence, creatorCalls: () => calls };
  }

  it("50 sequential calls cost 2 token requests within unauthorizedCooldownMs", async () => {
    const { api, manager, sequence, creatorCalls } = await rejecting();
    await sequence(50);
    expect(creatorCalls()).toBe(2);
    // The first call replayed with the second token; every later one sent it once and got its 401.
    expect(api.seen).toHaveLength(51);
    expect(api.seen.at(-1)?.authorization).toBe("Bearer token-2");
    expect(manager.stats().invalidationsRefused).toBe(49);
  });

  it("a 401 after the cooldown fetches a new token again, once per cooldown", async () => {
    const { time, sequence, creatorCalls } = await rejecting();
    await sequence(5);
    await time.advance(29_999);
    await sequence(5);
    expect(creatorCalls()).toBe(2);
    await time.advance(1);
    await sequence(5);
    expect(creatorCalls()).toBe(3);
    await time.advance(30_000);
    await sequence(5);
    expect(creatorCalls()).toBe(4);
  });

  it("unauthorizedCooldownMs: 0 asks for a new token on every 401", async () => {
    const { sequence, creatorCalls } = await rejecting({ unauthorizedCooldownMs: 0 });
    await sequence(5);
    expect(creatorCalls()).toBe(6);
  });
});

describe("createAuthFetch: a token no header can carry", () => {
  // Headers.set refuses a value with a line break or NUL with a TypeError quoting the whole value,
  // token included; the call must fail with our error instead, naming no token, and send nothing.
  const tokens = (api: ResourceServer, first: string, second: string) => {
    let calls = 0;
    const manager = createTokenManager({
      creator: async () => {
        calls += 1;
        return { access_token: calls === 1 ? first : second, token_type: "bearer", expires_in: 3600 };
      },
    });
    cleanups.push(async () => {
      await manager.dispose();
      await api.close();
    });
    return manager;
  };

  for (const bad of ["inner\nline-SECRET", "carriage\rreturn-SECRET", "nul\0byte-SECRET"]) {
    it(`is refused before sending: ${JSON.stringify(bad.slice(0, 6))}`, async () => {
      const api = await startResourceServer();
      const authFetch = createAuthFetch(tokens(api, bad, bad), { origins: [api.origin] });
      const error = await authFetch(`${api.origin}/items`).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidResponseError);
      expect((error as InvalidResponseError).code).toBe("ERR_TOKENKEEP_INVALID_RESPONSE");
      expectNoSecretIn(inspect(error, { depth: 5 }), "SECRET", "the error");
      expect(api.seen).toEqual([]);
    });
  }

  it("is refused on the replay after a 401 too", async () => {
    const api = await startResourceServer();
    const authFetch = createAuthFetch(tokens(api, "rejected", "replay\nline-SECRET"), {
      origins: [api.origin],
    });
    const error = await authFetch(`${api.origin}/items`).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidResponseError);
    expectNoSecretIn(inspect(error, { depth: 5 }), "SECRET", "the error");
    expect(api.seen.map((seen) => seen.authorization)).toEqual(["Bearer rejected"]);
  });
});
