/**
 * The measurements of @tokenkeep/astro, printed next to their targets (a script, not a test):
 *
 * 1. Overhead: requests per second of a built SSR page that reads the session and calls an upstream
 *    once (bench/fixtures/tokenkeep, /bench), against the same page in the same site without the
 *    integration, calling it with a fixed header (bench/fixtures/plain). The servers are pinned to
 *    CPU 1, one under load at a time; the load generator and the upstream share CPU 0; short rounds
 *    alternate between the sites; the median round's CPU per request is reported, and the CPU over
 *    the plain page as the median of each round's difference. Targets: ratio at least 0.95, server
 *    CPU per page over the plain page at most 100 us.
 *    The same for a built endpoint whose one upstream call is the API client's `get` (`/api-client`)
 *    against plain `fetch` with a fixed header, with two steps between them measured in the same
 *    rounds: ky alone with a fixed header (`/ky-client`, no integration) and the middleware with
 *    plain `fetch` (`/fetch-client`); and the client-side JavaScript each site ships (target: the
 *    integration adds 0 bytes).
 * 2. Rotation storm: 200 sessions whose access tokens expire at once, 5 parallel requests each,
 *    against oidc-provider (rotating, reuse-detecting refresh tokens): exactly 200 refreshes, 0
 *    sessions lost, 0 reuse detections; then the same with 2 instances on one Redis.
 *
 * Run with `pnpm --filter @tokenkeep/astro bench` (needs taskset and, for the Redis part, redis-server);
 * `BENCH_ONLY=api` runs only the API client's figures; `BENCH_ROUNDS` sets the rounds (8).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { Agent, request } from "node:http";
import { connect, createServer } from "node:net";
import { loadavg } from "node:os";
import { join } from "node:path";
import { build } from "astro";
import { type OidcProviderServer, startOidcProvider } from "../../grants/test/fixtures/oidc-provider.js";
import { startRedisServer } from "../../redis/test/support/redis-server.js";
import { cookieHeader, SECRET, signIn, siteEnv } from "../test/helpers/sessions.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const ROUND_MS = 2_000;
const WARMUP_MS = 2_000;
const CONCURRENCY = 32;
const SESSIONS = 200;
const PER_SESSION = 5;
const root = process.cwd(); // pnpm runs scripts in the package folder
const SITE = join(root, "test/fixtures/site");
const PLAIN = join(root, "bench/fixtures/plain");
const MEASURED = join(root, "bench/fixtures/tokenkeep");
const children: ChildProcess[] = [];

process.env.ASTRO_TELEMETRY_DISABLED = "1";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Starts `args` under `taskset -c <cpu>`; resolves once `port` accepts connections. */
async function startPinned(
  cpu: number,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  port: number,
) {
  const child = spawn("taskset", ["-c", String(cpu), process.execPath, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.push(child);
  while (!(await accepts(port))) {
    if (child.exitCode !== null) throw new Error(`${args.join(" ")} exited`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return child;
}

async function startSite(cwd: string, env: Record<string, string>, cpu = 1) {
  const port = await freePort();
  const child = await startPinned(
    cpu,
    ["dist/server/entry.mjs"],
    cwd,
    { HOST: "127.0.0.1", PORT: String(port), ...env },
    port,
  );
  return { url: `http://127.0.0.1:${port}`, child };
}

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });

/** CPU time (user + system) a process used so far, in microseconds. */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return (ticks * 1_000_000) / 100; // USER_HZ is 100 on Linux
}

function get(
  url: string,
  cookie: string | undefined,
  agent: Agent,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: cookie === undefined ? {} : { cookie } }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
      });
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Requests completed in `ms` by CONCURRENCY keep-alive loops; every answer must be the page. */
async function load(url: string, cookie: string | undefined, ms: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const until = performance.now() + ms;
  let done = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const { status, body } = await get(url, cookie, agent);
        if (status !== 200 || !body.includes("upstream ok"))
          throw new Error(`${url}: ${status} ${body.slice(0, 200)}`);
        done++;
      }
    }),
  );
  agent.destroy();
  return done;
}

/** One server variant of an overhead measurement: a built site and the path it is loaded on. */
interface Variant {
  readonly name: string;
  readonly cwd: string;
  readonly path: string;
}

/**
 * Loads each variant in turn (the order reversed every other round), each server on CPU 1 and only
 * one under load at a time, and prints each against the first (the baseline): requests per second
 * and server CPU per request.
 */
async function overhead(label: string, variants: readonly Variant[]): Promise<void> {
  const upstreamPort = await freePort();
  const upstream = [
    'require("node:http").createServer((q, s) => {',
    '  const ok = (q.headers.authorization ?? "").startsWith("Bearer ") && q.headers.authorization.length > 7;',
    '  s.writeHead(ok ? 200 : 401, { "content-type": "application/json" }); s.end(ok ? \'{"ok":true}\' : \'{"ok":false}\');',
    `}).listen(${upstreamPort}, "127.0.0.1");`,
  ].join("\n");
  const upstreamChild = await startPinned(0, ["-e", upstream], root, {}, upstreamPort);
  const env = { BENCH_UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}/data`, TOKENKEEP_SECRET: SECRET };
  const cookie = await cookieHeader({
    accessToken: "bench-access-token",
    tokenType: "Bearer",
    expiresAt: Date.now() + 3_600_000,
    refreshToken: "bench-refresh-token",
  });
  // Every variant is sent the same request bytes (the cookie included). Each server is started
  // once and warmed; then short rounds alternate between them, so a burst of load from elsewhere on
  // the machine falls on every variant alike, and the median round is reported.
  const runs: (Variant & {
    site: Awaited<ReturnType<typeof startSite>>;
    url: string;
    requests: number;
    ms: number;
    cpuPerRequest: number[];
  })[] = [];
  for (const variant of variants) {
    const site = await startSite(variant.cwd, env);
    const url = `${site.url}${variant.path}`;
    await load(url, cookie, WARMUP_MS);
    runs.push({ ...variant, site, url, requests: 0, ms: 0, cpuPerRequest: [] });
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const run of round % 2 === 0 ? runs : [...runs].reverse()) {
      const cpuBefore = cpuMicros(run.site.child.pid!);
      const started = performance.now();
      const requests = await load(run.url, cookie, ROUND_MS);
      run.ms += performance.now() - started;
      run.requests += requests;
      run.cpuPerRequest.push((cpuMicros(run.site.child.pid!) - cpuBefore) / requests);
    }
  }
  await Promise.all(runs.map((run) => stop(run.site.child)));
  await stop(upstreamChild);
  const rps = (run: (typeof runs)[0]) => (run.requests * 1000) / run.ms;
  const median = (values: readonly number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  };
  const cpuPerRequest = (run: (typeof runs)[0]) => median(run.cpuPerRequest);
  const [baseline, ...measured] = runs as [(typeof runs)[0], ...typeof runs];
  // The difference within each round (the variants of a round run back to back, under about the
  // same load from elsewhere), then the median of those.
  const extraCpuOf = (run: (typeof runs)[0]) =>
    median(run.cpuPerRequest.map((cpu, round) => cpu - baseline.cpuPerRequest[round]!));
  const width = Math.max(...runs.map((run) => run.name.length));
  console.log(
    `overhead (${label}, one upstream call, server pinned to CPU 1, ${ROUNDS} rounds of ${ROUND_MS} ms each; ` +
      `load average ${loadavg()
        .map((n) => n.toFixed(1))
        .join(" ")}; CPU/request is the median round's, CPU more the median of each round's difference):`,
  );
  console.log(
    `  ${baseline.name.padEnd(width)} ${rps(baseline).toFixed(0)} req/s, ${cpuPerRequest(baseline).toFixed(0)} us CPU/request`,
  );
  for (const run of measured) {
    const ratio = rps(run) / rps(baseline);
    const extraCpu = extraCpuOf(run);
    console.log(
      `  ${run.name.padEnd(width)} ${rps(run).toFixed(0)} req/s, ${cpuPerRequest(run).toFixed(0)} us CPU/request: ` +
        `ratio ${ratio.toFixed(3)} (target >= 0.95) ${ratio >= 0.95 ? "met" : "MISSED"}, ` +
        `${extraCpu.toFixed(0)} us CPU more (target <= 100) ${extraCpu <= 100 ? "met" : "MISSED"}`,
    );
  }
}

/** Bytes of JavaScript under a built site's dist/client. */
function clientScriptBytes(site: string): number {
  const walk = (folder: string): number =>
    readdirSync(folder, { withFileTypes: true }).reduce((sum, entry) => {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) return sum + walk(path);
      return /\.(m?js)$/.test(entry.name) ? sum + statSync(path).size : sum;
    }, 0);
  try {
    return walk(join(site, "dist/client"));
  } catch {
    return 0; // no client folder: nothing shipped
  }
}

/** 200 expiring sessions, 5 parallel requests each, spread over `urls`. */
async function storm(provider: OidcProviderServer, urls: readonly string[], label: string): Promise<void> {
  let rejected = 0;
  const count = (
    req: { url?: string },
    res: { statusCode: number; once(event: "finish", listener: () => void): void },
  ) => {
    if (req.url?.startsWith("/token")) res.once("finish", () => res.statusCode >= 400 && rejected++);
  };
  provider.server.on("request", count);
  const sessions = [];
  for (let index = 0; index < SESSIONS; index++) {
    sessions.push(await cookieHeader({ ...(await signIn(provider)), expiresAt: Date.now() + 5_000 }));
  }
  const tokenHits = () => provider.hits.get("/token") ?? 0;
  const before = tokenHits();
  const rejectedBefore = rejected;
  const agent = new Agent({ keepAlive: true, maxSockets: 200 });
  const answers = await Promise.all(
    sessions.flatMap((cookie, session) =>
      Array.from({ length: PER_SESSION }, async (_, index) => {
        const url = urls[(session + index) % urls.length]!;
        const { body } = await get(`${url}/api/session`, cookie, agent);
        return JSON.parse(body) as { signedIn: boolean };
      }),
    ),
  );
  agent.destroy();
  provider.server.off("request", count);
  const refreshes = tokenHits() - before;
  const lost = answers.filter((answer) => !answer.signedIn).length;
  const reuse = rejected - rejectedBefore;
  const ok = refreshes === SESSIONS && lost === 0 && reuse === 0;
  console.log(
    `rotation storm, ${label}: ${refreshes} refreshes (target ${SESSIONS}), ${lost} requests signed out (target 0), ` +
      `${reuse} token requests rejected (reuse detections, target 0) ${ok ? "met" : "MISSED"}`,
  );
}

try {
  console.log("building the fixture sites...");
  const only = process.env.BENCH_ONLY;
  for (const site of only === "api" ? [MEASURED, PLAIN] : [SITE, MEASURED, PLAIN]) {
    await build({ root: site, logLevel: "error" });
  }
  const added = clientScriptBytes(MEASURED) - clientScriptBytes(PLAIN);
  console.log(
    `client-side JavaScript added by the integration: ${added} bytes (target 0) ${added === 0 ? "met" : "MISSED"}`,
  );
  if (only !== "api") {
    await overhead("built SSR page", [
      { name: "plain", cwd: PLAIN, path: "/bench" },
      { name: "tokenkeep", cwd: MEASURED, path: "/bench" },
    ]);
  }
  // The API client's endpoint against plain fetch, and two steps between them: ky alone (no
  // integration, a fixed header) and the middleware alone (plain fetch with the session's token).
  await overhead("built endpoint, the API client's get against plain fetch", [
    { name: "plain fetch", cwd: PLAIN, path: "/api-client" },
    { name: "ky alone", cwd: PLAIN, path: "/ky-client" },
    { name: "middleware + plain fetch", cwd: MEASURED, path: "/fetch-client" },
    { name: "API client's get", cwd: MEASURED, path: "/api-client" },
  ]);
  if (only === "api") process.exit(0);

  const provider = await startOidcProvider({ rotateRefreshToken: true });
  const one = await startSite(SITE, siteEnv(provider));
  await storm(provider, [one.url], "1 instance");
  await stop(one.child);

  const redis = await startRedisServer();
  const env = { ...siteEnv(provider), FIXTURE_REDIS_URL: redis.url, FIXTURE_REDIS_PREFIX: "tkbench:" };
  const pair = await Promise.all([startSite(SITE, env, 1), startSite(SITE, env, 0)]);
  await storm(
    provider,
    pair.map((site) => site.url),
    "2 instances on one Redis",
  );
  await Promise.all(pair.map((site) => stop(site.child)));
  await redis.stop();
  await provider.close();
} finally {
  for (const child of children) child.kill("SIGKILL");
}
