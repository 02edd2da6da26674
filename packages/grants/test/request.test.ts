import { inspect } from "node:util";
import { createTokenManager, isNetworkError, isTimeoutError } from "@tokenkeep/core";
import { createKyHooks } from "@tokenkeep/core/http";
import ky, { type KyInstance } from "ky";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { clientCredentialsGrant, createRevocation, passwordGrant, revokeToken } from "../src/index.js";
import { createIntrospection } from "../src/introspection/index.js";
import { listen } from "./fixtures/http.js";
import { type ScriptedServer, startScriptedServer } from "./fixtures/scripted-server.js";

let server: ScriptedServer;
beforeAll(async () => {
  server = await startScriptedServer();
});
afterAll(() => server.close());

const SECRET = "ky-secret-value";
const options = () => ({ tokenUrl: `${server.url}/token`, clientId: "svc", clientSecret: SECRET });
const last = () => server.received.at(-1)!;

describe("the token request", () => {
  it("posts a form with the grant, extra parameters and headers; the grant's own parameters win", async () => {
    await clientCredentialsGrant({
      ...options(),
      scope: "a b",
      resource: ["https://one.test/", "https://two.test/"],
      audience: "https://aud.test/",
      extraParams: { tenant: "t1", grant_type: "not-this", flags: ["x", "y"] },
      headers: { "user-agent": "tokenkeep-test", "x-tenant": "t1" },
    })();
    const request = last();
    expect(request.method).toBe("POST");
    expect(request.headers["content-type"]).toMatch(/^application\/x-www-form-urlencoded/);
    expect(request.headers.accept).toBe("application/json");
    expect(request.headers["user-agent"]).toBe("tokenkeep-test");
    expect(request.headers["x-tenant"]).toBe("t1");
    const form = new URLSearchParams(request.body);
    expect(form.get("grant_type")).toBe("client_credentials");
    expect(form.get("scope")).toBe("a b");
    expect(form.getAll("resource")).toEqual(["https://one.test/", "https://two.test/"]);
    expect(form.get("audience")).toBe("https://aud.test/");
    expect(form.get("tenant")).toBe("t1");
    expect(form.getAll("flags")).toEqual(["x", "y"]);
    expect(form.has("client_secret")).toBe(false);
  });

  it("keeps an extra parameter that the grant leaves unset, in a form and in JSON", async () => {
    const extraParams = { audience: "https://api.test", scope: "a b", custom: "kept" };
    for (const bodyEncoding of ["form", "json"] as const) {
      await clientCredentialsGrant({ ...options(), extraParams, bodyEncoding })();
      const body = last().body;
      const sent = bodyEncoding === "form" ? Object.fromEntries(new URLSearchParams(body)) : JSON.parse(body);
      expect(sent).toEqual({ ...extraParams, grant_type: "client_credentials" });
    }
    await passwordGrant({ ...options(), username: "u", password: "p", extraParams: { scope: "x" } })();
    expect(new URLSearchParams(last().body).get("scope")).toBe("x");
    const hint = { token_type_hint: "refresh_token" };
    const client = { clientId: "svc", clientSecret: SECRET, extraParams: hint };
    server.script.push({ status: 200 });
    await revokeToken({ ...client, revocationUrl: `${server.url}/r`, token: "t" });
    expect(new URLSearchParams(last().body).get("token_type_hint")).toBe("refresh_token");
    server.script.push({ status: 200, body: { active: false } });
    await createIntrospection({ ...client, introspectionUrl: `${server.url}/i` }).introspect("t");
    expect(new URLSearchParams(last().body).get("token_type_hint")).toBe("refresh_token");
  });

  it("sends a manager identity's list of audiences, one parameter each, never the configured one", async () => {
    const audiences = ["https://orders.test", "https://files.test"];
    const creator = clientCredentialsGrant({ ...options(), audience: "https://default.test" });
    await creator({ identity: { audience: audiences } });
    expect(new URLSearchParams(last().body).getAll("audience")).toEqual(audiences);
    await creator();
    expect(new URLSearchParams(last().body).getAll("audience")).toEqual(["https://default.test"]);
    // In JSON, one audience stays a string (as Auth0 takes it) and a list an array; an empty list is unset.
    const json = clientCredentialsGrant({ ...options(), audience: audiences, bodyEncoding: "json" });
    await json();
    expect(JSON.parse(last().body).audience).toEqual(audiences);
    await json({ identity: { audience: "https://one.test" } });
    expect(JSON.parse(last().body).audience).toBe("https://one.test");
    await json({ identity: { audience: [] } });
    expect(JSON.parse(last().body)).not.toHaveProperty("audience");
  });

  it("lets a manager identity choose the scope and resource", async () => {
    await clientCredentialsGrant({ ...options(), scope: "default" })({
      identity: { scope: ["read", "write"], resource: "https://r.test/" },
    });
    const form = new URLSearchParams(last().body);
    expect(form.get("scope")).toBe("read write");
    expect(form.getAll("resource")).toEqual(["https://r.test/"]);
  });

  it("form-url-encodes id and secret before Base64 for client_secret_basic", async () => {
    await clientCredentialsGrant({ ...options(), clientId: "my client", clientSecret: "a%b+c:d é" })();
    const header = String(last().headers.authorization);
    expect(header.startsWith("Basic ")).toBe(true);
    expect(atob(header.slice(6))).toBe("my+client:a%25b%2Bc%3Ad+%C3%A9");
  });

  it("sends client_id alone for a public client", async () => {
    await clientCredentialsGrant({
      tokenUrl: `${server.url}/token`,
      clientId: "public",
      clientAuthentication: "none",
    })();
    const request = last();
    expect(request.headers.authorization).toBeUndefined();
    expect(new URLSearchParams(request.body).get("client_id")).toBe("public");
  });

  it("sends an Authorization header of the caller's as it is with a method that writes none", async () => {
    // Refused at creation with client_secret_basic or an authenticator object (grant-options.test.ts).
    await clientCredentialsGrant({
      tokenUrl: `${server.url}/token`,
      clientId: "public",
      clientAuthentication: "none",
      headers: { Authorization: "Bearer resource-server-token" },
    })();
    expect(last().headers.authorization).toBe("Bearer resource-server-token");
  });

  it("anchors expiresAt at the moment the request was sent", async () => {
    let clock = 1_000_000;
    const creator = clientCredentialsGrant({
      ...options(),
      now: () => clock,
      fetch: async (input, init) => {
        clock += 5_000; // the answer takes 5 s to arrive
        return fetch(input, init);
      },
    });
    const set = await creator();
    expect(set.expiresAt).toBe(1_000_000 + 3_600_000);
  });

  it("does not follow a redirect with the credentials", async () => {
    const elsewhere = await startScriptedServer();
    try {
      server.script.push({ status: 307, headers: { location: `${elsewhere.url}/token` }, body: "" });
      const error = await clientCredentialsGrant({
        ...options(),
        clientAuthentication: "client_secret_post",
      })().catch((reason: unknown) => reason);
      expect(error).toMatchObject({ code: "ERR_TOKENKEEP_INVALID_RESPONSE", status: 307, transient: false });
      expect(elsewhere.received).toHaveLength(0);
    } finally {
      await elsewhere.close();
    }
  });

  it("goes through a ky instance with its hooks, and ky never retries", async () => {
    let hooked = 0;
    const client = ky.create({ hooks: { beforeRequest: [() => void hooked++] }, retry: 5 });
    server.script.push({ status: 503, body: { error: "temporarily_unavailable" } });
    const before = server.received.length;
    await expect(clientCredentialsGrant({ ...options(), ky: client })()).rejects.toMatchObject({
      status: 503,
      transient: true,
    });
    expect(server.received.length - before).toBe(1);
    expect(hooked).toBe(1);
    const set = await clientCredentialsGrant({ ...options(), ky: client })();
    expect(set.accessToken).toMatch(/^token-/);
  });

  it("a ky instance whose hooks ask the same manager for a token waits on itself until creatorTimeoutMs", async () => {
    // The token request goes through ky; its beforeRequest hook (createKyHooks for an origin that is
    // also the token endpoint's) asks the manager for the token this very request is obtaining, and
    // joins that flight: nothing is sent, and only the manager's timeouts end the wait (documented in
    // "Sending through ky"; neither side can tell the hook's call from another caller's).
    const before = server.received.length;
    let client: KyInstance | undefined;
    const manager = createTokenManager({
      creator: (context) =>
        clientCredentialsGrant({ ...options(), clientAuthentication: "client_secret_post", ky: client })(
          context,
        ),
      creatorTimeoutMs: 100,
      fetchTimeoutMs: 250,
      retry: { retries: 0 },
    });
    client = ky.create({ hooks: createKyHooks(manager, { origins: [server.url] }) });
    const error = await manager.getToken().catch((reason: unknown) => reason);
    expect(isTimeoutError(error)).toBe(true);
    expect(server.received.length).toBe(before);
    // With HTTP Basic the token request carries an Authorization header of its own, which
    // createKyHooks leaves alone: no call to the manager, no wait.
    const basic = createTokenManager({
      creator: (context) => clientCredentialsGrant({ ...options(), ky: client })(context),
    });
    client = ky.create({ hooks: createKyHooks(basic, { origins: [server.url] }) });
    expect((await basic.getToken()).accessToken).toMatch(/^token-/);
    await manager.dispose();
    await basic.dispose();
  });

  it("keeps ky's request (and its Authorization header) out of a network error", async () => {
    const gone = await listen();
    await gone.close();
    const error = await clientCredentialsGrant({
      ...options(),
      tokenUrl: `${gone.url}/token`,
      ky: ky.create({}),
    })().catch((reason: unknown) => reason);
    expect(isNetworkError(error)).toBe(true);
    const text = `${JSON.stringify(error)} ${String(error)} ${inspect(error, { depth: 6, showHidden: true })}`;
    expectNoSecretIn(text, [SECRET, btoa(`svc:${SECRET}`)], "the error's renderings");
  });

  it("revokes with token and token_type_hint at the revocation URL", async () => {
    server.script.push({ status: 200 });
    await revokeToken({
      revocationUrl: `${server.url}/revoke`,
      clientId: "svc",
      clientSecret: SECRET,
      token: "tok",
      tokenTypeHint: "access_token",
    });
    const request = last();
    expect(request.path).toBe("/revoke");
    expect(Object.fromEntries(new URLSearchParams(request.body))).toEqual({
      token: "tok",
      token_type_hint: "access_token",
    });
    server.script.push({ status: 503, headers: { "retry-after": "1" }, body: "" });
    await expect(
      revokeToken({
        revocationUrl: `${server.url}/revoke`,
        clientId: "svc",
        clientSecret: SECRET,
        token: "tok",
      }),
    ).rejects.toMatchObject({ status: 503, transient: true, retryAfterMs: 1000 });
  });

  it("revokes once more without the hint when the server answers unsupported_token_type to it", async () => {
    // RFC 7009 section 2.1: the hint only helps the search; a server that refuses the hinted type
    // (it revokes refresh tokens only) may still know the token as another.
    const revocation = createRevocation({
      revocationUrl: `${server.url}/revoke`,
      clientId: "svc",
      clientSecret: SECRET,
    });
    const bodies = () =>
      server.received.slice(before).map((request) => Object.fromEntries(new URLSearchParams(request.body)));
    const refused = { status: 400, body: { error: "unsupported_token_type" } };
    let before = server.received.length;
    server.script.push(refused, { status: 200 });
    await revocation.revoke("tok", { tokenTypeHint: "access_token" });
    expect(bodies()).toEqual([{ token: "tok", token_type_hint: "access_token" }, { token: "tok" }]);
    // Refused without a hint too: that answer stands, after one resend only.
    before = server.received.length;
    server.script.push(refused, refused);
    await expect(revocation.revoke("tok", { tokenTypeHint: "access_token" })).rejects.toMatchObject({
      error: "unsupported_token_type",
    });
    expect(bodies()).toHaveLength(2);
    // No hint was sent: nothing to leave out, no resend.
    before = server.received.length;
    server.script.push(refused);
    await expect(revocation.revoke("tok")).rejects.toMatchObject({ error: "unsupported_token_type" });
    expect(bodies()).toEqual([{ token: "tok" }]);
  });

  it("createRevocation checks its options when made, each token when revoked, and sends what revokeToken sends", () => {
    const invalid = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        return [
          (error as TypeError).constructor.name,
          (error as { code?: string }).code,
          (error as Error).message,
        ];
      }
      return "no error";
    };
    // Thrown when made, before any token is at stake (revokeToken could only reject when called).
    expect(
      invalid(() => createRevocation({ revocationUrl: "http://idp.example/revoke", clientId: "svc" })),
    ).toEqual([
      "TypeError",
      "ERR_TOKENKEEP_INVALID_OPTIONS",
      expect.stringMatching(/^invalid createRevocation options: revocationUrl: .*https/),
    ]);
    expect(
      invalid(() => createRevocation({ tokenUrl: `${server.url}/token`, clientId: "svc" } as never)),
    ).toEqual([
      "TypeError",
      "ERR_TOKENKEEP_INVALID_OPTIONS",
      expect.stringContaining("did you mean `revocationUrl`?"),
    ]);
    expect(invalid(() => createRevocation({ clientId: "svc" }))).toEqual([
      "TypeError",
      "ERR_TOKENKEEP_INVALID_OPTIONS",
      expect.stringContaining("revocationUrl"),
    ]);
  });

  it("createRevocation's revoke sends the token and hint, and refuses an empty token without sending", async () => {
    const { revoke } = createRevocation({
      revocationUrl: `${server.url}/revoke`,
      clientId: "svc",
      clientSecret: SECRET,
    });
    server.script.push({ status: 200 });
    await revoke("tok", { tokenTypeHint: "refresh_token" });
    expect(Object.fromEntries(new URLSearchParams(last().body))).toEqual({
      token: "tok",
      token_type_hint: "refresh_token",
    });
    const requests = server.received.length;
    await expect(revoke("")).rejects.toMatchObject({
      code: "ERR_TOKENKEEP_INVALID_OPTIONS",
      message: expect.stringContaining("token: expected a non-empty string"),
    });
    expect(server.received.length).toBe(requests);
  });
});
