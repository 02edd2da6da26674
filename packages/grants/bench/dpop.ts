// CPU cost of a DPoP-authenticated request against a Bearer one: sequential GETs through
// createAuthFetch to a loopback resource, the two interleaved in blocks in one process. DPoP adds a
// proof per request (an ES256 signature over htm, htu, jti, iat and the token's SHA-256).
// Run with `pnpm run bench` (after `pnpm run build`). Target: DPoP adds under 0.3 ms of CPU per request.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createTokenManager } from "@tokenkeep/core";
import { createAuthFetch } from "@tokenkeep/core/http";
import { clientCredentialsGrant } from "@tokenkeep/grants";
import { createDPoP } from "@tokenkeep/grants/dpop";

const REQUESTS = 2_000;
const BLOCK = 50;
const TARGET_EXTRA_CPU_MS = 0.3;

async function start(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

// The token endpoint answers DPoP when the request carried a proof (as servers do), else Bearer.
const auth = await start((request, response) => {
  const dpop = request.headers.dpop !== undefined;
  response.writeHead(200, { "content-type": "application/json" });
  response.end(
    JSON.stringify({ access_token: `t-${dpop}`, token_type: dpop ? "DPoP" : "Bearer", expires_in: 3600 }),
  );
});
// The resource only checks the scheme: the server's own work is the same for both.
const api = await start((request, response) => {
  const [scheme] = (request.headers.authorization ?? "").split(" ");
  const ok = scheme === "Bearer" || (scheme === "DPoP" && typeof request.headers.dpop === "string");
  response.writeHead(ok ? 200 : 401, { "content-type": "application/json" });
  response.end(ok ? '{"ok":true}' : '{"ok":false}');
});

const grant = (fetch?: typeof globalThis.fetch) =>
  clientCredentialsGrant({ tokenUrl: `${auth.url}/token`, clientId: "bench", clientSecret: "bench", fetch });
const dpop = createDPoP();
const bearerManager = createTokenManager({ creator: grant() });
const dpopManager = createTokenManager({ creator: grant(dpop.fetch) });
const bearerFetch = createAuthFetch(bearerManager, { origins: [api.url] });
const dpopFetch = createAuthFetch(dpopManager, { origins: [api.url], fetch: dpop.fetch });
const url = `${api.url}/resource?page=1`;

const call = (authFetch: typeof fetch) => async () => {
  const response = await authFetch(url);
  if (response.status !== 200) throw new Error(`got ${response.status}`);
  await response.arrayBuffer();
};
const viaBearer = call(bearerFetch);
const viaDpop = call(dpopFetch);

/** CPU (user + system) and wall time of one block, in ms. */
async function block(run: () => Promise<void>): Promise<{ cpu: number; wall: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < BLOCK; i++) await run();
  const used = process.cpuUsage(cpu);
  return { cpu: (used.user + used.system) / 1000, wall: performance.now() - start };
}

for (let i = 0; i < 200; i++) {
  await viaBearer();
  await viaDpop();
}

const extra: number[] = [];
const totals = { bearerCpu: 0, dpopCpu: 0, bearerWall: 0, dpopWall: 0 };
for (let round = 0; round < REQUESTS / BLOCK; round++) {
  const first = round % 2 === 0 ? viaBearer : viaDpop;
  const a = await block(first);
  const b = await block(first === viaBearer ? viaDpop : viaBearer);
  const [bearer, dpopBlock] = first === viaBearer ? [a, b] : [b, a];
  totals.bearerCpu += bearer.cpu;
  totals.dpopCpu += dpopBlock.cpu;
  totals.bearerWall += bearer.wall;
  totals.dpopWall += dpopBlock.wall;
  extra.push((dpopBlock.cpu - bearer.cpu) / BLOCK);
}

const median = extra.toSorted((x, y) => x - y)[Math.floor(extra.length / 2)]!;
const perRequest = (ms: number) => `${(ms / REQUESTS).toFixed(3)} ms`;
console.log(`${REQUESTS} sequential GETs each through createAuthFetch, interleaved in blocks of ${BLOCK}`);
console.log("(CPU of the whole process: client, loopback servers and HTTP stack alike):");
console.log(
  `  Bearer: ${perRequest(totals.bearerCpu)} CPU, ${perRequest(totals.bearerWall)} wall per request`,
);
console.log(
  `  DPoP (ES256 proof): ${perRequest(totals.dpopCpu)} CPU, ${perRequest(totals.dpopWall)} wall per request`,
);
console.log(
  `  DPoP adds (median of ${extra.length} block pairs): ${median.toFixed(3)} ms CPU per request (target < ${TARGET_EXTRA_CPU_MS}) ${median < TARGET_EXTRA_CPU_MS ? "OK" : "OVER"}`,
);

// The wrapper alone, in front of a fetch that answers at once: the client's own cost of a proof.
const answered = dpop.wrap(async () => new Response(null, { status: 204 }));
const request = () => new Request(url, { headers: { authorization: "DPoP t-true" } });
for (let i = 0; i < 200; i++) await answered(request());
const before = process.cpuUsage();
for (let i = 0; i < REQUESTS; i++) await answered(request());
const used = process.cpuUsage(before);
const proofMs = (used.user + used.system) / 1000 / REQUESTS;
console.log(
  `  the proof alone (wrapper before a fetch that answers at once): ${proofMs.toFixed(3)} ms CPU per request (target < ${TARGET_EXTRA_CPU_MS}) ${proofMs < TARGET_EXTRA_CPU_MS ? "OK" : "OVER"}`,
);

await Promise.all([bearerManager.dispose(), dpopManager.dispose()]);
await Promise.all([auth, api].map(({ server }) => new Promise((resolve) => server.close(resolve))));
