import { type AddressInfo, createServer } from "node:net";
import { inspect } from "node:util";
import { generateToken } from "@tokenkeep/pat-server";
import { describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { mintSecret, registerSecret } from "../../../test/reliability/src/secret-registry.js";
import { isApiError, isPatClientError, PatAdminClient, PatClientError } from "../src/index";
import { startEchoServer } from "./helpers/echo-server";
import { startFaultProxy } from "./helpers/fault-proxy";
import { startTestServer } from "./helpers/pat-server";

/** A loopback URL where nothing listens any more. */
async function closedPort(): Promise<{ url: string }> {
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const { port } = listener.address() as AddressInfo;
  await new Promise<void>((resolve) => listener.close(() => resolve()));
  return { url: `http://127.0.0.1:${port}` };
}

async function failure(promise: Promise<unknown>): Promise<PatClientError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isPatClientError(error)) throw new Error(`expected a PatClientError, got ${String(error)}`);
  return error;
}

/** Every way an error can be shown or logged: none may contain a secret. */
function renderings(error: unknown): string[] {
  return [String(error), (error as Error).message, JSON.stringify(error), inspect(error, { depth: 10 })];
}

describe("structured errors from a real pat-server", () => {
  it("400: an Error whose cause is the ApiError body, with status and details", async () => {
    const server = await startTestServer();
    await using client = new PatAdminClient({ endpoint: server.url, apiKey: server.adminToken });
    const error = await failure(client.issue({ owner: "" }));
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(PatClientError);
    expect(error).toMatchObject({ status: 400, code: "ERR_PAT_CLIENT_HTTP", operation: "issue" });
    expect(isApiError(error.cause)).toBe(true);
    expect(error.message).toMatch(/^Failed to issue token: 400 /);
    expect(error.transient).toBe(false);
  });

  it("401: a wrong PAT fails the exchange, without a replay and without the PAT in any rendering", async () => {
    const server = await startTestServer();
    const { token } = await generateToken({ scryptLog2Cost: 10 }); // well-formed, never stored
    await using client = new PatAdminClient({ endpoint: server.url, apiKey: token });
    const error = await failure(client.list());
    expect(error).toMatchObject({ status: 401, operation: "exchange" });
    expect(isApiError(error.cause)).toBe(true);
    expect(server.exchanges()).toBe(1);
    expect(server.requests.get("GET /admin/tokens")).toBeUndefined();
    for (const text of renderings(error)) expectNoSecretIn(text, token, "the error");
  });

  it("403: a non-admin token gets Admin access required", async () => {
    const server = await startTestServer();
    const user = await server.issue({ owner: "user" });
    await using client = new PatAdminClient({ endpoint: server.url, apiKey: user.token });
    const error = await failure(client.list());
    expect(error.status).toBe(403);
    expect(isApiError(error.cause) && error.cause.error.message).toBe("Admin access required");
    const { accessToken } = await client.getAccessToken();
    for (const text of renderings(error)) {
      expectNoSecretIn(text, { "the PAT": user.token, "the access token": accessToken }, "the error");
    }
  });

  it("404 and 409: not found and already exists, with the server's codes", async () => {
    const server = await startTestServer();
    await using client = new PatAdminClient({ endpoint: server.url, apiKey: server.adminToken });
    const missing = "B".repeat(21);
    const calls = [
      () => client.revoke(missing),
      () => client.restore(missing),
      () => client.update(missing, { owner: "x" }),
    ];
    for (const call of calls) {
      const error = await failure(call());
      expect(error.status).toBe(404);
      expect(isApiError(error.cause) && error.cause.error.code).toBe("ERR_TOKEN_NOT_FOUND");
    }
    const { record } = await client.issue({ owner: "first" });
    const conflict = await failure(client.issue({ owner: "second", tokenId: record.tokenId }));
    expect(conflict.status).toBe(409);
    expect(isApiError(conflict.cause) && conflict.cause.error.code).toBe("ERR_TOKEN_EXISTS");
    const generated = await generateToken({ tokenId: record.tokenId, scryptLog2Cost: 10 });
    const registered = await failure(
      client.register({ tokenId: record.tokenId, secretPhc: generated.secretPhc, owner: "again" }),
    );
    expect(registered.status).toBe(409);
  });

  it("parses any JSON media type, falls back to the status text, and redacts echoed secrets", async () => {
    const server = await startTestServer();
    let mode: "problem" | "html" | "echo" = "problem";
    const proxy = await startFaultProxy(server.url, ({ path }) => {
      if (path === "/auth/token") return "pass";
      if (mode === "problem") {
        return {
          status: 409,
          headers: { "content-type": "application/problem+json" },
          body: JSON.stringify({ error: { message: "Conflict here", code: "X" } }),
        };
      }
      if (mode === "html") {
        return { status: 404, headers: { "content-type": "text/html" }, body: "<h1>Not Found</h1>" };
      }
      // A server echoing what it received, including the JWT and the PAT.
      return {
        status: 400,
        body: JSON.stringify({
          error: { message: `bad request from ${server.adminToken}`, details: { auth: `Bearer ${jwt}` } },
        }),
      };
    });
    await using client = new PatAdminClient({ endpoint: proxy.url, apiKey: server.adminToken, retry: false });
    const { accessToken: jwt } = await client.getAccessToken();

    const problem = await failure(client.list());
    expect(problem.status).toBe(409);
    expect(isApiError(problem.cause) && problem.cause.error).toEqual({ message: "Conflict here", code: "X" });

    mode = "html";
    const html = await failure(client.list());
    expect(html).toMatchObject({ status: 404, cause: "Not Found" });

    mode = "echo";
    const echo = await failure(client.list());
    expect(echo.status).toBe(400);
    expect(isApiError(echo.cause) && echo.cause.error.message).toBe("bad request from [redacted]");
    for (const text of [...renderings(echo), JSON.stringify(echo.cause)]) {
      expectNoSecretIn(text, { "the admin PAT": server.adminToken, "the JWT": jwt }, "the error");
    }
  });

  it("redacts the PAT a server echoes form-encoded, as the exchange sent it (errors and onRetry)", async () => {
    // `+`, `/`, `=`, `%`, `:`, `&` and a space: all changed by form encoding, as base64's are.
    const prefix = "pat_34NwRzAbCdEfGhIjKlMnO.";
    const pat = mintSecret("PAT", { prefix, odd: true });
    expect(new URLSearchParams({ client_secret: pat }).toString()).toContain("%2B%2F%3D");
    // The part every encoding leaves as it is: found in any form of the PAT, whole or encoded.
    const clearPart = pat.slice(0, prefix.length + 12);
    const server = await startEchoServer((count) => (count === 1 ? 503 : 400));
    const retries: PatClientError[] = [];
    await using client = new PatAdminClient({
      endpoint: server.url,
      apiKey: pat,
      retry: { limit: 1, baseDelayMs: 0 },
      onRetry: ({ error }) => retries.push(error),
    });
    const error = await failure(client.list());
    expect(error).toMatchObject({ status: 400, operation: "exchange" });
    expect(error.message).toContain(
      "invalid request: grant_type=client_credentials&client_secret=[redacted]",
    );
    expect(retries.map((retry) => retry.status)).toEqual([503]);
    for (const failed of [error, ...retries]) {
      for (const text of [...renderings(failed), JSON.stringify(failed.cause)]) {
        expectNoSecretIn(text, { "the PAT": pat, "the PAT's first characters": clearPart }, "the error");
      }
    }
  });

  it("redacts a short apiKey a server echoes, where it stands alone (as core's redactSecrets)", async () => {
    const apiKey = "k3y+/=7"; // 7 characters: ignored before, as anything under 8
    const server = await startEchoServer(() => 400);
    await using client = new PatAdminClient({ endpoint: server.url, apiKey, retry: false });
    const error = await failure(client.list());
    expect(error.message).toContain(
      "invalid request: grant_type=client_credentials&client_secret=[redacted]",
    );
    for (const text of [...renderings(error), JSON.stringify(error.cause)]) {
      expectNoSecretIn(text, { "the apiKey": apiKey }, "the error");
      expect(text).not.toContain("k3y%2B%2F%3D7");
    }
  });

  it("a 2xx answer that is not JSON is an invalid-response error that quotes none of the body", async () => {
    const server = await startTestServer();
    const body = "access_token=eyJhbGciOiJFZERTQSJ9.secretpart&token_type=Bearer";
    const proxy = await startFaultProxy(server.url, ({ path }) =>
      path === "/auth/token" ? "pass" : { status: 200, headers: { "content-type": "text/plain" }, body },
    );
    await using client = new PatAdminClient({ endpoint: proxy.url, apiKey: server.adminToken });
    const error = await failure(client.list());
    expect(error).toMatchObject({ code: "ERR_PAT_CLIENT_INVALID_RESPONSE", status: 200 });
    expect(error.message).toContain("not JSON");
    for (const text of renderings(error)) expectNoSecretIn(text, /access_tok/, "the error");
  });

  it("an answer that breaks the protocol is an invalid-response error naming the field", async () => {
    const server = await startTestServer();
    const proxy = await startFaultProxy(server.url, ({ path }) =>
      path === "/auth/token" ? "pass" : { status: 200, body: JSON.stringify({ records: [{ tokenId: 7 }] }) },
    );
    await using client = new PatAdminClient({ endpoint: proxy.url, apiKey: server.adminToken });
    const error = await failure(client.list());
    expect(error.code).toBe("ERR_PAT_CLIENT_INVALID_RESPONSE");
    expect(error.message).toContain("records.0.tokenId");
  });
});

describe("the PAT never travels in clear text", () => {
  it("refuses an http endpoint to a host that is not loopback, unless allowInsecureRequests", () => {
    const error = (() => {
      try {
        new PatAdminClient({
          endpoint: "http://192.0.2.2:8080",
          apiKey: registerSecret("pat_secret-value-123", "PAT"),
        });
      } catch (caught) {
        return caught as TypeError & { code?: string };
      }
      throw new Error("expected a throw");
    })();
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe("ERR_TOKENKEEP_INVALID_OPTIONS");
    expect(error.cause).toEqual([
      expect.stringMatching(/^endpoint: expected https \(http only to localhost/),
    ]);
    const fine = [
      { endpoint: "https://192.0.2.2" },
      { endpoint: "http://localhost:3000" },
      { endpoint: "http://127.9.9.9" },
      { endpoint: "http://[::1]:3000" },
      { endpoint: "http://192.0.2.2", allowInsecureRequests: true },
    ];
    for (const options of fine) {
      expect(() => new PatAdminClient({ ...options, apiKey: "pat_x" }), options.endpoint).not.toThrow();
    }
  });
});

describe("redirects are not followed", () => {
  it("a 307 of the exchange is an error: the PAT is not sent where it points", async () => {
    const server = await startTestServer();
    const elsewhere = await startTestServer();
    const proxy = await startFaultProxy(server.url, ({ path }) =>
      path === "/auth/token" ? { status: 307, headers: { location: `${elsewhere.url}/auth/token` } } : "pass",
    );
    await using client = new PatAdminClient({ endpoint: proxy.url, apiKey: server.adminToken, retry: false });
    const error = await failure(client.list());
    expect(error).toMatchObject({ status: 307, operation: "exchange", code: "ERR_PAT_CLIENT_HTTP" });
    expect(error.message).toContain(`(from ${proxy.url}/auth/token)`);
    expect(elsewhere.requests.size).toBe(0);
  });

  it.each([303, 308])(
    "a %i of an admin route is an error: the JWT is not sent where it points",
    async (status) => {
      const server = await startTestServer();
      const elsewhere = await startTestServer();
      const proxy = await startFaultProxy(server.url, ({ path }) =>
        path === "/admin/tokens"
          ? { status, headers: { location: `${elsewhere.url}/admin/tokens` } }
          : "pass",
      );
      await using client = new PatAdminClient({
        endpoint: proxy.url,
        apiKey: server.adminToken,
        retry: false,
      });
      const error = await failure(client.list());
      expect(error).toMatchObject({ status, operation: "list", code: "ERR_PAT_CLIENT_HTTP" });
      expect(elsewhere.requests.size).toBe(0);
    },
  );
});

describe("errors name the endpoint and the network reason, in the message and in toJSON()", () => {
  it("a wrong path: the 404 names the URL it came from (origin and path, no query string)", async () => {
    const server = await startTestServer();
    await using client = new PatAdminClient({
      endpoint: server.url,
      apiKey: server.adminToken,
      adminPath: "/wrong",
      retry: false,
    });
    const error = await failure(client.list({ hasRole: "ops" }));
    const endpoint = `${server.url}/wrong/tokens`;
    expect(error.message).toBe(`Failed to list tokens: 404 Not found (from ${endpoint})`);
    expect(error.toJSON()).toMatchObject({ endpoint, status: 404 });
    expect(JSON.stringify(error)).not.toContain("hasRole");
  });

  it("nothing listening: ECONNREFUSED", async () => {
    const server = await startTestServer();
    const closed = await closedPort();
    await using client = new PatAdminClient({
      endpoint: closed.url,
      apiKey: server.adminToken,
      retry: false,
    });
    const error = await failure(client.list());
    expect(error.message).toBe(
      `Failed to exchange the personal access token for a JWT: no answer from ${closed.url}/auth/token: ECONNREFUSED`,
    );
    expect(error.toJSON()).toMatchObject({
      code: "ERR_PAT_CLIENT_NETWORK",
      endpoint: `${closed.url}/auth/token`,
      reason: "ECONNREFUSED",
    });
  });

  it("a host that does not exist: ENOTFOUND; https to a plain http server: a TLS failure", async () => {
    const server = await startTestServer();
    await using missing = new PatAdminClient({
      endpoint: "https://tokenkeep.invalid",
      apiKey: server.adminToken,
      retry: false,
    });
    const notFound = await failure(missing.list());
    expect(notFound.message).toMatch(
      /: no answer from https:\/\/tokenkeep\.invalid\/auth\/token: (ENOTFOUND|EAI_AGAIN)$/,
    );
    expect(notFound.toJSON()).toMatchObject({ reason: expect.stringMatching(/^(ENOTFOUND|EAI_AGAIN)$/) });

    const https = server.url.replace("http:", "https:");
    await using tls = new PatAdminClient({ endpoint: https, apiKey: server.adminToken, retry: false });
    const tlsError = await failure(tls.list());
    expect(tlsError.message).toMatch(
      /: no answer from https:\/\/127\.0\.0\.1:\d+\/auth\/token: \S+ \(TLS failure\)$/,
    );
    expect(tlsError.toJSON()).toMatchObject({
      endpoint: `${https}/auth/token`,
      reason: expect.stringMatching(/SSL|TLS/),
    });
    for (const error of [notFound, tlsError]) {
      for (const text of renderings(error)) expectNoSecretIn(text, server.adminToken, "the error");
    }
  });
});
