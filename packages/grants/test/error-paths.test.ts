import { inspect } from "node:util";
import {
  isAbortError,
  isInvalidResponseError,
  isNetworkError,
  isOAuthError,
  isTimeoutError,
  type TokenkeepError,
} from "@tokenkeep/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientCredentialsGrant, passwordGrant, refreshTokenGrant } from "../src/index.js";
import { listen } from "./fixtures/http.js";
import { type ScriptedServer, startScriptedServer } from "./fixtures/scripted-server.js";

const SECRET = "s3cr3t-client-value";
const PASSWORD = "pa55-word-value";
const REFRESH = "refresh-token-value";

let server: ScriptedServer;
beforeAll(async () => {
  server = await startScriptedServer();
});
afterAll(() => server.close());

const options = () => ({ tokenUrl: `${server.url}/token`, clientId: "svc", clientSecret: SECRET });
const seen: unknown[] = [];

async function failure(promise: Promise<unknown>): Promise<TokenkeepError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (error === undefined) throw new Error("expected a failure");
  seen.push(error);
  return error as TokenkeepError;
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
    const pending = failure(clientCredentialsGrant(options())({ signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
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

  it("never puts a secret, password or refresh token in an error", async () => {
    server.script.push({ status: 400, body: { error: "invalid_grant" } });
    await failure(passwordGrant({ ...options(), username: "u", password: PASSWORD })());
    server.script.push({
      status: 401,
      headers: { "www-authenticate": 'Basic realm="x"' },
      body: { error: "invalid_client" },
    });
    await failure(refreshTokenGrant({ ...options(), refreshToken: REFRESH })());
    server.script.push({ status: 200, hang: true });
    await failure(refreshTokenGrant({ ...options(), refreshToken: REFRESH, timeoutMs: 50 })());
    // Servers that echo what they refused (Spring Security OAuth does for refresh tokens).
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
    server.script.push({
      status: 401,
      headers: { "www-authenticate": `Basic error_description="bad secret ${SECRET}"` },
      body: { error: "invalid_client", error_description: `bad password ${PASSWORD}` },
    });
    await failure(passwordGrant({ ...options(), username: "u", password: PASSWORD })());
    try {
      clientCredentialsGrant({ ...options(), clientSecret: 7 as unknown as string });
    } catch (error) {
      seen.push(error);
    }
    expect(seen.length).toBeGreaterThanOrEqual(12);
    for (const error of seen) {
      for (const text of [JSON.stringify(error), String(error), inspect(error, { depth: 5 })]) {
        for (const secret of [SECRET, PASSWORD, REFRESH, btoa(`svc:${SECRET}`)]) {
          expect(text).not.toContain(secret);
        }
      }
    }
  });
});
