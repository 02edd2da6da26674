/**
 * The measurements of @tokenkeep/astro, printed next to their targets (a script, not a test):
 *
 * 1. Overhead: a built SSR page that reads the session and calls an upstream once
 *    (bench/fixtures/tokenkeep, /bench), against the same page in the same site without the
 *    integration, calling it with a fixed header (bench/fixtures/plain). The servers are pinned to
 *    CPU 1, one under load at a time; the load generator (raw keep-alive sockets, cheap per request)
 *    and the upstream share CPU 0; short rounds alternate between the sites. Per variant it prints
 *    requests per second, the CPU per request of the server, the load generator and the upstream,
 *    and how busy the server's core was (the medians of the rounds). Against the baseline: the
 *    requests-per-second ratio, and the CPU ratio (the baseline's CPU per request over the
 *    variant's, the median of each round's), which is the throughput ratio of a server bound by its
 *    own CPU and the steadier figure on a shared machine, where the server's share of its core
 *    (hence its requests per second) moves with other work. Beside the CPU difference, the middle
 *    half of its per-round values (a difference inside that range is not resolved by the run). Targets: ratio at least 0.95, server
 *    CPU per page over the plain page at most 100 us.
 *    The same for a built endpoint whose one upstream call is the API client's `get` (`/api-client`)
 *    against plain `fetch` with a fixed header, with steps between them measured in the same
 *    rounds: ky alone with a fixed header (`/ky-client`, no integration), two floors under any
 *    session middleware (bench/fixtures/floor, no integration: one that only calls `next()`, and one
 *    that reads a cookie into locals and runs the page in an AsyncLocalStorage context), the middleware with plain
 *    `fetch` (`/fetch-client`), the same with the signal of an `AbortController` whose timer is
 *    cleared when the call settles (`/fetch-client-signal`, as the client's fetch path sends) and
 *    with an `AbortSignal.timeout` (`/fetch-client-timeout`), plain `fetch` with an
 *    `AbortSignal.timeout` and no integration (`/fetch-timeout`: a careful caller's bounded call
 *    without any library), and the API client's `get` made to take its ky path by a
 *    per-call `retry` (`/api-client-ky`), and (in one process) the client's `get` with
 *    `timeoutMs: false` (`/api-client-no-timer`); and the client-side JavaScript each site ships (target: the
 *    integration adds 0 bytes).
 *    Each server process has a speed of its own, so the rounds are split between generations of
 *    fresh servers, and a second server of the baseline's build is measured as one more variant: its
 *    ratio to the baseline (1 but for noise) is what the run can resolve.
 *    Then the same comparisons with every site in one process (`sameProcess`): the built
 *    standalone entries imported side by side, 250 ms blocks alternating between them over
 *    connections kept open, the process's CPU read per block from its threads' `schedstat`. A
 *    second copy of the baseline's build is its noise figure: 0.3 to 3 percent from 1 in the first
 *    runs, where separate processes gave up to 3.6 percent pooled and 27 percent per generation.
 * 2. Rotation storm: 200 sessions whose access tokens expire at once, 5 parallel requests each,
 *    against oidc-provider (rotating, reuse-detecting refresh tokens): exactly 200 refreshes, 0
 *    sessions lost, 0 reuse detections; then the same with 2 instances on one Redis.
 *
 * Run with `pnpm --filter @tokenkeep/astro bench` (needs taskset and, for the Redis part, redis-server);
 * `BENCH_ONLY=api` runs only the API client's figures, `BENCH_ONLY=page` only the page's,
 * `BENCH_ONLY=overhead` both overhead figures (no storm); `BENCH_ROUNDS` sets the rounds (16),
 * `BENCH_PROCESSES` the generations of fresh servers they are split between (4),
 * `BENCH_SAME_PROCESS_S` the seconds each variant is loaded in the one-process comparison (30), and
 * `BENCH_SEPARATE=off` leaves out the separate-process comparisons. `BENCH_BEFORE=<folder>` (a copy of
 * bench/fixtures/tokenkeep built with an earlier version, its `dist` beside this package's
 * `node_modules`) measures that build beside this one in the same rounds: the page of both builds
 * against the plain page, then the API client's endpoint compares the middleware + plain `fetch` and
 * the client's `get` of both builds, against plain `fetch`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { Agent, request } from "node:http";
import { connect, createServer, type Socket } from "node:net";
import { loadavg } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "astro";
import { type OidcProviderServer, startOidcProvider } from "../../grants/test/fixtures/oidc-provider.js";
import { startRedisServer } from "../../redis/test/support/redis-server.js";
import { cookieHeader, SECRET, signIn, siteEnv } from "../test/helpers/sessions.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 16);
const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 4);
/** The one-process comparison: blocks this long alternate between the sites, for this long each. */
const BLOCK_MS = 250;
const SAME_PROCESS_MS = Number(process.env.BENCH_SAME_PROCESS_S ?? 30) * 1000;
const ROUND_MS = 2_000;
const WARMUP_MS = 2_000;
const CONCURRENCY = 32;
const SESSIONS = 200;
const PER_SESSION = 5;
const root = process.cwd(); // pnpm runs scripts in the package folder
const SITE = join(root, "test/fixtures/site");
const PLAIN = join(root, "bench/fixtures/plain");
const MEASURED = join(root, "bench/fixtures/tokenkeep");
const FLOOR = join(root, "bench/fixtures/floor");
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

/** Where a complete HTTP/1.1 response in `bytes` ends, or -1 while it is incomplete. */
function responseEnd(bytes: Buffer): number {
  const headEnd = bytes.indexOf("\r\n\r\n");
  if (headEnd === -1) return -1;
  const head = bytes.toString("latin1", 0, headEnd).toLowerCase();
  const length = /\r\ncontent-length: *(\d+)/.exec(head);
  if (length !== null) {
    const end = headEnd + 4 + Number(length[1]);
    return bytes.length >= end ? end : -1;
  }
  if (!head.includes("\r\ntransfer-encoding: chunked"))
    throw new Error(`a response without a length: ${head}`);
  const last = bytes.indexOf("\r\n0\r\n\r\n", headEnd);
  return last === -1 ? -1 : last + 7;
}

/** Requests completed in `ms` over CONCURRENCY fresh connections (see {@link Loader}), then closed. */
async function load(url: string, cookie: string, ms: number): Promise<number> {
  const loader = new Loader(url, cookie);
  try {
    return await loader.run(ms);
  } finally {
    loader.close();
  }
}
const OK_STATUS = Buffer.from("HTTP/1.1 200", "latin1");

/** The upstream every site calls: `{"ok":true}` for any Bearer token, on 127.0.0.1:`port`. */
const upstreamScript = (port: number) =>
  [
    'require("node:http").createServer((q, s) => {',
    '  const ok = (q.headers.authorization ?? "").startsWith("Bearer ") && q.headers.authorization.length > 7;',
    '  s.writeHead(ok ? 200 : 401, { "content-type": "application/json" }); s.end(ok ? \'{"ok":true}\' : \'{"ok":false}\');',
    `}).listen(${port}, "127.0.0.1");`,
  ].join("\n");

/** The session every request carries (every variant is sent the same bytes, the cookie included). */
const benchCookie = () =>
  cookieHeader({
    accessToken: "bench-access-token",
    tokenType: "Bearer",
    expiresAt: Date.now() + 3_600_000,
    refreshToken: "bench-refresh-token",
  });

/**
 * CONCURRENCY keep-alive connections to one URL, kept open between runs: `run(ms)` sends on each the
 * next request when the last answer ended, until `ms` passed, and counts the answers (each must be a
 * 200 carrying the page's text). Raw sockets and one precomputed request: this costs the load
 * generator a fraction of node:http's client CPU per request, so the load generator (which shares
 * CPU 0 with the upstream) does not become the limit. Kept open for blocks too short to open
 * connections each time.
 */
class Loader {
  private readonly sockets: Socket[] = [];
  private readonly request: Buffer;
  constructor(
    private readonly url: string,
    cookie: string,
  ) {
    const target = new URL(url);
    this.request = Buffer.from(
      `GET ${target.pathname}${target.search} HTTP/1.1\r\nhost: ${target.host}\r\ncookie: ${cookie}\r\n\r\n`,
      "latin1",
    );
  }

  private async open(): Promise<void> {
    const target = new URL(this.url);
    while (this.sockets.length < CONCURRENCY) {
      const socket = connect(Number(target.port), target.hostname);
      socket.setNoDelay(true);
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", () => resolve());
        socket.once("error", reject);
      });
      // A connection the server closed while idle (its keep-alive timeout) is replaced at the next run.
      socket.once("close", () => this.sockets.splice(this.sockets.indexOf(socket), 1));
      this.sockets.push(socket);
    }
  }

  async run(ms: number): Promise<number> {
    await this.open();
    const until = performance.now() + ms;
    let done = 0;
    await Promise.all(
      this.sockets.map(
        (socket) =>
          new Promise<void>((resolve, reject) => {
            let pending: Buffer = Buffer.alloc(0);
            const finish = (error?: Error) => {
              socket.off("data", onData);
              socket.off("error", finish);
              socket.off("close", onClose);
              if (error) reject(error);
              else resolve();
            };
            const onClose = () => finish(new Error(`${this.url}: the server closed a connection`));
            const onData = (chunk: Buffer) => {
              pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
              const end = responseEnd(pending);
              if (end === -1) return;
              const answer = pending.subarray(0, end);
              pending = pending.subarray(end);
              if (!answer.subarray(0, 12).equals(OK_STATUS) || answer.indexOf("upstream ok") === -1) {
                return finish(new Error(`${this.url}: ${answer.toString("latin1", 0, 300)}`));
              }
              done++;
              if (performance.now() < until) socket.write(this.request);
              else finish();
            };
            socket.on("data", onData);
            socket.on("error", finish);
            socket.on("close", onClose);
            socket.write(this.request);
          }),
      ),
    );
    return done;
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}

/** The `q` quantile of `values` (linear between the two nearest), e.g. 0.25 for the lower quartile. */
function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q;
  const low = Math.floor(at);
  return sorted[low]! + (sorted[Math.ceil(at)]! - sorted[low]!) * (at - low);
}
const median = (values: readonly number[]) => quantile(values, 0.5);

/** One server variant of an overhead measurement: a built site and the path it is loaded on. */
interface Variant {
  readonly name: string;
  readonly cwd: string;
  readonly path: string;
}

/**
 * Loads each variant in turn (the order reversed every other round), each server on CPU 1 and only
 * one under load at a time, and prints each against the first (the baseline): requests per second,
 * CPU per request of the server, the load generator and the upstream, the server core's busy share,
 * and the requests-per-second and CPU ratios.
 */
async function overhead(label: string, variants: readonly Variant[]): Promise<void> {
  const upstreamPort = await freePort();
  const upstreamChild = await startPinned(0, ["-e", upstreamScript(upstreamPort)], root, {}, upstreamPort);
  const env = { BENCH_UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}/data`, TOKENKEEP_SECRET: SECRET };
  const cookie = await benchCookie();
  // Every variant is sent the same request bytes (the cookie included). Each server is started
  // once and warmed; then short rounds alternate between them, so a burst of load from elsewhere on
  // the machine falls on every variant alike, and the median round is reported.
  interface Round {
    readonly requests: number;
    readonly ms: number;
    /** CPU per request (us) of the server under test, of the upstream, of the load generator. */
    readonly server: number;
    readonly upstream: number;
    readonly loader: number;
  }
  // Each server process has a speed of its own (where V8 placed and compiled the code, measured
  // at +-25 us per request between two processes of one build), which no number of rounds against
  // the same process averages out. So the rounds are split between PROCESSES generations of fresh,
  // warmed servers, and a second server of the baseline's build is measured beside the others: its
  // ratio to the baseline is the run's own noise, the least difference the run can resolve.
  const all: readonly Variant[] = [
    ...variants,
    { ...variants[0]!, name: `${variants[0]!.name}, a second server (the noise)` },
  ];
  const runs: (Variant & { site: Awaited<ReturnType<typeof startSite>>; url: string; rounds: Round[] })[] =
    all.map((variant) => ({ ...variant, site: undefined!, url: "", rounds: [] }));
  const generations = Math.max(1, Math.min(PROCESSES, ROUNDS));
  const generationOf = (round: number) => Math.floor((round * generations) / ROUNDS);
  const loadBefore = loadavg()[0]!;
  for (let round = 0; round < ROUNDS; round++) {
    if (round === 0 || generationOf(round) !== generationOf(round - 1)) {
      // A new generation: every variant gets a fresh server, started and warmed one at a time.
      await Promise.all(runs.filter((run) => run.site !== undefined).map((run) => stop(run.site.child)));
      for (const run of runs) {
        run.site = await startSite(run.cwd, env);
        run.url = `${run.site.url}${run.path}`;
        await load(run.url, cookie, WARMUP_MS);
      }
    }
    for (const run of round % 2 === 0 ? runs : [...runs].reverse()) {
      const serverBefore = cpuMicros(run.site.child.pid!);
      const upstreamBefore = cpuMicros(upstreamChild.pid!);
      const loaderBefore = process.cpuUsage();
      const started = performance.now();
      const requests = await load(run.url, cookie, ROUND_MS);
      const ms = performance.now() - started;
      const loader = process.cpuUsage(loaderBefore);
      run.rounds.push({
        requests,
        ms,
        server: (cpuMicros(run.site.child.pid!) - serverBefore) / requests,
        upstream: (cpuMicros(upstreamChild.pid!) - upstreamBefore) / requests,
        loader: (loader.user + loader.system) / requests,
      });
    }
  }
  const loadAfter = loadavg()[0]!;
  await Promise.all(runs.map((run) => stop(run.site.child)));
  await stop(upstreamChild);
  type Run = (typeof runs)[0];
  const rps = (run: Run, generation?: number) => {
    const rounds = run.rounds.filter((_, i) => generation === undefined || generationOf(i) === generation);
    return (rounds.reduce((sum, r) => sum + r.requests, 0) * 1000) / rounds.reduce((sum, r) => sum + r.ms, 0);
  };
  // The requests-per-second ratio of each generation's pair of servers: how far one pair of
  // processes can put it.
  const perGeneration = (run: Run) => {
    const ratios = Array.from({ length: generations }, (_, g) => rps(run, g) / rps(baseline, g));
    return `${ratios.map((ratio) => ratio.toFixed(3)).join(", ")} (median ${median(ratios).toFixed(3)})`;
  };
  const medianOf = (run: Run, field: "server" | "upstream" | "loader") =>
    median(run.rounds.map((r) => r[field]));
  // How busy the server's core was while it was loaded: near 100% when the server is the limit.
  const busy = (run: Run) => median(run.rounds.map((r) => (r.server * r.requests) / (r.ms * 1000)));
  const [baseline, ...measured] = runs as [Run, ...Run[]];
  // Within each round (the variants of a round run back to back, under about the same load from
  // elsewhere), then the median of those: the CPU over the baseline, and the throughput ratio a
  // server bound by its own CPU reaches (the baseline's CPU per request over this one's).
  const extraCpuOf = (run: Run) => median(run.rounds.map((r, i) => r.server - baseline.rounds[i]!.server));
  // The middle half of the per-round differences: how far apart rounds of the same run put them (a
  // difference inside it is not resolved by this run).
  const extraCpuSpreadOf = (run: Run) => {
    const differences = run.rounds.map((r, i) => r.server - baseline.rounds[i]!.server);
    return `${quantile(differences, 0.25).toFixed(0)} to ${quantile(differences, 0.75).toFixed(0)}`;
  };
  const cpuRatioOf = (run: Run) => median(run.rounds.map((r, i) => baseline.rounds[i]!.server / r.server));
  const width = Math.max(...runs.map((run) => run.name.length));
  console.log(
    `overhead (${label}, one upstream call; server pinned to CPU 1, load generator and upstream to CPU 0; ` +
      `${ROUNDS} rounds of ${ROUND_MS} ms each over ${generations} generations of fresh servers, ${CONCURRENCY} connections; load average ${loadBefore.toFixed(1)} ` +
      `before, ${loadAfter.toFixed(1)} after; figures are medians of the rounds, differences and CPU ratios ` +
      "taken within each round):",
  );
  const describe = (run: Run) =>
    `${run.name.padEnd(width)} ${rps(run).toFixed(0).padStart(5)} req/s, server ${medianOf(run, "server").toFixed(0)} us ` +
    `CPU/request (its core ${(busy(run) * 100).toFixed(0)}% busy), load generator ${medianOf(run, "loader").toFixed(0)} us, ` +
    `upstream ${medianOf(run, "upstream").toFixed(0)} us`;
  console.log(`  ${describe(baseline)}`);
  for (const run of measured) {
    const ratio = rps(run) / rps(baseline);
    const cpuRatio = cpuRatioOf(run);
    const extraCpu = extraCpuOf(run);
    console.log(`  ${describe(run)}`);
    console.log(
      `  ${" ".repeat(width)} requests per second ${ratio.toFixed(3)} of the baseline's, CPU ratio ${cpuRatio.toFixed(3)} ` +
        `(target >= 0.95: ${cpuRatio >= 0.95 ? "met" : "MISSED"}), ${extraCpu.toFixed(0)} us CPU more (target <= 100: ` +
        `${extraCpu <= 100 ? "met" : "MISSED"}; middle half of the rounds ${extraCpuSpreadOf(run)} us)`,
    );
    console.log(
      `  ${" ".repeat(width)} requests per second per generation of servers: ${perGeneration(run)}`,
    );
  }
}

/**
 * The same comparison with every server in one process: the built sites' standalone entries are
 * imported side by side (each reads PORT as it starts), so they share one V8, one heap and one
 * core, and the machine's moods fall on all of them alike. Short blocks (BLOCK_MS) alternate
 * between them over connections kept open, and the process's CPU is read per block with
 * nanosecond resolution (the sum of its threads' `schedstat`). A second copy of the baseline's
 * build (its own modules, the same code) is the run's noise. What one process cannot separate:
 * garbage one site leaves is partly collected during another's block, which narrows differences
 * in allocation.
 */
async function sameProcess(label: string, variants: readonly Variant[]): Promise<void> {
  const upstreamPort = await freePort();
  const upstreamChild = await startPinned(0, ["-e", upstreamScript(upstreamPort)], root, {}, upstreamPort);
  // The second copy of the baseline: its dist, copied beside the original so it resolves the same
  // node_modules.
  const second = join(variants[0]!.cwd, "dist/second");
  rmSync(second, { recursive: true, force: true });
  for (const part of ["server", "client"]) {
    const from = join(variants[0]!.cwd, "dist", part);
    if (existsSync(from)) cpSync(from, join(second, part), { recursive: true });
  }
  const all = [
    ...variants.map((variant) => ({ ...variant, entry: join(variant.cwd, "dist/server/entry.mjs") })),
    {
      ...variants[0]!,
      name: `${variants[0]!.name}, a second copy of its build (the noise)`,
      entry: join(second, "server/entry.mjs"),
    },
  ];
  // One server per build (variants of one build are paths on its server).
  const entries = [...new Set(all.map((variant) => variant.entry))];
  const ports = await Promise.all(entries.map(() => freePort()));
  const script = [
    'process.env.HOST = "127.0.0.1";',
    ...entries.flatMap((entry, i) => [
      `process.env.PORT = "${ports[i]}";`,
      `await import(${JSON.stringify(pathToFileURL(entry).href)});`,
    ]),
  ].join("\n");
  const env = { BENCH_UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}/data`, TOKENKEEP_SECRET: SECRET };
  const server = await startPinned(1, ["--input-type=module", "-e", script], root, env, ports.at(-1)!);
  const cookie = await benchCookie();
  const loaders = all.map(
    (variant) =>
      new Loader(`http://127.0.0.1:${ports[entries.indexOf(variant.entry)]}${variant.path}`, cookie),
  );
  for (const loader of loaders) await loader.run(WARMUP_MS);
  const blocks = all.map(() => [] as { requests: number; ms: number; cpuNs: number }[]);
  const loadBefore = loadavg()[0]!;
  const until = performance.now() + SAME_PROCESS_MS * all.length;
  for (let cycle = 0; performance.now() < until; cycle++) {
    // Each cycle in a rotated order, so no variant always follows the same one.
    for (let k = 0; k < all.length; k++) {
      const i = (cycle + k) % all.length;
      const cpuBefore = processCpuNs(server.pid!);
      const started = performance.now();
      const requests = await loaders[i]!.run(BLOCK_MS);
      blocks[i]!.push({
        requests,
        ms: performance.now() - started,
        cpuNs: processCpuNs(server.pid!) - cpuBefore,
      });
    }
  }
  const loadAfter = loadavg()[0]!;
  for (const loader of loaders) loader.close();
  await stop(server);
  await stop(upstreamChild);
  rmSync(second, { recursive: true, force: true });

  const cpuPerRequest = (i: number) =>
    blocks[i]!.reduce((sum, b) => sum + b.cpuNs, 0) /
    1000 /
    blocks[i]!.reduce((sum, b) => sum + b.requests, 0);
  const rpsOf = (i: number) =>
    (blocks[i]!.reduce((sum, b) => sum + b.requests, 0) * 1000) /
    blocks[i]!.reduce((sum, b) => sum + b.ms, 0);
  // Per cycle: the baseline's CPU per request over the variant's (cycles are a few hundred ms apart).
  const cycleRatios = (i: number) =>
    blocks[i]!.map((b, c) => blocks[0]![c]!.cpuNs / blocks[0]![c]!.requests / (b.cpuNs / b.requests));
  console.log(
    `overhead (${label}, every server in one process pinned to CPU 1, the load generator and the upstream on CPU 0; ` +
      `${blocks[0]!.length} cycles of ${BLOCK_MS} ms blocks, ${CONCURRENCY} connections; load average ${loadBefore.toFixed(1)} ` +
      `before, ${loadAfter.toFixed(1)} after):`,
  );
  const width = Math.max(...all.map((variant) => variant.name.length));
  const describe = (i: number) =>
    `${all[i]!.name.padEnd(width)} ${rpsOf(i).toFixed(0).padStart(5)} req/s, ${cpuPerRequest(i).toFixed(0)} us CPU/request`;
  console.log(`  ${describe(0)}`);
  for (let i = 1; i < all.length; i++) {
    const ratios = cycleRatios(i);
    const [low, mid, high] = [quantile(ratios, 0.25), median(ratios), quantile(ratios, 0.75)];
    const ratio = cpuPerRequest(0) / cpuPerRequest(i);
    console.log(`  ${describe(i)}`);
    console.log(
      `  ${" ".repeat(width)} CPU ratio ${ratio.toFixed(3)} (target >= 0.95: ${ratio >= 0.95 ? "met" : "MISSED"}), ` +
        `${(cpuPerRequest(i) - cpuPerRequest(0)).toFixed(0)} us CPU more; per cycle: median ${mid.toFixed(3)}, ` +
        `middle half ${low.toFixed(3)} to ${high.toFixed(3)}; requests per second ${(rpsOf(i) / rpsOf(0)).toFixed(3)} of the baseline's`,
    );
  }
}

/** CPU time (ns) used so far by every thread of process `pid` (Linux: the first field of each schedstat). */
function processCpuNs(pid: number): number {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // a thread that ended between the listing and the read
    }
  }
  return total;
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

/** The SSR page, without and with the integration. */
const PAGE = {
  plain: { name: "plain", cwd: PLAIN, path: "/bench" },
  tokenkeep: { name: "tokenkeep", cwd: MEASURED, path: "/bench" },
} satisfies Record<string, Variant>;

/** The built endpoint's variants, from plain `fetch` to the API client's `get` (see the file's comment). */
const STEP = {
  plainFetch: { name: "plain fetch", cwd: PLAIN, path: "/api-client" },
  kyAlone: { name: "ky alone", cwd: PLAIN, path: "/ky-client" },
  anyMiddleware: { name: "any middleware (next() only)", cwd: FLOOR, path: "/noop" },
  leastSession: { name: "least cookie-session middleware", cwd: FLOOR, path: "/session" },
  middlewareFetch: { name: "middleware + plain fetch", cwd: MEASURED, path: "/fetch-client" },
  clearedTimerSignal: {
    name: "the same with a cleared timer's signal",
    cwd: MEASURED,
    path: "/fetch-client-signal",
  },
  timeoutSignal: { name: "the same with AbortSignal.timeout", cwd: MEASURED, path: "/fetch-client-timeout" },
  plainFetchTimeout: { name: "plain fetch with AbortSignal.timeout", cwd: PLAIN, path: "/fetch-timeout" },
  getKyPath: { name: "API client's get, ky path", cwd: MEASURED, path: "/api-client-ky" },
  get: { name: "API client's get", cwd: MEASURED, path: "/api-client" },
  getNoTimer: { name: "API client's get, timeoutMs: false", cwd: MEASURED, path: "/api-client-no-timer" },
} satisfies Record<string, Variant>;

try {
  console.log("building the fixture sites...");
  const only = process.env.BENCH_ONLY;
  for (const site of only === undefined ? [SITE, MEASURED, PLAIN, FLOOR] : [MEASURED, PLAIN, FLOOR]) {
    await build({ root: site, logLevel: "error" });
  }
  const added = clientScriptBytes(MEASURED) - clientScriptBytes(PLAIN);
  console.log(
    `client-side JavaScript added by the integration: ${added} bytes (target 0) ${added === 0 ? "met" : "MISSED"}`,
  );
  const before = process.env.BENCH_BEFORE;
  // BENCH_SEPARATE=off: only the one-process comparisons (quicker, and they resolve more).
  const separate = process.env.BENCH_SEPARATE !== "off";
  if (only !== "api") {
    if (separate)
      await overhead(
        before === undefined ? "built SSR page" : "built SSR page, this build against an earlier one",
        [
          PAGE.plain,
          ...(before === undefined
            ? []
            : [{ name: "tokenkeep, earlier build", cwd: before, path: "/bench" }]),
          before === undefined ? PAGE.tokenkeep : { ...PAGE.tokenkeep, name: "tokenkeep, this build" },
        ],
      );
    if (before === undefined) await sameProcess("built SSR page", [PAGE.plain, PAGE.tokenkeep]);
  }
  // The API client's endpoint against plain fetch, and steps between them: ky alone (no integration,
  // a fixed header), two floors under any session middleware (bench/fixtures/floor: a middleware that
  // only calls next(), and one that reads a cookie, looks it up in a map and runs the page in an
  // AsyncLocalStorage context, both before plain fetch with a fixed header), the middleware alone
  // (plain fetch with the session's token: without a signal, with the client's kind of signal, with
  // AbortSignal.timeout), plain fetch with AbortSignal.timeout and no integration, and the client's
  // get sent through ky (a per-call option).
  if (only === "page") process.exit(0);
  if (before !== undefined) {
    // An earlier build beside this one, in the same rounds (the steps without the integration left out).
    await overhead("built endpoint, this build against an earlier one, both against plain fetch", [
      STEP.plainFetch,
      { ...STEP.middlewareFetch, name: "middleware + plain fetch, earlier build", cwd: before },
      { ...STEP.middlewareFetch, name: "middleware + plain fetch, this build" },
      { ...STEP.get, name: "API client's get, earlier build", cwd: before },
      { ...STEP.get, name: "API client's get, this build" },
    ]);
    process.exit(0);
  }
  if (separate)
    await overhead("built endpoint, the API client's get against plain fetch", [
      STEP.plainFetch,
      STEP.kyAlone,
      STEP.anyMiddleware,
      STEP.leastSession,
      STEP.middlewareFetch,
      STEP.clearedTimerSignal,
      STEP.timeoutSignal,
      STEP.plainFetchTimeout,
      STEP.getKyPath,
      STEP.get,
    ]);
  await sameProcess("built endpoint, the API client's get against plain fetch", [
    STEP.plainFetch,
    STEP.anyMiddleware,
    STEP.leastSession,
    STEP.middlewareFetch,
    STEP.clearedTimerSignal,
    STEP.get,
    STEP.getNoTimer,
  ]);
  if (only !== undefined) process.exit(0);

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
