// The long-running service (src/service.ts, what `npm run demo` runs) counts what its token manager
// does: API calls, tokens from the cache, token requests, refreshes ahead, and retries. The retry is
// real: a fault proxy in front of the local servers' token endpoint answers the first token request
// with 503, then forwards every request to the real endpoint.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { type LocalServers, startLocalServers } from "@tokenkeep/example-local-servers";
import { afterAll, beforeAll, expect, it } from "vitest";
import { registerSecret } from "../../../test/reliability/src/secret-registry.ts";
import type { BackendCounters as Counters } from "../src/service.ts";

const service = fileURLToPath(new URL("../src/service.ts", import.meta.url));

let servers: LocalServers;
let proxy: Server;
let child: ChildProcess | undefined;
const tokenRequests: number[] = []; // the status the proxy answered each token request with

beforeAll(async () => {
  servers = await startLocalServers({ serviceTokenLifetimeS: 4, bootstrapPatAdmin: false });
  registerSecret(servers.service.clientSecret, "client secret");
  registerSecret(servers.clientSecret, "client secret");
  registerSecret(servers.robot.secret, "robot secret");
  proxy = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (tokenRequests.length === 0) {
      tokenRequests.push(503);
      response.writeHead(503, { "content-type": "application/json" });
      response.end('{"error":"temporarily_unavailable"}');
      return;
    }
    const answer = await fetch(`${servers.issuer}/token`, {
      method: "POST",
      headers: {
        authorization: request.headers.authorization ?? "",
        "content-type": request.headers["content-type"] ?? "application/x-www-form-urlencoded",
      },
      body: Buffer.concat(chunks),
    });
    tokenRequests.push(answer.status);
    response.writeHead(answer.status, { "content-type": "application/json", "cache-control": "no-store" });
    response.end(await answer.text());
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
});

afterAll(async () => {
  child?.kill("SIGKILL");
  proxy?.closeAllConnections();
  await new Promise((resolve) => proxy?.close(resolve));
  await servers?.close();
});

it("counts API calls, cache hits, refreshes ahead and a retried token request, and stops on SIGTERM", async () => {
  child = spawn(process.execPath, [service], {
    env: {
      ...process.env,
      TOKEN_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/token`,
      CLIENT_ID: servers.service.clientId,
      CLIENT_SECRET: servers.service.clientSecret,
      API_URL: `${servers.apiUrl}/reports`,
      SCOPE: "reports:read",
      INTERVAL_MS: "200",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));

  const deadline = Date.now() + 30_000;
  let status: string | undefined;
  while (status === undefined) {
    expect(Date.now(), output).toBeLessThan(deadline);
    status = /status: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  let counters: Counters;
  for (;;) {
    ({ counters } = (await (await fetch(status)).json()) as { counters: Counters });
    if (counters.refreshAhead >= 1 && counters.cacheHits >= 1 && counters.fetches >= 3) break;
    expect(Date.now(), JSON.stringify(counters)).toBeLessThan(deadline);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // The first token request answered 503 and was retried once; every API call went through.
  expect(tokenRequests[0]).toBe(503);
  expect(tokenRequests.slice(1).every((code) => code === 200)).toBe(true);
  expect(counters.retries).toBe(1);
  expect(counters.refreshFailures).toBe(0);
  expect(counters.ok).toBe(counters.fetches);
  // Token requests counted once each (the first and the refreshes ahead), its retry not again.
  expect(counters.tokenFetches).toBeGreaterThanOrEqual(2);
  expect(counters.tokenFetches).toBeLessThan(tokenRequests.length + 1);
  expect(output.includes(servers.service.clientSecret), "the client secret in its output").toBe(false);

  child.kill("SIGTERM");
  expect(await exited).toBe(0);
});
