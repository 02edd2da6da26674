import { inspect } from "node:util";
import { MAX_TIMER_MS } from "@tokenkeep/core/options";
import { generateToken } from "@tokenkeep/pat-server";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { isPatClientError, PatAdminClient } from "../src/index";
import { type Fault, startFaultProxy } from "./helpers/fault-proxy";
import { startTestServer } from "./helpers/pat-server";

const unavailable = (retryAfter: string): Fault => ({ status: 503, headers: { "retry-after": retryAfter } });

describe("retries, through a fault-injecting proxy in front of a real pat-server", () => {
  it("retries a 503 after the Retry-After seconds, then succeeds", async () => {
    const server = await startTestServer();
    const proxy = await startFaultProxy(server.url, ({ path, count }) =>
      path === "/admin/tokens" && count === 1 ? unavailable("1") : "pass",
    );
    await using client = new PatAdminClient({ endpoint: proxy.url, apiKey: server.adminToken });
    const records = await client.list();
    expect(records).toHaveLength(1);
    expect(proxy.seen.get("GET /admin/tokens")).toBe(2);
    expect(server.requests.get("GET /admin/tokens")).toBe(1);
  });

  it("honours Retry-After given as an HTTP date", async () => {
    const server = await startTestServer();
    const proxy = await startFaultProxy(server.url, ({ path, count }) =>
      path === "/admin/tokens" && count === 1
        ? unavailable(new Date(Date.now() + 1_000).toUTCString())
        : "pass",
    );
    await using client = new PatAdminClient({ endpoint: proxy.url, apiKey: server.adminToken });
    await client.list();
    expect(proxy.seen.get("GET /admin/tokens")).toBe(2);
  });

  it("does not wait for a Retry-After longer than maxDelayMs: the error carries it", async () => {
    const server = await startTestServer();
    const proxy = await startFaultProxy(server.url, ({ path }) =>
      path === "/admin/tokens" ? unavailable("120") : "pass",
    );
    await using client = new PatAdminClient({ endpoint: proxy.url, apiKey: server.adminToken });
    const error = await client.list().catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 503, transient: true, retryAfterMs: 120_000 });
    expect(proxy.seen.get("GET /admin/tokens")).toBe(1);
  });

  it("gives up after the retry limit (3 retries: 4 attempts)", async () => {
    const server = await startTestServer();
    const proxy = await startFaultProxy(server.url, ({ path }) =>
      path === "/admin/tokens" ? { status: 502 } : "pass",
    );
    await using client = new PatAdminClient({
      endpoint: proxy.url,
      apiKey: server.adminToken,
      retry: { baseDelayMs: 5 },
    });
    const error = await client.list().catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 502, code: "ERR_PAT_CLIENT_HTTP" });
    expect(proxy.seen.get("GET /admin/tokens")).toBe(4);
  });

  it("tells onRetry before each retry what failed and which attempt comes next", async () => {
    const server = await startTestServer();
    const proxy = await startFaultProxy(server.url, ({ path, count }) =>
      path === "/admin/tokens" && count <= 2 ? { status: 502 } : "pass",
    );
    const states: unknown[] = [];
    await using client = new PatAdminClient({
      endpoint: proxy.url,
      apiKey: server.adminToken,
      retry: { baseDelayMs: 5 },
      onRetry: (state) => states.push({ ...state, error: state.error.message }),
    });
    await client.list();
    const failed = `Failed to list tokens: 502 Injected fault (from ${proxy.url}/admin/tokens)`;
    expect(states).toEqual([
      { operation: "list", attempt: 2, attempts: 4, error: failed },
      { operation: "list", attempt: 3, attempts: 4, error: failed },
    ]);
  });

  it("retries a dropped connection for an idempotent call", async () => {
    const server = await startTestServer();
    const proxy = await startFaultProxy(server.url, ({ path, count }) =>
      path === "/admin/tokens" && count === 1 ? "drop" : "pass",
    );
    await using client = new PatAdminClient({
      endpoint: proxy.url,
      apiKey: server.adminToken,
      retry: { baseDelayMs: 5 },
    });
    expect(await client.list()).toHaveLength(1);
    expect(proxy.seen.get("GET /admin/tokens")).toBe(2);
  });

  it.each([
    ["the server processed it, then the connection dropped", "forward-then-drop"],
    ["the connection dropped once the body was read", "drop"],
  ] as const)("never retries issue once the request reached the server (%s)", async (_, fault) => {
    const server = await startTestServer();
    const proxy = await startFaultProxy(server.url, ({ method, path }) =>
      method === "POST" && path === "/admin/tokens" ? fault : "pass",
    );
    await using client = new PatAdminClient({
      endpoint: proxy.url,
      apiKey: server.adminToken,
      retry: { baseDelayMs: 5 },
    });
    const error = await client.issue({ owner: "once@example.com" }).catch((e: unknown) => e);
    expect(isPatClientError(error) && error.code).toBe("ERR_PAT_CLIENT_NETWORK");
    expect(proxy.seen.get("POST /admin/tokens")).toBe(1);
    // With "forward-then-drop" the server did issue it: a retry would have issued a second token.
    const owners = (await client.list()).map((record) => record.owner);
    expect(owners.filter((owner) => owner === "once@example.com")).toHaveLength(fault === "drop" ? 0 : 1);
    const { accessToken } = await client.getAccessToken();
    for (const text of [String(error), JSON.stringify(error), inspect(error, { depth: 10 })]) {
      expectNoSecretIn(
        text,
        { "the admin PAT": server.adminToken, "the access token": accessToken },
        "the error",
      );
    }
  });

  it("register whose first attempt landed and whose answer was lost resolves with the record, not a 409", async () => {
    const server = await startTestServer();
    const generated = await generateToken({ scryptLog2Cost: 10 });
    const path = `/admin/tokens/${generated.tokenId}`;
    const proxy = await startFaultProxy(server.url, ({ method, path: at, count }) =>
      method === "PUT" && at === path && count === 1 ? "forward-then-drop" : "pass",
    );
    await using client = new PatAdminClient({
      endpoint: proxy.url,
      apiKey: server.adminToken,
      retry: { baseDelayMs: 5 },
    });
    const params = {
      tokenId: generated.tokenId,
      secretPhc: generated.secretPhc,
      owner: "robot@example.com",
      roles: ["deploy", "read", "deploy"],
      expiresAt: Math.floor(Date.now() / 1000) + 3600,
    };
    const record = await client.register(params);
    expect(record).toMatchObject({ tokenId: generated.tokenId, owner: "robot@example.com", isAdmin: false });
    expect(proxy.seen.get(`PUT ${path}`)).toBe(2); // the retry got the 409 of the first attempt's token
    expect(record).not.toHaveProperty("secretPhc");
    // A token that was there before, with another secret or owner, stays a 409 after a retry too.
    const other = await generateToken({ scryptLog2Cost: 10 });
    const otherPath = `/admin/tokens/${other.tokenId}`;
    await client.register({ ...params, tokenId: other.tokenId, secretPhc: other.secretPhc, owner: "first" });
    const dropFirst = await startFaultProxy(server.url, ({ method, path: at, count }) =>
      method === "PUT" && at === otherPath && count === 1 ? "drop" : "pass",
    );
    await using second = new PatAdminClient({
      endpoint: dropFirst.url,
      apiKey: server.adminToken,
      retry: { baseDelayMs: 5 },
    });
    const conflict = await second
      .register({ ...params, tokenId: other.tokenId, secretPhc: other.secretPhc })
      .catch((e: unknown) => e);
    expect(conflict).toMatchObject({ status: 409, operation: "register" });
  });

  it("never retries issue on a 5xx either", async () => {
    const server = await startTestServer();
    const proxy = await startFaultProxy(server.url, ({ method, path }) =>
      method === "POST" && path === "/admin/tokens" ? unavailable("0") : "pass",
    );
    await using client = new PatAdminClient({ endpoint: proxy.url, apiKey: server.adminToken });
    const error = await client.issue({ owner: "x" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 503, operation: "issue" });
    expect(proxy.seen.get("POST /admin/tokens")).toBe(1);
  });

  it("retries a rate-limited exchange after its Retry-After", async () => {
    const server = await startTestServer();
    const proxy = await startFaultProxy(server.url, ({ path, count }) =>
      path === "/auth/token" && count === 1 ? { status: 429, headers: { "retry-after": "1" } } : "pass",
    );
    await using client = new PatAdminClient({ endpoint: proxy.url, apiKey: server.adminToken });
    await client.list();
    expect(proxy.seen.get("POST /auth/token")).toBe(2);
    expect(server.exchanges()).toBe(1);
  });

  it("turns retrying off with retry: false", async () => {
    const server = await startTestServer();
    const proxy = await startFaultProxy(server.url, ({ path }) =>
      path === "/admin/tokens" ? unavailable("0") : "pass",
    );
    await using client = new PatAdminClient({ endpoint: proxy.url, apiKey: server.adminToken, retry: false });
    await expect(client.list()).rejects.toMatchObject({ status: 503 });
    expect(proxy.seen.get("GET /admin/tokens")).toBe(1);
  });

  it("abandons an attempt after timeoutMs and retries idempotent calls, then reports a timeout", async () => {
    const server = await startTestServer();
    const proxy = await startFaultProxy(server.url, ({ path }) =>
      path === "/admin/tokens" ? "hang" : "pass",
    );
    await using client = new PatAdminClient({
      endpoint: proxy.url,
      apiKey: server.adminToken,
      timeoutMs: 500,
      retry: { limit: 1, baseDelayMs: 5 },
    });
    await client.getAccessToken(); // exchange first: only the hanging call may meet the timeout
    const error = await client.list().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_PAT_CLIENT_TIMEOUT", transient: true, operation: "list" });
    expect(proxy.seen.get("GET /admin/tokens")).toBe(2);
  });

  it("does not retry issue after a timeout (the server may be processing it)", async () => {
    const server = await startTestServer();
    const proxy = await startFaultProxy(server.url, ({ method, path }) =>
      method === "POST" && path === "/admin/tokens" ? "hang" : "pass",
    );
    await using client = new PatAdminClient({
      endpoint: proxy.url,
      apiKey: server.adminToken,
      timeoutMs: 500,
    });
    await client.getAccessToken();
    await expect(client.issue({ owner: "slow" })).rejects.toMatchObject({ code: "ERR_PAT_CLIENT_TIMEOUT" });
    expect(proxy.seen.get("POST /admin/tokens")).toBe(1);
  });

  it("stops when the caller's signal aborts", async () => {
    const server = await startTestServer();
    const proxy = await startFaultProxy(server.url, ({ path }) =>
      path === "/admin/tokens" ? "hang" : "pass",
    );
    await using client = new PatAdminClient({ endpoint: proxy.url, apiKey: server.adminToken });
    // Exchange first, so the abort lands in the admin call even when a loaded machine is slow.
    await client.getAccessToken();
    const controller = new AbortController();
    const pending = client.list({}, { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await expect(pending).rejects.toMatchObject({ code: "ERR_PAT_CLIENT_ABORTED", operation: "list" });
    await expect(client.list({}, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: "ERR_PAT_CLIENT_ABORTED",
    });
  });

  it("after an exchange refused with a long Retry-After, fails fast until it has passed", async () => {
    const server = await startTestServer();
    const proxy = await startFaultProxy(server.url, ({ path }) =>
      path === "/auth/token" ? { status: 429, headers: { "retry-after": "120" } } : "pass",
    );
    await using client = new PatAdminClient({ endpoint: proxy.url, apiKey: server.adminToken });
    // The answer itself: THROTTLED, as the calls after it, with the status it came with.
    const first = await client.list().catch((e: unknown) => e);
    expect(first).toMatchObject({
      code: "ERR_PAT_CLIENT_THROTTLED",
      status: 429,
      operation: "exchange",
      transient: true,
      retryAfterMs: 120_000,
    });
    expect((first as Error).message).toMatch(/: 429 .*\(from .*\/auth\/token\); asked to wait 120 s$/);
    const again = await client.list().catch((e: unknown) => e);
    expect(again).toMatchObject({ code: "ERR_PAT_CLIENT_THROTTLED", operation: "exchange", transient: true });
    expect((again as { status?: number }).status).toBeUndefined(); // nothing was sent
    expect((again as Error).message).toMatch(
      /the PAT service asked to wait \(Retry-After\); not sent, retry in 1[12]\d s$/,
    );
    expect((again as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(100_000);
    expect(proxy.seen.get("POST /auth/token")).toBe(1);
  });

  it("after the last retry of an exchange answered with Retry-After, THROTTLED too; an admin route's stays HTTP", async () => {
    const server = await startTestServer();
    let limited = "/auth/token";
    const proxy = await startFaultProxy(server.url, ({ path }) =>
      path === limited ? { status: 429, headers: { "retry-after": "1" } } : "pass",
    );
    const retries: string[] = [];
    await using client = new PatAdminClient({
      endpoint: proxy.url,
      apiKey: server.adminToken,
      retry: { limit: 1 },
      onRetry: ({ error }) => retries.push(error.code),
    });
    const error = await client.list().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_PAT_CLIENT_THROTTLED", status: 429, retryAfterMs: 1_000 });
    expect(retries).toEqual(["ERR_PAT_CLIENT_HTTP"]); // a retry followed that one
    expect(proxy.seen.get("POST /auth/token")).toBe(2);

    // An admin route has no waiting window that later calls share: its 429 stays an HTTP error.
    limited = "/admin/tokens";
    await using admin = new PatAdminClient({ endpoint: proxy.url, apiKey: server.adminToken, retry: false });
    const refused = await admin.list().catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "ERR_PAT_CLIENT_HTTP", status: 429, operation: "list" });
  });

  it("accepts every retry and timeout option at its limit (the exchange's bound is capped, not refused)", () => {
    const endpoint = "http://127.0.0.1:9";
    for (const options of [
      { retry: { maxDelayMs: 1_000_000_000 } },
      { retry: { limit: 10, maxDelayMs: MAX_TIMER_MS }, timeoutMs: MAX_TIMER_MS },
      { retry: false as const, timeoutMs: MAX_TIMER_MS },
    ]) {
      expect(
        () => new PatAdminClient({ endpoint, apiKey: "pat_x", ...options }),
        JSON.stringify(options),
      ).not.toThrow();
    }
  });

  it("lets the exchange's retries run their whole policy, past core's default 30 s fetch budget", async () => {
    // Fake timeouts (ky's waits and attempt limits, the token manager's bounds); the sockets stay real.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const server = await startTestServer();
    const proxy = await startFaultProxy(server.url, ({ path, count }) =>
      path === "/auth/token" && count <= 2 ? unavailable("20") : "pass",
    );
    await using client = new PatAdminClient({ endpoint: proxy.url, apiKey: server.adminToken });
    const pending = client.getAccessToken().then(
      (token) => token,
      (error: unknown) => error,
    );
    // Two 503s asking for 20 s each (within maxDelayMs, 30 s): 40 s in all, then the exchange passes.
    for (const attempt of [1, 2]) {
      for (let turn = 0; proxy.seen.get("POST /auth/token") !== attempt; turn++) {
        if (turn > 100_000) throw new Error(`attempt ${attempt} never reached the proxy`);
        await new Promise((resolve) => setImmediate(resolve));
      }
      await vi.advanceTimersByTimeAsync(20_000);
    }
    const result = await pending;
    expect(isPatClientError(result) ? result.toJSON() : result).toMatchObject({ tokenType: "Bearer" });
    expect(proxy.seen.get("POST /auth/token")).toBe(3);
  });
});
