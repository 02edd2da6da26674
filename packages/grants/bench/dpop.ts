// CPU cost of a DPoP-authenticated request against a Bearer one, on the client: sequential GETs
// through createAuthFetch to a loopback resource, the two interleaved in blocks. DPoP adds a proof per
// request (an ES256 signature over htm, htu, jti, iat and the token's SHA-256).
//
// The token endpoint and the resource server run in a child process, so `process.cpuUsage()` here
// counts the client alone (createAuthFetch, the DPoP wrapper, fetch and its HTTP stack). The resource
// server verifies every proof with jose, as a real one would; its CPU is read from the child and
// printed as information, never counted against the client. A second Bearer baseline is answered only
// after the server verified a proof of its own, so Bearer and DPoP wait for the same server work
// (the client's CPU per request grows with that wait); both differences are printed. On Linux the
// client's CPU is also split per thread (main, thread pool, V8 workers), and the cost of one bare Web
// Crypto ES256 signature is printed: the floor under any proof signed through Web Crypto.
// Run with `pnpm run bench` (after `pnpm run build`). Target: DPoP adds under 0.3 ms of client CPU per request.
import { fork } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { createTokenManager } from "@tokenkeep/core";
import { createAuthFetch } from "@tokenkeep/core/http";
import { clientCredentialsGrant } from "@tokenkeep/grants";
import { createDPoP } from "@tokenkeep/grants/dpop";
import { base64url, EmbeddedJWK, exportJWK, generateKeyPair, jwtVerify, SignJWT } from "jose";

const REQUESTS = 2_000;
const BLOCK = 50;
const WARM_UP = 200;
const TARGET_EXTRA_CPU_MS = 0.3;

/** CPU (user + system) this process used since `since`, in ms. */
const cpuMs = (since?: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

/**
 * CPU time of this process's threads by kind, in ms (Linux only: read from /proc, with nanosecond
 * resolution; `undefined` elsewhere). Node names its thread pool's threads `libuv-worker` (Web Crypto
 * signs there) and V8's helpers `V8Worker` (concurrent GC and compilation).
 */
const threadCpuMs = (): Map<string, number> | undefined => {
  try {
    const totals = new Map<string, number>();
    for (const tid of readdirSync("/proc/self/task")) {
      const name = readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim();
      const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      const kind =
        tid === String(process.pid)
          ? "main thread"
          : name === "libuv-worker"
            ? "thread pool"
            : name === "V8Worker"
              ? "V8 workers"
              : "other threads";
      totals.set(kind, (totals.get(kind) ?? 0) + ns / 1e6);
    }
    return totals;
  } catch {
    return undefined;
  }
};
const THREAD_KINDS = ["main thread", "thread pool", "V8 workers", "other threads"] as const;

/** The child: a token endpoint and a resource server that verifies DPoP proofs, on 127.0.0.1. */
async function serve(): Promise<void> {
  const listen = (handler: Parameters<typeof createServer>[1]) =>
    new Promise<number>((resolve) => {
      const server = createServer(handler);
      server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
    });
  // The token endpoint answers DPoP when the request carried a proof (as servers do), else Bearer.
  const authPort = await listen((request, response) => {
    const dpop = request.headers.dpop !== undefined;
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({ access_token: `t-${dpop}`, token_type: dpop ? "DPoP" : "Bearer", expires_in: 3600 }),
    );
  });
  // The resource checks a Bearer token by its value; a DPoP one also by its proof (RFC 9449 section
  // 4.3: signature with the embedded key, typ, htm, htu and ath).
  const verify = async (proof: string, method: string, url: string, token: string) => {
    try {
      const { payload } = await jwtVerify(proof, EmbeddedJWK, { typ: "dpop+jwt", algorithms: ["ES256"] });
      const ath = base64url.encode(
        new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))),
      );
      return payload.htm === method && payload.htu === url && payload.ath === ath;
    } catch {
      return false;
    }
  };
  // Under /same-work/, a Bearer request waits for the verification of a proof the server made
  // itself (same key type, the same claims with other values), so both take the server as long:
  // the client's CPU per request grows with how long it waits for an answer (colder caches, likely),
  // and that part is the server's latency, not the client's DPoP work.
  const own = await generateKeyPair("ES256");
  const ownProof = await new SignJWT({ htm: "GET", htu: "https://resource.example/", jti: "j", ath: "a" })
    .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: await exportJWK(own.publicKey) })
    .setIssuedAt()
    .sign(own.privateKey);
  const apiPort = await listen(async (request, response) => {
    if (request.url === "/cpu") {
      response.end(String(cpuMs()));
      return;
    }
    const [scheme, token = ""] = (request.headers.authorization ?? "").split(" ");
    const url = `http://${request.headers.host}${request.url}`.split("?")[0]!;
    let ok = scheme === "Bearer" && token === "t-false";
    if (ok && request.url?.startsWith("/same-work/")) {
      // The result is known (false: the claims differ); the work is the point.
      ok = !(await verify(ownProof, "GET", url, token));
    }
    if (scheme === "DPoP" && token === "t-true" && typeof request.headers.dpop === "string") {
      ok = await verify(request.headers.dpop, request.method ?? "", url, token);
    }
    response.writeHead(ok ? 200 : 401, { "content-type": "application/json" });
    response.end(ok ? '{"ok":true}' : '{"ok":false}');
  });
  process.send?.({ authPort, apiPort });
  process.on("disconnect", () => process.exit(0));
}

async function measure(): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ["serve"], { stdio: "inherit" });
  const ports = await new Promise<{ authPort: number; apiPort: number }>((resolve, reject) => {
    child.once("message", (message) => resolve(message as { authPort: number; apiPort: number }));
    child.once("exit", (code) => reject(new Error(`the server process exited with ${code}`)));
  });
  const api = `http://127.0.0.1:${ports.apiPort}`;
  const serverCpuMs = async () => Number(await (await fetch(`${api}/cpu`)).text());

  const grant = (fetch?: typeof globalThis.fetch) =>
    clientCredentialsGrant({
      tokenUrl: `http://127.0.0.1:${ports.authPort}/token`,
      clientId: "bench",
      clientSecret: "bench",
      fetch,
    });
  const dpop = createDPoP();
  const bearerManager = createTokenManager({ creator: grant() });
  const dpopManager = createTokenManager({ creator: grant(dpop.fetch) });
  const bearerFetch = createAuthFetch(bearerManager, { origins: [api] });
  const dpopFetch = createAuthFetch(dpopManager, { origins: [api], fetch: dpop.fetch });
  // A Bearer request through the DPoP wrapper, which passes it on untouched: what the wrapper costs.
  const bearerWrappedFetch = createAuthFetch(bearerManager, { origins: [api], fetch: dpop.fetch });
  const url = `${api}/resource?page=1`;

  const call =
    (authFetch: typeof fetch, target = url) =>
    async () => {
      const response = await authFetch(target);
      if (response.status !== 200) throw new Error(`got ${response.status}`);
      await response.arrayBuffer();
    };
  const runs = {
    bearer: call(bearerFetch),
    bearerSameWork: call(bearerFetch, `${api}/same-work/resource?page=1`),
    dpop: call(dpopFetch),
    bearerWrapped: call(bearerWrappedFetch, `${api}/same-work/resource?page=1`),
  };
  type Kind = keyof typeof runs;
  const kinds = Object.keys(runs) as Kind[];

  /** Per request: this process's CPU, the server process's CPU and the wall time of one block, in ms. */
  async function block(run: () => Promise<void>) {
    const serverBefore = await serverCpuMs();
    const threadsBefore = threadCpuMs();
    const before = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < BLOCK; i++) await run();
    const client = cpuMs(before) / BLOCK;
    const wall = (performance.now() - start) / BLOCK;
    const threadsAfter = threadCpuMs();
    const server = ((await serverCpuMs()) - serverBefore) / BLOCK;
    const threads = Object.fromEntries(
      THREAD_KINDS.map((kind) => [
        kind,
        ((threadsAfter?.get(kind) ?? 0) - (threadsBefore?.get(kind) ?? 0)) / BLOCK,
      ]),
    ) as Record<(typeof THREAD_KINDS)[number], number>;
    return { client, server, wall, threads };
  }

  for (let i = 0; i < WARM_UP; i++) {
    for (const kind of kinds) await runs[kind]();
  }

  const rounds: Record<Kind, Awaited<ReturnType<typeof block>>>[] = [];
  for (let round = 0; round < REQUESTS / BLOCK; round++) {
    // Rotate which goes first, so none always runs on a warmer (or more loaded) moment.
    const results = {} as Record<Kind, Awaited<ReturnType<typeof block>>>;
    for (let i = 0; i < kinds.length; i++) {
      const kind = kinds[(round + i) % kinds.length]!;
      results[kind] = await block(runs[kind]);
    }
    rounds.push(results);
  }

  const median = (values: number[]) => values.toSorted((x, y) => x - y)[Math.floor(values.length / 2)]!;
  const of = (pick: (round: (typeof rounds)[number]) => number) => median(rounds.map(pick));
  const ms = (value: number) => `${value.toFixed(3)} ms`;
  const verdict = (value: number) =>
    `(target < ${TARGET_EXTRA_CPU_MS}) ${value < TARGET_EXTRA_CPU_MS ? "OK" : "OVER"}`;
  const line = (kind: Kind) => `${ms(of((r) => r[kind].client))} CPU, ${ms(of((r) => r[kind].wall))} wall`;

  console.log(
    `${REQUESTS} sequential GETs each way through createAuthFetch, in blocks of ${BLOCK} rotated in turn; medians per request of ${rounds.length} rounds`,
  );
  console.log(
    "client (this process: createAuthFetch, the DPoP wrapper, fetch; the servers run in a child process):",
  );
  console.log(`  Bearer: ${line("bearer")}`);
  console.log(`  Bearer, the server doing a proof verification's work first: ${line("bearerSameWork")}`);
  console.log(`  DPoP (ES256 proof): ${line("dpop")}`);
  console.log(`  Bearer after the same server work, through the DPoP wrapper: ${line("bearerWrapped")}`);
  const extra = of((r) => r.dpop.client - r.bearer.client);
  const extraSameWork = of((r) => r.dpop.client - r.bearerSameWork.client);
  console.log(`  DPoP adds, against Bearer: ${ms(extra)} of client CPU per request ${verdict(extra)}`);
  console.log(
    `  DPoP adds, against Bearer answered after the same server work: ${ms(extraSameWork)} of client CPU per request ${verdict(extraSameWork)}`,
  );
  if (threadCpuMs() !== undefined) {
    const split = THREAD_KINDS.map(
      (thread) => `${thread} ${kinds.map((kind) => ms(of((r) => r[kind].threads[thread]))).join(" / ")}`,
    );
    console.log(
      `  per thread, Bearer / Bearer after the same work / DPoP / Bearer through the wrapper (medians): ${split.join(", ")}`,
    );
  }
  console.log("resource server (the child process; information, not the client's cost):");
  console.log(
    `  verifying the proof (jose, ES256) adds ${ms(of((r) => r.dpop.server - r.bearer.server))} of server CPU per request`,
  );

  // The wrapper alone, in front of a fetch that answers at once: the proof and header, in-process.
  const answered = dpop.wrap(async () => new Response(null, { status: 204 }));
  const request = () => new Request(url, { headers: { authorization: "DPoP t-true" } });
  const plain = async () => new Response(null, { status: 204 });
  for (let i = 0; i < WARM_UP; i++) {
    await answered(request());
    await plain();
  }
  let before = process.cpuUsage();
  for (let i = 0; i < REQUESTS; i++) await answered(request());
  const wrapped = cpuMs(before) / REQUESTS;
  before = process.cpuUsage();
  for (let i = 0; i < REQUESTS; i++) {
    request();
    await plain();
  }
  const proofMs = wrapped - cpuMs(before) / REQUESTS;
  console.log(
    `the proof and header alone (the wrapper before a fetch that answers at once, less the same without it): ${ms(proofMs)} CPU per request ${verdict(proofMs)}`,
  );

  // The floor under any proof: one Web Crypto ES256 signature, with 1 ms of idle between
  // signatures (as between requests) and without, less the same loops without signing. Node runs it
  // on its thread pool; between idle gaps the hand-off and the cold caches cost more than the math.
  const key = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const data = new TextEncoder().encode("x".repeat(600)); // about a proof's signing input
  const signature = () => crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key.privateKey, data);
  const idle = () => new Promise((resolve) => setTimeout(resolve, 1));
  const perCall = async (loop: (i: number) => Promise<unknown>, count: number) => {
    const since = process.cpuUsage();
    const threads = threadCpuMs();
    for (let i = 0; i < count; i++) await loop(i);
    const after = threadCpuMs();
    const main = ((after?.get("main thread") ?? 0) - (threads?.get("main thread") ?? 0)) / count;
    return { cpu: cpuMs(since) / count, main };
  };
  for (let i = 0; i < WARM_UP; i++) await signature();
  const floors: string[] = [];
  for (const [label, gap, count] of [
    ["back to back", false, REQUESTS],
    ["1 ms idle between", true, REQUESTS / 4],
  ] as const) {
    const signing = await perCall(async () => {
      await signature();
      if (gap) await idle();
    }, count);
    const bare = await perCall(async () => {
      await null;
      if (gap) await idle();
    }, count);
    const main = threadCpuMs() === undefined ? "" : ` (main thread ${ms(signing.main - bare.main)})`;
    floors.push(`${label} ${ms(signing.cpu - bare.cpu)}${main}`);
  }
  console.log(`one Web Crypto ES256 signature alone, CPU per signature: ${floors.join("; ")}`);

  await Promise.all([bearerManager.dispose(), dpopManager.dispose()]);
  child.disconnect();
}

if (process.argv[2] === "serve") await serve();
else await measure();
