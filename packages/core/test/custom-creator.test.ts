/**
 * A custom creator (a plain async function calling the real `fetch`, no tokenkeep errors) whose
 * failures are the runtime's own: a refused connection is retried, a bug is not.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { isTransientError } from "../src/errors/failure-classification.js";
import { createTokenManager } from "../src/manager/token-manager.js";

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A port on 127.0.0.1 that nothing listens on: taken from the OS, then released. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A token endpoint on `port` that counts its requests. */
async function tokenServer(port: number): Promise<{ requests: () => number }> {
  let requests = 0;
  const server = createServer((_request, response) => {
    requests++;
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ access_token: `at-${requests}`, token_type: "Bearer", expires_in: 3600 }));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { requests: () => requests };
}

describe("a custom creator calling the real fetch", () => {
  it("rejects with a failure the classifier retries when nothing listens", async () => {
    const failure = await fetch(`http://127.0.0.1:${await freePort()}/token`).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(TypeError);
    expect(isTransientError(failure)).toBe(true);
  });

  it("is retried while nothing listens, and succeeds once the server is up", async () => {
    const port = await freePort();
    let attempts = 0;
    let server: { requests: () => number } | undefined;
    const manager = createTokenManager({
      retry: { retries: 3, baseDelayMs: 5, maxDelayMs: 50 },
      creator: async () => {
        attempts++;
        // The first two attempts meet a closed port; the third finds a token endpoint on it.
        if (attempts === 3) server = await tokenServer(port);
        return fetch(`http://127.0.0.1:${port}/token`, { method: "POST" }).then((r) => r.json());
      },
    });
    const set = await manager.getToken();
    expect(set.accessToken).toBe("at-1");
    expect(attempts).toBe(3);
    expect(server?.requests()).toBe(1);
    expect(manager.stats()).toMatchObject({ retries: 2, creatorCalls: 3 });
    await manager.dispose();
  });

  it("surfaces a bug in the creator at once", async () => {
    const port = await freePort();
    const server = await tokenServer(port);
    let attempts = 0;
    const manager = createTokenManager({
      retry: { retries: 3, baseDelayMs: 5, maxDelayMs: 50 },
      creator: async () => {
        attempts++;
        const body = (await fetch(`http://127.0.0.1:${port}/token`).then((r) => r.json())) as {
          data?: { access_token: string; expires_in: number };
        };
        // The endpoint has no `data` envelope: reading through it is a TypeError, a bug.
        return { access_token: body.data!.access_token, expires_in: body.data!.expires_in };
      },
    });
    await expect(manager.getToken()).rejects.toBeInstanceOf(TypeError);
    expect(attempts).toBe(1);
    expect(server.requests()).toBe(1);
    expect(manager.stats().retries).toBe(0);
    await manager.dispose();
  });
});
