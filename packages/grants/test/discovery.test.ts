import { isInvalidResponseError } from "@tokenkeep/core";
import { describe, expect, it, onTestFinished } from "vitest";
import { clientCredentialsGrant, discover, revokeToken } from "../src/index.js";
import { type Answer, startScriptedServer, tokenAnswer } from "./fixtures/scripted-server.js";

async function metadataServer(answer: (issuer: string, path: string) => Answer) {
  let issuer = "";
  let lastPath = "";
  const server = await startScriptedServer(() => answer(issuer, lastPath));
  server.server.prependListener("request", (request) => {
    lastPath = new URL(request.url ?? "/", "http://x").pathname;
  });
  issuer = server.url;
  onTestFinished(() => server.close());
  return server;
}

const metadata = (issuer: string): Answer => ({
  status: 200,
  body: { issuer, token_endpoint: `${issuer}/oauth/token`, revocation_endpoint: `${issuer}/oauth/revoke` },
});

describe("discovery", () => {
  it("is fetched once per issuer, concurrent callers sharing the request", async () => {
    const server = await metadataServer((issuer, path) =>
      path === "/.well-known/openid-configuration" ? metadata(issuer) : tokenAnswer(),
    );
    const creator = clientCredentialsGrant({ issuer: server.url, clientId: "a", clientSecret: "b" });
    await Promise.all([creator(), creator(), creator(), discover(server.url)]);
    await creator();
    expect(server.hits.get("/.well-known/openid-configuration")).toBe(1);
    expect(server.hits.get("/oauth/token")).toBe(4);
  });

  it("compares the issuer exactly: a trailing slash is another issuer (RFC 8414 section 3.3)", async () => {
    const server = await metadataServer((issuer) => metadata(issuer));
    const error = await discover(`${server.url}/`).catch((reason: unknown) => reason);
    expect(isInvalidResponseError(error)).toBe(true);
    // Issuers are public: the message names both.
    expect(String(error)).toContain(`field "issuer" is "${server.url}", expected "${server.url}/"`);
    await expect(discover(server.url)).resolves.toMatchObject({ issuer: server.url });
  });

  it("takes a URL as its href without the slash URL adds to an empty path", async () => {
    const server = await metadataServer((issuer, path) =>
      path.endsWith("/.well-known/openid-configuration") ? metadata(issuer) : tokenAnswer(),
    );
    // new URL("http://127.0.0.1:port") has the href "http://127.0.0.1:port/"; the server's issuer has no slash.
    expect(new URL(server.url).href).toBe(`${server.url}/`);
    await expect(discover(new URL(server.url))).resolves.toMatchObject({ issuer: server.url });
    const creator = clientCredentialsGrant({ issuer: new URL(server.url), clientId: "a", clientSecret: "b" });
    await expect(creator()).resolves.toMatchObject({ accessToken: expect.any(String) });
    // A path is kept as the URL has it, a trailing slash included: that is another issuer.
    const error = await discover(new URL(`${server.url}/tenant/`)).catch((reason: unknown) => reason);
    expect(String(error)).toContain(`expected "${server.url}/tenant/"`);
  });

  it("keeps one cache per transport: another caller's fetch never serves this one", async () => {
    const server = await metadataServer((issuer) => metadata(issuer));
    const seenBy: string[] = [];
    const tagged =
      (tag: string): typeof fetch =>
      (input, init) => {
        seenBy.push(tag);
        return fetch(input, init);
      };
    const first = tagged("first");
    const second = tagged("second");
    await discover(server.url, { fetch: first });
    await discover(server.url, { fetch: first });
    await discover(server.url, { fetch: second });
    expect(seenBy).toEqual(["first", "second"]);
    expect(server.hits.get("/.well-known/openid-configuration")).toBe(2);
  });

  it("expires cached metadata after an hour, or after the answer's Cache-Control max-age", async () => {
    let cacheControl: string | undefined;
    const server = await metadataServer((issuer) => ({
      ...metadata(issuer),
      headers:
        cacheControl === undefined ? {} : ({ "cache-control": cacheControl } as Record<string, string>),
    }));
    let clock = 1_000_000;
    const options = { fetch: (...args: Parameters<typeof fetch>) => fetch(...args), now: () => clock };
    const hits = () => server.hits.get("/.well-known/openid-configuration");
    await discover(server.url, options);
    clock += 3_599_000;
    await discover(server.url, options);
    expect(hits()).toBe(1);
    clock += 1_000;
    cacheControl = "public, max-age=60";
    await discover(server.url, options);
    expect(hits()).toBe(2);
    clock += 59_000;
    await discover(server.url, options);
    expect(hits()).toBe(2);
    clock += 1_000;
    cacheControl = "max-age=0";
    await discover(server.url, options);
    await discover(server.url, options);
    expect(hits()).toBe(4);
  });

  it("falls back to RFC 8414's location and finds the revocation endpoint there", async () => {
    const server = await metadataServer((issuer, path) => {
      if (path === "/.well-known/oauth-authorization-server/tenant") return metadata(`${issuer}/tenant`);
      if (path === "/tenant/oauth/revoke") return { status: 200 };
      return { status: 404, body: "not here" };
    });
    await revokeToken({ issuer: `${server.url}/tenant`, clientId: "a", clientSecret: "b", token: "t" });
    expect(server.hits.get("/tenant/.well-known/openid-configuration")).toBe(1);
    expect(server.hits.get("/tenant/oauth/revoke")).toBe(1);
  });

  it("says so when the metadata names no revocation endpoint", async () => {
    const server = await metadataServer((issuer) => ({
      status: 200,
      body: { issuer, token_endpoint: `${issuer}/oauth/token` },
    }));
    const error = await revokeToken({
      issuer: server.url,
      clientId: "a",
      clientSecret: "b",
      token: "t",
    }).catch((reason: unknown) => reason);
    expect(isInvalidResponseError(error)).toBe(true);
    expect(error).toMatchObject({ transient: false });
    expect(String(error)).toMatch(/names no revocation_endpoint/);
  });

  it("takes an empty token_endpoint for none: no authenticator is asked to sign for it", async () => {
    // An assertion's `aud` is the endpoint: one signed for "" is never made, whatever the method.
    const server = await metadataServer((issuer) => ({ status: 200, body: { issuer, token_endpoint: "" } }));
    const audiences: string[] = [];
    const error = await clientCredentialsGrant({
      issuer: server.url,
      clientId: "a",
      clientAuthentication: {
        method: "private_key_jwt",
        authenticate: async ({ endpoint }) => {
          audiences.push(endpoint);
        },
      },
    })().catch((reason: unknown) => reason);
    expect(audiences).toEqual([]);
    expect(isInvalidResponseError(error)).toBe(true);
    expect(error).toMatchObject({ transient: false });
    expect(String(error)).toMatch(/names no token_endpoint/);
  });

  it("uses no metadata an https issuer's redirect brought from an http URL on another host", async () => {
    // What fetch returns after following https://auth.example -> http://auth.example (no request
    // leaves this machine: the redirect's outcome is handed over as fetch reports it).
    const seen: string[] = [];
    const redirectedFetch = (async (input: RequestInfo | URL) => {
      seen.push(String(input));
      const response = new Response(
        JSON.stringify({ issuer: "https://auth.example", token_endpoint: "https://evil.example/token" }),
        {
          headers: { "content-type": "application/json" },
        },
      );
      Object.defineProperties(response, {
        redirected: { value: true },
        url: { value: "http://auth.example/.well-known/openid-configuration" },
      });
      return response;
    }) as typeof fetch;
    const error = await discover("https://auth.example", { fetch: redirectedFetch }).catch((e: unknown) => e);
    expect(isInvalidResponseError(error)).toBe(true);
    expect(error).toMatchObject({ transient: false });
    expect(String(error)).toContain("the answer came from another origin (http://auth.example): not used");
    expect(seen).toHaveLength(1);
  });

  it("sends nothing for a caller whose signal was aborted already, and leaves no rejection unhandled", async () => {
    let calls = 0;
    const counting = (async () => {
      calls++;
      throw new TypeError("fetch failed");
    }) as typeof fetch;
    const controller = new AbortController();
    controller.abort();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    onTestFinished(() => {
      process.off("unhandledRejection", onUnhandled);
    });
    await expect(
      discover("https://auth.example", { fetch: counting, signal: controller.signal }),
    ).rejects.toMatchObject({ code: "ERR_TOKENKEEP_ABORTED" });
    // A caller that gives up while the shared lookup fails.
    const late = new AbortController();
    const waiting = discover("https://auth2.example", { fetch: counting, signal: late.signal }).catch(
      (e) => e,
    );
    late.abort();
    await waiting;
    for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(1);
    expect(unhandled).toEqual([]);
  });

  it("does not send credentials to an http endpoint the metadata names on another host", async () => {
    const server = await metadataServer((issuer) => ({
      status: 200,
      body: { issuer, token_endpoint: "http://192.0.2.2/oauth/token" },
    }));
    const creator = clientCredentialsGrant({
      issuer: server.url,
      clientId: "a",
      clientSecret: "b",
      timeoutMs: 60_000,
    });
    const error = await creator().catch((reason: unknown) => reason);
    expect(isInvalidResponseError(error)).toBe(true);
    expect(String(error)).toMatch(/names an http token_endpoint: not sent/);
  });

  it("rejects metadata about another issuer (RFC 8414 section 3.3)", async () => {
    const server = await metadataServer(() => metadata("https://evil.test"));
    const error = await discover(server.url).catch((reason: unknown) => reason);
    expect(isInvalidResponseError(error)).toBe(true);
    expect(String(error)).toMatch(/issuer/);
  });

  it("names the first field of the metadata that is not what RFC 8414 says, never its value", async () => {
    const cases: [(issuer: string) => unknown, string][] = [
      [(issuer) => ({ issuer, token_endpoint: 42 }), "token_endpoint"],
      [(issuer) => ({ issuer, grant_types_supported: ["client_credentials", 7] }), "grant_types_supported"],
      [
        (issuer) => ({ issuer, token_endpoint_auth_methods_supported: "client_secret_basic" }),
        "token_endpoint_auth_methods_supported",
      ],
      [() => ({ token_endpoint: "https://as.example/token" }), "issuer"],
    ];
    for (const [body, field] of cases) {
      const server = await metadataServer((issuer) => ({ status: 200, body: body(issuer) }));
      const error = await discover(server.url).catch((reason: unknown) => reason);
      expect(isInvalidResponseError(error)).toBe(true);
      expect(String(error)).toContain(`invalid authorization server metadata: field "${field}" is invalid`);
    }
    const listed = await metadataServer(() => ({ status: 200, body: ["not", "an", "object"] }));
    const error = await discover(listed.url).catch((reason: unknown) => reason);
    expect(String(error)).toContain("invalid authorization server metadata: not a JSON object");
    // JSON null too: a permanent answer about the metadata, not a transient "no answer".
    const nothing = await metadataServer(() => ({ status: 200, body: null }));
    const none = await discover(nothing.url).catch((reason: unknown) => reason);
    expect(isInvalidResponseError(none) && [none.transient, none.message]).toEqual([
      false,
      expect.stringContaining("invalid authorization server metadata: not a JSON object"),
    ]);
    const server = await metadataServer((issuer) => ({
      status: 200,
      body: {
        issuer,
        token_endpoint: `${issuer}/t`,
        grant_types_supported: ["client_credentials"],
        extra: 1,
      },
    }));
    await expect(discover(server.url)).resolves.toMatchObject({
      grant_types_supported: ["client_credentials"],
      extra: 1,
    });
  });

  it("does not cache a failure", async () => {
    let calls = 0;
    const server = await metadataServer((issuer) => {
      calls += 1;
      return calls === 1 ? { status: 503, body: "" } : metadata(issuer);
    });
    await expect(discover(server.url)).rejects.toMatchObject({ status: 503, transient: true });
    await expect(discover(server.url)).resolves.toMatchObject({
      token_endpoint: `${server.url}/oauth/token`,
    });
  });

  it("lets one caller give up without failing the others", async () => {
    const server = await metadataServer((issuer) => metadata(issuer));
    server.script.push({ status: 200, hang: true });
    const controller = new AbortController();
    const first = discover(server.url, { signal: controller.signal, timeoutMs: 300 });
    const second = discover(server.url);
    controller.abort();
    await expect(first).rejects.toMatchObject({ code: "ERR_TOKENKEEP_ABORTED" });
    await expect(second).rejects.toMatchObject({ code: "ERR_TOKENKEEP_TIMEOUT" });
  });
});
