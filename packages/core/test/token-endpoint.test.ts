/**
 * The manager against a real token endpoint on 127.0.0.1 (port 0) that counts requests, through a
 * creator that uses `fetch` and `readTokenResponse`, as a grant creator would.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readTokenResponse } from "../src/http/read-token-response.js";
import type { Timers } from "../src/internal/timers.js";
import type { TokenEvent } from "../src/manager/events.js";
import { createTokenManager } from "../src/manager/token-manager.js";
import { createFakeTime } from "./support/fake-time.js";

type Script = (response: ServerResponse, count: number) => void;

let url = "";
let requests = 0;
let script: Script = () => {};
const server = createServer((request, response) => {
  let body = "";
  request.on("data", (chunk: Buffer) => {
    body += chunk.toString();
  });
  request.on("end", () => {
    requests++;
    // An assertion thrown here would crash the handler, not fail the test: answer an error instead,
    // which fails the test's getToken.
    if (body !== "grant_type=client_credentials") json(response, 400, { error: "invalid_request" });
    else script(response, requests);
  });
});

function json(response: ServerResponse, status: number, body: object, headers: Record<string, string> = {}) {
  response.writeHead(status, { "content-type": "application/json", ...headers });
  response.end(JSON.stringify(body));
}

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  requests = 0;
});

function manager(now: () => number = Date.now, onEvent?: (event: TokenEvent) => void, timers?: Timers) {
  return createTokenManager({
    now,
    onEvent,
    timers,
    retry: { baseDelayMs: 5, maxDelayMs: 2_000 },
    creator: async ({ signal }) => {
      const sentAt = now();
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "grant_type=client_credentials",
        signal,
      });
      return readTokenResponse(response, { sentAt, now });
    },
  });
}

describe("token manager against a real token endpoint", () => {
  it("makes one request for 1,000 concurrent callers, and one more just after expiry", async () => {
    script = (response, count) =>
      setTimeout(
        () => json(response, 200, { access_token: `at-${count}`, token_type: "bearer", expires_in: 60 }),
        20,
      );
    let offset = 0;
    await using tokens = manager(() => Date.now() + offset);
    const first = await Promise.all(Array.from({ length: 1_000 }, () => tokens.getToken()));
    expect(new Set(first.map((set) => set.accessToken))).toEqual(new Set(["at-1"]));
    expect(requests).toBe(1);
    offset = 60_000;
    const second = await Promise.all(Array.from({ length: 1_000 }, () => tokens.getToken()));
    expect(new Set(second.map((set) => set.accessToken))).toEqual(new Set(["at-2"]));
    expect(requests).toBe(2);
    expect(await tokens.getAuthorizationHeader()).toBe("Bearer at-2");
  });

  it("retries a 503 with Retry-After once the whole wait has passed, then succeeds", async () => {
    script = (response, count) =>
      count === 1
        ? json(response, 503, { error: "temporarily_unavailable" }, { "retry-after": "1" })
        : json(response, 200, { access_token: "after-retry", expires_in: 60 });
    // The server is real, the wait is on fake timers: the test checks the wait itself, not only the
    // delay the retry event reports, and spends no real second on it.
    const time = createFakeTime(Date.now(), { crypto: false });
    const delays: number[] = [];
    let retried!: () => void;
    const retry = new Promise<void>((resolve) => (retried = resolve));
    await using tokens = manager(
      time.now,
      (event) => {
        if (event.type !== "retry") return;
        delays.push(event.delayMs ?? 0);
        retried();
      },
      time.timers,
    );
    const pending = tokens.getToken();
    await retry; // the 503 was read: the manager waits on its timers now
    expect(delays).toEqual([expect.any(Number)]);
    expect(delays[0]).toBeGreaterThanOrEqual(1_000);
    await time.advance(999);
    expect(tokens.stats().creatorCalls).toBe(1); // no second attempt before the server's second
    await time.advance(delays[0]! - 999);
    expect(tokens.stats().creatorCalls).toBe(2);
    expect((await pending).accessToken).toBe("after-retry");
    expect(requests).toBe(2);
    expect(tokens.stats().retries).toBe(1);
  });

  it("a Retry-After date decades away: no wait, and callers are held off maxThrottleMs at most", async () => {
    script = (response, count) =>
      count === 1
        ? json(
            response,
            503,
            { error: "temporarily_unavailable" },
            { "retry-after": "Fri, 01 Jan 2100 00:00:00 GMT" },
          )
        : json(response, 200, { access_token: "after-window", expires_in: 60 });
    let offset = 0;
    const startedAt = Date.now();
    await using tokens = manager(() => Date.now() + offset);
    const failure = await tokens.getToken().catch((error: unknown) => error);
    // The server's wait, read from the header, reaches the caller as it is ...
    expect((failure as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(365 * 86_400_000);
    expect(Date.now() - startedAt).toBeLessThan(5_000); // ... but is not waited for inline
    const throttled = await tokens.getToken().catch((error: unknown) => error);
    expect(throttled).toMatchObject({ code: "ERR_TOKENKEEP_THROTTLED" });
    expect((throttled as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(300_000);
    offset = 300_000; // maxThrottleMs's default
    expect((await tokens.getToken()).accessToken).toBe("after-window");
    expect(requests).toBe(2);
  });

  it("retries an HTML error page from a proxy (not JSON) as transient", async () => {
    script = (response, count) => {
      if (count === 1) {
        response.writeHead(502, { "content-type": "text/html" });
        response.end("<html>bad gateway</html>");
      } else json(response, 200, { access_token: "behind-proxy", expires_in: 60 });
    };
    await using tokens = manager();
    expect((await tokens.getToken()).accessToken).toBe("behind-proxy");
    expect(requests).toBe(2);
  });

  it("surfaces invalid_client at once, with a single request", async () => {
    script = (response) => json(response, 401, { error: "invalid_client", error_description: "bad secret" });
    await using tokens = manager();
    await expect(tokens.getToken()).rejects.toMatchObject({ error: "invalid_client", status: 401 });
    expect(requests).toBe(1);
  });
});
