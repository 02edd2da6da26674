import { request as httpRequest } from "node:http";
import { describe, expect, it, onTestFinished } from "vitest";
import { serve } from "../src/node/serve";
import { startPatServer } from "../src/node/start-pat-server";
import type { RequestContext } from "../src/pat-handler";

describe("serve", () => {
  it("listens on 127.0.0.1 and a free port, and passes the socket address as context", async () => {
    const seen: RequestContext[] = [];
    const served = await serve(async (_request, context) => {
      seen.push(context);
      return new Response("ok");
    });
    onTestFinished(() => served.close());
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(served.url)).text()).toBe("ok");
    expect(seen[0]?.clientAddress).toMatch(/127\.0\.0\.1$/);
  });

  it("refuses absolute-form request targets instead of trusting their host", async () => {
    const served = await serve(async (request) => new Response(request.url));
    onTestFinished(() => served.close());
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = httpRequest(
        { host: "127.0.0.1", port: served.port, path: "http://evil.example/admin/tokens" },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(400);
  });

  it("stops a streamed body at maxBodyBytes even without Content-Length", async () => {
    const server = await startPatServer({ scryptLog2Cost: 10, maxBodyBytes: 1024 });
    onTestFinished(() => server.close());
    const chunk = new TextEncoder().encode("x".repeat(512));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 8) return controller.close();
        sent += 1;
        controller.enqueue(chunk);
      },
    });
    const response = await fetch(`${server.url}/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: { code: "ERR_BODY_TOO_LARGE" } });
    expect(await server.store.count()).toBe(0);
  });
});
