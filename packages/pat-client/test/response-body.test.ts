import { createServer, type ServerResponse } from "node:http";
import { listTokensResponseSchema } from "@tokenkeep/pat-protocol";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { MAX_RESPONSE_BYTES } from "../src/defaults";
import { PatAdminClient } from "../src/index";
import { createHttp } from "../src/internal/http";
import { listenForTest } from "./helpers/listen";

const RECORD = { tokenId: "AAAAAAAAAAAAAAAAAAAAA", owner: "o", isAdmin: false, roles: [], createdAt: 1 };

/**
 * A server on 127.0.0.1 whose exchange works and whose admin routes answer with `admin`; it counts
 * the connections still open, to check the client closes the ones it gives up on.
 */
async function startServer(
  admin: (res: ServerResponse) => void,
): Promise<{ url: string; open: () => number }> {
  let open = 0;
  const server = createServer((req, res) => {
    req.resume();
    if (req.url?.startsWith("/auth/token")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ access_token: "h.p.s", token_type: "Bearer", expires_in: 3600 }));
      return;
    }
    open++;
    res.on("close", () => open--);
    admin(res);
  });
  return { url: await listenForTest(server), open: () => open };
}

describe("an answer's body is bounded in time and size", () => {
  it("a 200 whose body never ends fails after timeoutMs, with its status, and the connection is closed", async () => {
    const server = await startServer((res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"records":['); // and never more
    });
    await using client = new PatAdminClient({
      endpoint: server.url,
      apiKey: "pat_x",
      timeoutMs: 300,
      retry: false,
    });
    const error = await client.list().catch((e: unknown) => e);
    // The status tells this apart from ky's timeout, which ends with the headers.
    expect(error).toMatchObject({
      code: "ERR_PAT_CLIENT_TIMEOUT",
      status: 200,
      operation: "list",
      transient: true,
    });
    await expect.poll(() => server.open()).toBe(0);
  });

  it("the caller's signal stops a body read: ERR_PAT_CLIENT_ABORTED with the answer's status", async () => {
    const server = await startServer((res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"records":[');
    });
    const controller = new AbortController();
    // The runtime's fetch, told when an admin answer's headers are in: the abort then hits the body read.
    const fetchThenAbort: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (new URL(response.url).pathname.startsWith("/admin/")) setImmediate(() => controller.abort());
      return response;
    };
    await using client = new PatAdminClient({
      endpoint: server.url,
      apiKey: "pat_x",
      fetch: fetchThenAbort,
      retry: false,
    });
    const error = await client.list({}, { signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ERR_PAT_CLIENT_ABORTED", status: 200, operation: "list" });
    await expect.poll(() => server.open()).toBe(0);
  });

  it("a Content-Length above the limit is refused without reading the body", async () => {
    const server = await startServer((res) => {
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": String(MAX_RESPONSE_BYTES + 1),
      });
      res.write('{"records":[');
    });
    await using client = new PatAdminClient({ endpoint: server.url, apiKey: "pat_x", retry: false });
    const error = await client.list().catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "ERR_PAT_CLIENT_INVALID_RESPONSE",
      status: 200,
      cause: [`(body): larger than ${MAX_RESPONSE_BYTES} bytes`],
    });
    await expect.poll(() => server.open()).toBe(0);
  });

  it("a body without a length is read up to the limit, and no further", async () => {
    const chunk = `${JSON.stringify(RECORD)},`.repeat(20);
    let written = 0;
    let chunks = 100_000; // 200 MB: more than any buffer between the two sides holds
    const server = await startServer((res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"records":[');
      const more = () => {
        while (written < chunks && !res.destroyed) {
          written++;
          if (!res.write(chunk)) return void res.once("drain", more);
        }
        res.end(`${JSON.stringify(RECORD)}]}`);
      };
      more();
    });
    const http = createHttp({
      fetch: undefined,
      timeoutMs: 5_000,
      maxResponseBytes: 10_000,
      retry: { limit: 0, baseDelayMs: 0, maxDelayMs: 0, statusCodes: [] },
      random: Math.random,
      now: Date.now,
      secrets: [],
    });
    const request = {
      operation: "list",
      method: "GET",
      url: `${server.url}/admin/tokens`,
      idempotent: true,
    } as const;
    const error = await http.json(request, listTokensResponseSchema).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "ERR_PAT_CLIENT_INVALID_RESPONSE",
      cause: ["(body): larger than 10000 bytes"],
    });
    await expect.poll(() => server.open()).toBe(0);
    expect(written).toBeLessThan(chunks); // the server was stopped, not read to the end
    // The same body under a limit that holds it is read whole.
    written = 0;
    chunks = 1_000;
    const whole = await createHttp({
      fetch: undefined,
      timeoutMs: 5_000,
      maxResponseBytes: 10_000_000,
      retry: { limit: 0, baseDelayMs: 0, maxDelayMs: 0, statusCodes: [] },
      random: Math.random,
      now: Date.now,
      secrets: [],
    }).json(request, listTokensResponseSchema);
    expect(whole.records).toHaveLength(20_001);
  });

  it("the exchange's bound counts each attempt's body too: late headers, then a late body, still succeed", async () => {
    // Fake timeouts (ky's, the body read's, the token manager's bound); the sockets stay real.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    let sendHeaders: () => void = () => undefined;
    let sendBody: () => void = () => undefined;
    let requested = false;
    const server = createServer((req, res) => {
      req.resume();
      requested = true;
      sendHeaders = () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.write(" "); // headers out: the body's own window starts
      };
      sendBody = () =>
        res.end(JSON.stringify({ access_token: "h.p.s", token_type: "Bearer", expires_in: 3600 }));
    });
    const url = await listenForTest(server);
    let headersIn = false;
    const seeHeaders: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      headersIn = true;
      return response;
    };
    await using client = new PatAdminClient({
      endpoint: url,
      apiKey: "pat_x",
      fetch: seeHeaders,
      retry: false,
      timeoutMs: 10_000,
    });
    const pending = client.getAccessToken().then(
      (token) => token,
      (error: unknown) => error,
    );
    const until = async (ready: () => boolean) => {
      for (let turn = 0; !ready(); turn++) {
        if (turn > 100_000) throw new Error("never ready");
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    await until(() => requested);
    await vi.advanceTimersByTimeAsync(9_000); // headers within the attempt's 10 s
    sendHeaders();
    await until(() => headersIn);
    await vi.advanceTimersByTimeAsync(9_000); // the body within its own 10 s: 18 s in all
    sendBody();
    const result = await pending;
    expect(result).toMatchObject({ accessToken: "h.p.s", tokenType: "Bearer" });
  });
});
