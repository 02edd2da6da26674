import { inspect } from "node:util";
import ky, { isHTTPError } from "ky";
import { afterEach, describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { InvalidResponseError } from "../src/errors/errors.js";
import { createKyHooks } from "../src/http/ky-hooks.js";
import { createTokenManager, type TokenManager } from "../src/manager/token-manager.js";
import { type ResourceServer, startResourceServer } from "./support/resource-server.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function setup(): Promise<{
  api: ResourceServer;
  other: ResourceServer;
  manager: TokenManager;
  creatorCalls: () => number;
}> {
  const api = await startResourceServer();
  const other = await startResourceServer();
  let calls = 0;
  const manager = createTokenManager({
    creator: async () => {
      calls += 1;
      const token = `token-${calls}`;
      api.valid.add(token);
      other.valid.add(token);
      return { access_token: token, expires_in: 3600 };
    },
  });
  cleanups.push(async () => {
    await manager.dispose();
    await api.close();
    await other.close();
  });
  return { api, other, manager, creatorCalls: () => calls };
}

describe("createKyHooks", () => {
  it("requires an explicit origins list or predicate", async () => {
    const { manager } = await setup();
    expect(() => createKyHooks(manager, {} as never)).toThrow(TypeError);
  });

  it("adds Authorization for allowed origins only", async () => {
    const { api, other, manager } = await setup();
    const client = ky.create({ hooks: createKyHooks(manager, { origins: [api.origin] }) });
    expect(await client.get(`${api.origin}/items`).json()).toMatchObject({ ok: true });
    expect(api.seen[0]?.authorization).toBe("Bearer token-1");
    await expect(client.get(`${other.origin}/items`)).rejects.toSatisfy(isHTTPError);
    expect(other.seen[0]?.authorization).toBeUndefined();
  });

  it("on a 401 invalidates the token it sent and replays once, body included", async () => {
    const { api, manager, creatorCalls } = await setup();
    const client = ky.create({
      prefix: api.origin,
      hooks: createKyHooks(manager, { origins: [api.origin] }),
    });
    await client.get("warm");
    api.valid.delete("token-1");

    const answer = await client.post("items", { json: { name: "widget" } }).json<{ body: string }>();
    expect(JSON.parse(answer.body)).toEqual({ name: "widget" });
    expect(api.seen.slice(1).map((seen) => `${seen.method} ${seen.authorization} ${seen.body}`)).toEqual([
      'POST Bearer token-1 {"name":"widget"}',
      'POST Bearer token-2 {"name":"widget"}',
    ]);
    expect(creatorCalls()).toBe(2);
  });

  it("replays once only: a second 401 becomes ky's HTTPError", async () => {
    const { api, manager } = await setup();
    api.routes.set("/never", (_request, response) => {
      response.writeHead(401);
      response.end();
    });
    const client = ky.create({
      prefix: api.origin,
      hooks: createKyHooks(manager, { origins: [api.origin] }),
    });
    const error = await client.get("never").catch((caught: unknown) => caught);
    expect(isHTTPError(error) && error.response.status).toBe(401);
    expect(api.seen.map((seen) => seen.authorization)).toEqual(["Bearer token-1", "Bearer token-2"]);
  });

  it("leaves a request's own Authorization alone and does not act on its 401", async () => {
    const { api, manager, creatorCalls } = await setup();
    const client = ky.create({
      prefix: api.origin,
      hooks: createKyHooks(manager, { origins: [api.origin] }),
    });
    const error = await client
      .get("items", { headers: { authorization: "Bearer mine" } })
      .catch((caught: unknown) => caught);
    expect(isHTTPError(error)).toBe(true);
    expect(api.seen.map((seen) => seen.authorization)).toEqual(["Bearer mine"]);
    expect(creatorCalls()).toBe(0);
  });

  it("keeps the token on a 401 about the request, not the token (error other than invalid_token)", async () => {
    const { api, manager, creatorCalls } = await setup();
    api.routes.set("/scope", (_request, response) => {
      response.writeHead(401, { "www-authenticate": 'Bearer error="insufficient_scope", scope="write"' });
      response.end();
    });
    const client = ky.create({ retry: 0, hooks: createKyHooks(manager, { origins: [api.origin] }) });
    await expect(client.get(`${api.origin}/scope`)).rejects.toSatisfy(isHTTPError);
    expect(await client.get(`${api.origin}/items`).json()).toMatchObject({ ok: true });
    expect(api.seen.map((seen) => seen.authorization)).toEqual(["Bearer token-1", "Bearer token-1"]);
    expect(creatorCalls()).toBe(1);
  });

  it("does not replay a body ky no longer holds (retry: 0), but still invalidates the token", async () => {
    const { api, manager, creatorCalls } = await setup();
    const client = ky.create({
      prefix: api.origin,
      retry: 0,
      hooks: createKyHooks(manager, { origins: [api.origin] }),
    });
    await client.get("warm");
    api.valid.delete("token-1");
    await expect(client.post("items", { body: "once" })).rejects.toSatisfy(isHTTPError);
    expect(api.seen.filter((seen) => seen.path === "/items")).toHaveLength(1);
    await client.get("after");
    expect(api.seen.at(-1)?.authorization).toBe("Bearer token-2");
    expect(creatorCalls()).toBe(2);
  });
});

describe("createKyHooks against an API that rejects every token", () => {
  it("20 sequential calls cost 2 token requests within unauthorizedCooldownMs", async () => {
    const api = await startResourceServer(); // accepts no token at all
    let calls = 0;
    const manager = createTokenManager({
      creator: async () => ({ access_token: `token-${++calls}`, expires_in: 3600 }),
    });
    cleanups.push(async () => {
      await manager.dispose();
      await api.close();
    });
    const client = ky.create({
      prefix: api.origin,
      hooks: createKyHooks(manager, { origins: [api.origin] }),
    });
    for (let i = 0; i < 20; i++) await expect(client.get(`item/${i}`)).rejects.toSatisfy(isHTTPError);
    expect(calls).toBe(2);
    expect(api.seen).toHaveLength(21);
    expect(manager.stats().invalidationsRefused).toBe(19);
  });
});

describe("createKyHooks: a token no header can carry", () => {
  // Headers.set would refuse it with a TypeError quoting the whole value, token included.
  const managerOf = (api: ResourceServer, first: string, second: string) => {
    let calls = 0;
    const manager = createTokenManager({
      creator: async () => {
        calls += 1;
        return { access_token: calls === 1 ? first : second, expires_in: 3600 };
      },
    });
    cleanups.push(async () => {
      await manager.dispose();
      await api.close();
    });
    return manager;
  };

  it("is refused before sending, with an error naming no token", async () => {
    const api = await startResourceServer();
    const hooks = createKyHooks(managerOf(api, "inner\nline-SECRET", "unused"), { origins: [api.origin] });
    const error = await ky(`${api.origin}/items`, { hooks, retry: 0 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidResponseError);
    expectNoSecretIn(inspect(error, { depth: 5 }), "SECRET", "the error");
    expect(api.seen).toEqual([]);
  });

  it("is refused on the replay after a 401 too", async () => {
    const api = await startResourceServer();
    const hooks = createKyHooks(managerOf(api, "rejected", "nul\0byte-SECRET"), { origins: [api.origin] });
    const error = await ky(`${api.origin}/items`, { hooks, retry: 0 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidResponseError);
    expectNoSecretIn(inspect(error, { depth: 5 }), "SECRET", "the error");
    expect(api.seen.map((seen) => seen.authorization)).toEqual(["Bearer rejected"]);
  });
});
