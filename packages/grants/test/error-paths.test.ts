import { inspect } from "node:util";
import {
  isAbortError,
  isInvalidResponseError,
  isNetworkError,
  isOAuthError,
  isTimeoutError,
  isTransientError,
} from "@tokenkeep/core";
import ky from "ky";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { registerSecret } from "../../../test/reliability/src/secret-registry.js";
import { clientCredentialsGrant, discover, passwordGrant, refreshTokenGrant } from "../src/index.js";
import { listen } from "./fixtures/http.js";
import { failure } from "./fixtures/rejection.js";
import { type Answer, type ScriptedServer, startScriptedServer } from "./fixtures/scripted-server.js";

const SECRET = "s3cr3t-client-value";
const PASSWORD = "pa55-word-value";
const REFRESH = "refresh-token-value";

let server: ScriptedServer;
beforeAll(async () => {
  server = await startScriptedServer();
});
afterAll(() => server.close());

const options = () => ({ tokenUrl: `${server.url}/token`, clientId: "svc", clientSecret: SECRET });

/** One failure of every kind this file tests, each with credentials in the request. */
async function everyKindOfFailure(): Promise<unknown[]> {
  const seen: unknown[] = [];
  const fail = async (answer: Answer, promise: () => Promise<unknown>) => {
    server.script.push(answer);
    seen.push(await failure(promise()));
  };
  const grant = () => clientCredentialsGrant(options())();
  await fail({ status: 500, body: { error: "server_error" } }, grant);
  await fail({ status: 429, headers: { "retry-after": "2" }, body: { error: "slow_down" } }, grant);
  await fail({ status: 502, headers: { "content-type": "text/html" }, body: "<h1>Bad Gateway</h1>" }, grant);
  await fail({ status: 503, headers: { "content-type": "application/json" } }, grant);
  await fail({ status: 200, body: { error: "invalid_client", error_description: "nope" } }, grant);
  await fail({ status: 200, body: { access_token: 42, token_type: "Bearer" } }, grant);
  await fail({ status: 200, hang: true }, () => clientCredentialsGrant({ ...options(), timeoutMs: 50 })());
  await fail({ status: 400, body: { error: "invalid_grant" } }, () =>
    passwordGrant({ ...options(), username: "u", password: PASSWORD })(),
  );
  await fail(
    { status: 401, headers: { "www-authenticate": 'Basic realm="x"' }, body: { error: "invalid_client" } },
    () => refreshTokenGrant({ ...options(), refreshToken: REFRESH })(),
  );
  await fail({ status: 200, hang: true }, () =>
    refreshTokenGrant({ ...options(), refreshToken: REFRESH, timeoutMs: 50 })(),
  );
  // Servers that echo what they refused (Spring Security OAuth does for refresh tokens).
  await fail(
    {
      status: 400,
      body: { error: "invalid_grant", error_description: `Invalid refresh token: ${REFRESH}` },
    },
    () => refreshTokenGrant({ ...options(), refreshToken: REFRESH })(),
  );
  await fail(
    {
      status: 401,
      headers: { "www-authenticate": `Basic error_description="bad secret ${SECRET}"` },
      body: { error: "invalid_client", error_description: `bad password ${PASSWORD}` },
    },
    () => passwordGrant({ ...options(), username: "u", password: PASSWORD })(),
  );
  const gone = await listen();
  await gone.close();
  seen.push(await failure(clientCredentialsGrant({ ...options(), tokenUrl: `${gone.url}/token` })()));
  try {
    clientCredentialsGrant({ ...options(), clientSecret: 7 as unknown as string });
  } catch (error) {
    seen.push(error);
  }
  return seen;
}

describe("error paths", () => {
  it("turns a 500 error body into a transient OAuthError", async () => {
    server.script.push({ status: 500, body: { error: "server_error" } });
    const error = await failure(clientCredentialsGrant(options())());
    expect(isOAuthError(error)).toBe(true);
    expect(error).toMatchObject({ error: "server_error", status: 500, transient: true });
  });

  it("turns a 429 into a transient error carrying Retry-After in ms", async () => {
    server.script.push({ status: 429, headers: { "retry-after": "2" }, body: { error: "slow_down" } });
    const error = await failure(clientCredentialsGrant(options())());
    expect(error).toMatchObject({ status: 429, transient: true, retryAfterMs: 2000 });
  });

  it("turns an HTML 502 from a proxy into a clear, transient invalid-response error", async () => {
    server.script.push({
      status: 502,
      headers: { "content-type": "text/html" },
      body: "<h1>Bad Gateway</h1>",
    });
    const error = await failure(clientCredentialsGrant(options())());
    expect(isInvalidResponseError(error)).toBe(true);
    expect(error).toMatchObject({ status: 502, transient: true });
    expect(error.message).toMatch(/502/);
    expect(error.message).toMatch(/text\/html/);
    expect(error.message).not.toMatch(/Bad Gateway/);
  });

  it("turns an empty 503 into an invalid-response error", async () => {
    server.script.push({ status: 503, headers: { "content-type": "application/json" } });
    const error = await failure(clientCredentialsGrant(options())());
    expect(error).toMatchObject({ code: "ERR_TOKENKEEP_INVALID_RESPONSE", status: 503, transient: true });
  });

  it("treats a 200 carrying `error` as an OAuthError", async () => {
    server.script.push({ status: 200, body: { error: "invalid_client", error_description: "nope" } });
    const error = await failure(clientCredentialsGrant(options())());
    expect(error).toMatchObject({ error: "invalid_client", status: 200, transient: false });
  });

  it("names the invalid field of a 200 answer, not its value", async () => {
    server.script.push({ status: 200, body: { access_token: 42, token_type: "Bearer" } });
    const error = await failure(clientCredentialsGrant(options())());
    expect(isInvalidResponseError(error)).toBe(true);
    expect(error.message).toMatch(/access_token/);
    expect(error.transient).toBe(false);
  });

  it("times out a hanging endpoint after timeoutMs", async () => {
    server.script.push({ status: 200, hang: true });
    const error = await failure(clientCredentialsGrant({ ...options(), timeoutMs: 150 })());
    expect(isTimeoutError(error)).toBe(true);
    expect(error).toMatchObject({ timeoutMs: 150, transient: true });
  });

  it("honours the caller's signal", async () => {
    server.script.push({ status: 200, hang: true });
    const controller = new AbortController();
    const before = server.received.length;
    const pending = failure(clientCredentialsGrant(options())({ signal: controller.signal }));
    // Aborted once the server holds the request (so the hanging answer is used up here, not left
    // queued for the next test), rather than after a guessed delay.
    await vi.waitFor(() => expect(server.received.length).toBe(before + 1));
    controller.abort();
    const error = await pending;
    expect(isAbortError(error)).toBe(true);
    expect(error.transient).toBe(false);
  });

  it("reports an unreachable endpoint as a transient network error", async () => {
    const gone = await listen();
    await gone.close();
    const error = await failure(clientCredentialsGrant({ ...options(), tokenUrl: `${gone.url}/token` })());
    expect(isNetworkError(error)).toBe(true);
    expect(error.transient).toBe(true);
  });

  it("redacts a credential the server echoes in its error answer", async () => {
    server.script.push({
      status: 400,
      body: { error: "invalid_grant", error_description: `Invalid refresh token: ${REFRESH}` },
    });
    const echoed = await failure(refreshTokenGrant({ ...options(), refreshToken: REFRESH })());
    expect(echoed).toMatchObject({
      error: "invalid_grant",
      errorDescription: "Invalid refresh token: [redacted]",
      status: 400,
      transient: false,
    });
  });

  it("redacts a credential the server echoes URL-encoded, as the form body carried it", async () => {
    const secret = registerSecret("p%+:w rd/=&more", "client secret"); // fixed: the encodings under test
    for (const echoed of [
      encodeURIComponent(secret),
      new URLSearchParams({ s: secret }).toString().slice(2),
    ]) {
      server.script.push({
        status: 401,
        headers: { "www-authenticate": `Basic realm="token", error_description="bad ${echoed}"` },
        body: { error: "invalid_client", error_description: `client_secret=${echoed}` },
      });
      const error = await failure(
        clientCredentialsGrant({
          ...options(),
          clientSecret: secret,
          clientAuthentication: "client_secret_post",
        })(),
      );
      expect(error).toMatchObject({
        errorDescription: "client_secret=[redacted]",
        wwwAuthenticate: 'Basic realm="token", error_description="bad [redacted]"',
      });
    }
  });

  it("redacts a credential echoed by another encoder or inside JSON, and a short password only where it stands alone", async () => {
    const secret = "k+y/Q=é~!"; // what Python's quote() and PHP's json_encode write differently
    // `/` kept, hex digits in mixed case: k%2By/Q%3D%c3%A9~!
    const quoted = encodeURIComponent(secret)
      .replaceAll("%2F", "/")
      .replace(/%[0-9A-F]{2}/g, (hex, at: number) => (at % 2 ? hex : hex.toLowerCase()));
    const json = JSON.stringify({ client_secret: secret }).replaceAll("/", "\\/").replace("é", "\\u00e9");
    server.script.push({
      status: 400,
      body: {
        error: "invalid_grant",
        error_description: `invalid_grant for "a" (grant_type=password&client_secret=${quoted}) ${json}`,
      },
    });
    const error = await failure(
      passwordGrant({ ...options(), clientSecret: secret, username: "u", password: "a" })(),
    );
    // One letter as a password: redacted where it is a value, not in every word holding an `a`.
    expect(error).toMatchObject({
      errorDescription:
        'invalid_grant for "[redacted]" (grant_type=password&client_secret=[redacted]) {"client_secret":"[redacted]"}',
    });
  });

  it("redacts the Basic credentials a server echoes in Base64, and lower-case form-url-encoding", async () => {
    const secret = "é x:%";
    const basic = btoa(`svc:${new URLSearchParams({ s: secret }).toString().slice(2)}`);
    const lower = new URLSearchParams({ s: secret })
      .toString()
      .slice(2)
      .replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase());
    server.script.push({
      status: 401,
      headers: { "www-authenticate": `Basic realm="token", error_description="bad Basic ${basic}"` },
      body: { error: "invalid_client", error_description: `credentials ${basic} (secret ${lower})` },
    });
    const error = await failure(clientCredentialsGrant({ ...options(), clientSecret: secret })());
    expect(error).toMatchObject({
      errorDescription: "credentials [redacted] (secret [redacted])",
      wwwAuthenticate: 'Basic realm="token", error_description="bad Basic [redacted]"',
    });
    for (const text of [JSON.stringify(error), String(error), inspect(error, { depth: 5 })]) {
      expectNoSecretIn(text, [basic, lower], "the error's rendering");
    }
  });

  // Self-contained (it makes every failure itself), so it passes alone and in any order.
  it("never puts a secret, password or refresh token in an error", async () => {
    const seen = await everyKindOfFailure();
    expect(seen).toHaveLength(14);
    for (const error of seen) {
      for (const text of [JSON.stringify(error), String(error), inspect(error, { depth: 5 })]) {
        expectNoSecretIn(text, [SECRET, PASSWORD, REFRESH, btoa(`svc:${SECRET}`)], "the error's rendering");
      }
    }
  });
});

describe("errors name the endpoint and the network reason, in the message and in toJSON()", () => {
  it("names the endpoint of an error answer (origin and path, never the query string)", async () => {
    server.script.push({ status: 404 });
    const error = await failure(
      clientCredentialsGrant({ ...options(), tokenUrl: `${server.url}/wrong/path?tenant=t-secret#frag` })(),
    );
    const endpoint = `${server.url}/wrong/path`;
    expect(error.message).toBe(
      `token request to ${endpoint}: authorization server answered 404 with an empty body`,
    );
    expect(error.toJSON()).toMatchObject({ endpoint, message: error.message });
    expectNoSecretIn(JSON.stringify(error), "t-secret", "the error's JSON");
  });

  it("passes on a bug of the fetch, of undici's dispatcher or of a ky hook as it is: permanent, never a NetworkError", async () => {
    // Only a request that got no answer is a NetworkError (transient, retried by the manager): a
    // TypeError thrown by the user's code is a bug, which retrying would only hide.
    const before = server.received.length;
    const bug = new TypeError("user's fetch: cannot read properties of undefined");
    const viaFetch = await failure(
      clientCredentialsGrant({ ...options(), fetch: () => Promise.reject(bug) })(),
    );
    expect(viaFetch).toBe(bug);
    // undici reports a bug of the dispatcher as "fetch failed" with the bug as its cause, as it reports
    // a refused connection: the bug is what the grant throws (core would retry "fetch failed").
    const dispatcherBug = new TypeError("dispatcher: not a function");
    const viaUndici = await failure(
      clientCredentialsGrant({
        ...options(),
        fetch: (input, init) =>
          fetch(input, {
            ...init,
            dispatcher: {
              dispatch: () => {
                throw dispatcherBug;
              },
            },
          } as RequestInit),
      })(),
    );
    expect(viaUndici).toBe(dispatcherBug);
    const hookBug = new TypeError("ky hook: bad header");
    const client = ky.create({
      hooks: {
        beforeRequest: [
          () => {
            throw hookBug;
          },
        ],
      },
    });
    const viaKy = await failure(clientCredentialsGrant({ ...options(), ky: client })());
    expect(viaKy).toBe(hookBug);
    for (const error of [viaFetch, viaUndici, viaKy]) {
      expect(isNetworkError(error)).toBe(false);
      expect(isTransientError(error)).toBe(false);
    }
    expect(server.received.length).toBe(before);
  });

  it("names the endpoint and ECONNREFUSED when nothing listens", async () => {
    const gone = await listen();
    await gone.close();
    const error = await failure(clientCredentialsGrant({ ...options(), tokenUrl: `${gone.url}/token` })());
    expect(isNetworkError(error)).toBe(true);
    expect(error.message).toBe(`token request to ${gone.url}/token failed: ECONNREFUSED`);
    expect(error.toJSON()).toMatchObject({ endpoint: `${gone.url}/token`, reason: "ECONNREFUSED" });
  });

  it("names ENOTFOUND for a host that does not exist", async () => {
    const error = await failure(
      clientCredentialsGrant({ ...options(), tokenUrl: "https://tokenkeep.invalid/token" })(),
    );
    expect(error.message).toMatch(
      /^token request to https:\/\/tokenkeep\.invalid\/token failed: (ENOTFOUND|EAI_AGAIN)$/,
    );
    expect(error.toJSON()).toMatchObject({
      endpoint: "https://tokenkeep.invalid/token",
      reason: expect.stringMatching(/^(ENOTFOUND|EAI_AGAIN)$/),
    });
  });

  it("names a TLS failure (https to a server that speaks plain http)", async () => {
    const tokenUrl = `${server.url.replace("http:", "https:")}/token`;
    const error = await failure(clientCredentialsGrant({ ...options(), tokenUrl })());
    expect(error.message).toMatch(
      /^token request to https:\/\/127\.0\.0\.1:\d+\/token failed: \S+ \(TLS failure\)$/,
    );
    expect(error.toJSON()).toMatchObject({ endpoint: tokenUrl, reason: expect.stringMatching(/SSL|TLS/) });
  });

  it("names the discovery endpoint that failed", async () => {
    server.script.push({ status: 503 });
    const error = await failure(discover(`${server.url}/realm`));
    expect(error.message).toBe(
      `discovery request to ${server.url}/realm/.well-known/openid-configuration: answered 503`,
    );
    expect(error.toJSON()).toMatchObject({
      endpoint: `${server.url}/realm/.well-known/openid-configuration`,
    });
  });
});
