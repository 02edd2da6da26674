// Overhead of createAuthFetch over plain fetch: sequential authenticated GETs to a loopback
// resource, the two interleaved in blocks in one process so both see the same machine state.
// Run with `pnpm run bench` (after `pnpm run build`). Target: ratio at most 1.03.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createTokenManager } from "@tokenkeep/core";
import { createAuthFetch } from "@tokenkeep/core/http";
import { clientCredentialsGrant } from "@tokenkeep/grants";

const REQUESTS = 2_000;
const BLOCK = 50;
const TARGET_RATIO = 1.03;
const TOKEN = "bench-access-token";

async function start(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const auth = await start((_request, response) => {
  response.writeHead(200, { "content-type": "application/json" });
  response.end(JSON.stringify({ access_token: TOKEN, token_type: "Bearer", expires_in: 3600 }));
});
const api = await start((request, response) => {
  const ok = request.headers.authorization === `Bearer ${TOKEN}`;
  response.writeHead(ok ? 200 : 401, { "content-type": "application/json" });
  response.end(ok ? '{"ok":true}' : '{"ok":false}');
});

const manager = createTokenManager({
  creator: clientCredentialsGrant({
    tokenUrl: `${auth.url}/token`,
    clientId: "bench",
    clientSecret: "bench",
  }),
});
const authFetch = createAuthFetch(manager, { origins: [api.url] });
const url = `${api.url}/resource`;

const viaAuthFetch = async () => {
  const response = await authFetch(url);
  if (response.status !== 200) throw new Error(`authFetch got ${response.status}`);
  await response.arrayBuffer();
};
const viaFetch = async () => {
  const response = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
  if (response.status !== 200) throw new Error(`fetch got ${response.status}`);
  await response.arrayBuffer();
};

async function block(run: () => Promise<void>): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < BLOCK; i++) await run();
  return performance.now() - start;
}

// Warm up both paths (connection pool, JIT, the first token).
for (let i = 0; i < 200; i++) {
  await viaAuthFetch();
  await viaFetch();
}

let plain = 0;
let authorized = 0;
const blockRatios: number[] = [];
for (let round = 0; round < REQUESTS / BLOCK; round++) {
  // Alternate which goes first so neither always runs on a warmer connection.
  let plainMs: number;
  let authorizedMs: number;
  if (round % 2 === 0) {
    plainMs = await block(viaFetch);
    authorizedMs = await block(viaAuthFetch);
  } else {
    authorizedMs = await block(viaAuthFetch);
    plainMs = await block(viaFetch);
  }
  plain += plainMs;
  authorized += authorizedMs;
  blockRatios.push(authorizedMs / plainMs);
}

// The median of adjacent-block ratios resists bursts of load from other processes; the ratio of the
// totals is printed too.
const sorted = blockRatios.toSorted((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)]!;
console.log(`${REQUESTS} sequential GETs each, interleaved in blocks of ${BLOCK}:`);
console.log(`  plain fetch + fixed header: ${(plain / REQUESTS).toFixed(3)} ms/request`);
console.log(`  createAuthFetch + manager:  ${(authorized / REQUESTS).toFixed(3)} ms/request`);
console.log(`  ratio of totals: ${(authorized / plain).toFixed(3)}`);
console.log(
  `  ratio (median of ${blockRatios.length} block pairs): ${median.toFixed(3)} (target <= ${TARGET_RATIO}) ${median <= TARGET_RATIO ? "OK" : "OVER"}`,
);

await manager.dispose();
await Promise.all([auth, api].map(({ server }) => new Promise((resolve) => server.close(resolve))));
