// The demo behind `npm run demo` (after scripts/run.sh has built the workspace): every package working
// together, live, on 127.0.0.1 and free ports, with nothing to configure.
//
// - In this process: the local servers of examples/local-servers - ONE authorization server
//   (oidc-provider: client credentials, password and robot credentials grants, rotating refresh
//   tokens), the API, and the PAT server on SQLite under .demo/ with an admin PAT made once.
// - Children (in this process group; each also stops when its stdin pipe closes, so none outlives
//   the demo): the Node backend service (examples/node-backend/src/service.ts) and the built Astro
//   site (examples/astro-app/server/start.ts).
// - With Redis, a second instance of the site on it: TOKENKEEP_REDIS_URL's, or else a private
//   redis-server the demo starts as a child when one is on PATH (DEMO_REDIS=off: neither).
//
// It prints one block, runs until SIGINT/SIGTERM, then stops everything and exits 0. While it runs,
// .demo/state.json holds its pid and URLs: a second `npm run demo` prints them and exits 0.
// `--once` runs a scripted tour through the same servers instead (scripts/lib/demo-tour.mjs) and exits.
// Environment variables point any part at a real upstream (see the README's "The demo").
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { connect, createServer } from "node:net";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const root = resolve(import.meta.dirname, "..");
const env = process.env;
const once = process.argv.includes("--once");
const dir = resolve(env.TOKENKEEP_DEMO_DIR || join(root, ".demo"));
const stateFile = join(dir, "state.json");
const shown = (path) => {
  const near = relative(process.cwd(), path);
  return near.startsWith("..") ? path : near || ".";
};

mkdirSync(dir, { recursive: true });

// A demo already running (its pid alive, and that process a demo): say so, print its URLs, and leave
// it alone. `--check` (what scripts/run.sh asks before it builds, so a running demo's site is never
// rebuilt under it) does only this: exit 0 when one runs, 3 when none does.
const check = process.argv.includes("--check");
if (!once) {
  if (reportRunning()) process.exit(0);
  if (check) process.exit(3);
  // Claim the state file before starting (two demos started together: the second says so and leaves).
  try {
    writeFileSync(stateFile, `${JSON.stringify({ pid: process.pid, starting: true })}\n`, { flag: "wx" });
  } catch (error) {
    if (error.code !== "EEXIST" || !reportRunning()) throw error;
    process.exit(0);
  }
}

/** Prints a running demo's URLs (true), or removes a dead one's state file (false). */
function reportRunning() {
  let state;
  try {
    state = JSON.parse(readFileSync(stateFile, "utf8"));
  } catch (error) {
    if (error.code === "ENOENT") return false;
    state = undefined; // unreadable: a demo that died mid-write (states are written by rename)
  }
  if (state && isDemo(state.pid)) {
    if (state.starting) {
      console.log(
        `A demo is starting (pid ${state.pid}): run \`npm run demo\` again in a moment for its URLs.`,
      );
    } else {
      console.log(`A demo is already running (pid ${state.pid}, since ${state.startedAt}):`);
      for (const line of state.lines) console.log(line);
    }
    return true;
  }
  rmSync(stateFile, { force: true }); // left by a demo that was killed
  return false;
}

/** Whether `pid` is a live demo process of this user (not a reused pid of another program). */
function isDemo(pid) {
  if (!Number.isInteger(pid) || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false; // gone, or another user's process (EPERM): not our demo
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("demo.mjs");
  } catch {
    return true; // no /proc (macOS): a live pid of ours is the best evidence there is
  }
}

/** Writes the state file whole (a reader never sees half of it). */
function writeState(state) {
  const temporary = `${stateFile}.${process.pid}`;
  writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(temporary, stateFile);
}

/** Removes the state file if it is this demo's. */
function releaseState() {
  try {
    if (JSON.parse(readFileSync(stateFile, "utf8")).pid === process.pid) rmSync(stateFile, { force: true });
  } catch {
    // absent or unreadable: not ours to remove
  }
}

async function freePort() {
  const server = createServer();
  await new Promise((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address();
  await new Promise((done) => server.close(done));
  return port;
}

// Lifetimes: short enough that a rotation shows within a minute (the tour: within seconds).
const numberFrom = (name, fallback) => {
  const value = env[name] === undefined || env[name] === "" ? fallback : Number(env[name]);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`${name} must be a positive number`);
    process.exit(2);
  }
  return value;
};
const accessTokenLifetimeS = numberFrom("ACCESS_TOKEN_LIFETIME_S", once ? 4 : 30);
const refreshWindowMs = numberFrom("REFRESH_WINDOW_MS", once ? 2_000 : 10_000);
const serviceTokenLifetimeS = numberFrom("SERVICE_TOKEN_LIFETIME_S", once ? 4 : 20);
const backendIntervalMs = numberFrom("BACKEND_INTERVAL_MS", once ? 250 : 1_000);

// A part pointed at a real upstream needs all of its settings: name what is missing before anything
// starts (an empty client id or API URL would only fail later, less clearly).
for (const [switchedOn, needed, what] of [
  ["AUTH_ISSUER", ["AUTH_CLIENT_ID", "API_URL"], "the site signs in at that server"],
  [
    "BACKEND_TOKEN_URL",
    ["BACKEND_CLIENT_ID", "BACKEND_CLIENT_SECRET", "BACKEND_API_URL"],
    "the backend gets its tokens there",
  ],
  ["PAT_URL", ["PAT_ADMIN_TOKEN"], "the admin page manages that PAT server's tokens"],
]) {
  const missing = needed.filter((name) => !env[name]);
  if (env[switchedOn] && missing.length > 0) {
    console.error(
      `demo: ${switchedOn} is set, so ${what}: set ${missing.join(" and ")} too (see examples/astro-app/README.md)`,
    );
    process.exit(2);
  }
}
// DEMO_REDIS=off: one site, no Redis (neither started nor TOKENKEEP_REDIS_URL's); "auto" (the default):
// TOKENKEEP_REDIS_URL's, or else a private one when redis-server is on PATH.
const demoRedis = env.DEMO_REDIS || "auto";
if (demoRedis !== "auto" && demoRedis !== "off") {
  console.error('demo: DEMO_REDIS must be "off" or "auto" (the default)');
  process.exit(2);
}

const children = [];
let local;
let redis; // the private redis-server, when the demo started one: { child, home }
let stopping;

/** Stops a child process: SIGTERM, then SIGKILL after 5 s; resolves once it has exited. */
const stopChild = (child) =>
  new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(kill);
      done();
    });
    child.kill("SIGTERM");
  });

/** Stops every child, then the private Redis the sites used and the local servers; idempotent. */
function stopAll() {
  stopping ??= (async () => {
    await Promise.all(children.map(stopChild));
    if (redis !== undefined) {
      await stopChild(redis.child);
      rmSync(redis.home, { recursive: true, force: true });
    }
    await local?.close();
    if (!once) releaseState();
  })();
  return stopping;
}

const fail = async (message) => {
  console.error(`demo: ${message}`);
  await stopAll();
  process.exit(1);
};

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    if (stopping === undefined) console.log("\nstopping the demo...");
    stopAll().then(() => process.exit(0));
  });
}
// Its terminal closed: stop everything too (redis-server ignores SIGHUP; nothing left to print to).
process.on("SIGHUP", () => stopAll().then(() => process.exit(0)));

/**
 * The variables of the demo's own environment that hold a part's secrets: no child inherits them,
 * each gets what it needs under its own names (the backend its client secret, the site its client
 * secret, admin PAT and cookie secret), so no process holds another part's secrets.
 */
const PART_SECRETS = [
  "AUTH_CLIENT_SECRET",
  "BACKEND_CLIENT_SECRET",
  "PAT_ADMIN_TOKEN",
  "TOKENKEEP_SECRET",
  "DEMO_PASSWORD",
];
const inherited = Object.fromEntries(Object.entries(env).filter(([name]) => !PART_SECRETS.includes(name)));

/** Starts a Node child with its output in a log file; resolves once `ready(output)` says so. */
async function startChild(name, script, childEnv, ready) {
  const logs = join(dir, "logs");
  mkdirSync(logs, { recursive: true });
  const logFile = join(logs, `${name}.log`);
  writeFileSync(logFile, "");
  const child = spawn(process.execPath, [script], {
    cwd: resolve(script, "../.."),
    env: { ...inherited, ...childEnv, EXIT_WITH_STDIN: "1" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  const keep = (chunk) => {
    output += chunk;
    writeFileSync(logFile, chunk, { flag: "a" });
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.on("exit", (code, signal) => {
    if (stopping === undefined)
      fail(`${name} stopped (${signal ?? `exit code ${code}`}), see ${shown(logFile)}`);
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const result = await ready(output);
    if (result !== undefined) return result;
    if (Date.now() > deadline) await fail(`${name} did not start within 60 s:\n${output}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** Whether a Redis answers PING on 127.0.0.1:`port` (the protocol's inline form: no client needed). */
function pong(port) {
  return new Promise((done) => {
    let answer = "";
    const socket = connect({ host: "127.0.0.1", port });
    socket.setTimeout(1_000, () => socket.destroy());
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      answer += chunk;
      if (answer.includes("\r\n")) socket.end();
    });
    socket.on("error", () => {}); // refused: not up yet ("close" follows)
    socket.on("close", () => done(answer.startsWith("+PONG")));
  });
}

/**
 * Stops the redis-server of a demo that was killed (SIGKILL: it could not stop its children): each
 * private Redis lives in .demo/redis/<its demo's pid>/, with its pid file.
 */
function stopStrayRedis() {
  const parent = join(dir, "redis");
  if (!existsSync(parent)) return;
  for (const name of readdirSync(parent)) {
    if (isDemo(Number(name)) || Number(name) === process.pid) continue;
    const home = join(parent, name);
    try {
      const pid = Number(readFileSync(join(home, "redis.pid"), "utf8"));
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("redis-server"))
        process.kill(pid, "SIGTERM");
    } catch {
      // stopped already, or no /proc to tell that the pid is still a redis-server: left alone
    }
    rmSync(home, { recursive: true, force: true });
  }
}

/**
 * A private Redis for the second site, started the way scripts/services/redis.sh starts the tests'
 * one (127.0.0.1 only, a free port, no persistence, its own folder: .demo/redis/<the demo's pid>/), but
 * as a child of the demo, in its process group and not daemonized: it stops with everything else, and
 * it is never the instance redis.sh shares with `npm test`. Nothing is installed here. Resolves with
 * `{ url }` once it answers PING, or with `{ problem }` (one line for the printed block) when
 * redis-server is not on PATH or did not start: the demo then runs one site.
 */
async function startRedis() {
  const home = join(dir, "redis", String(process.pid));
  const logFile = join(dir, "logs", "redis.log");
  mkdirSync(home, { recursive: true });
  mkdirSync(join(dir, "logs"), { recursive: true });
  let why;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    writeFileSync(logFile, "");
    // What it says before it opens --logfile (a bad option, say) goes there too.
    const log = openSync(logFile, "a");
    // Each option as its own argument: `--save ""` is an empty one (no snapshots).
    const child = spawn(
      "redis-server",
      [
        ...["--bind", "127.0.0.1", "--port", String(port), "--protected-mode", "yes"],
        ...["--save", "", "--appendonly", "no", "--dir", home],
        ...["--daemonize", "no", "--pidfile", join(home, "redis.pid"), "--logfile", logFile],
      ],
      { cwd: home, env: inherited, stdio: ["ignore", log, log] },
    );
    closeSync(log);
    let ended;
    child.on("error", (error) => {
      ended ??= error.code === "ENOENT" ? "missing" : error.message;
    });
    child.once("exit", (code, signal) => {
      ended ??= signal ?? `exit code ${code}`;
    });
    const deadline = Date.now() + 10_000;
    while (ended === undefined && Date.now() < deadline) {
      if (await pong(port)) {
        redis = { child, home };
        child.once("exit", (code, signal) => {
          // Ctrl-C reaches the whole process group: let the demo's own handler stop it first.
          setTimeout(() => {
            if (stopping === undefined)
              fail(`redis-server stopped (${signal ?? `exit code ${code}`}), see ${shown(logFile)}`);
          }, 1_000).unref();
        });
        return { url: `redis://127.0.0.1:${port}` };
      }
      await sleep(100);
    }
    if (ended === "missing") {
      rmSync(home, { recursive: true, force: true });
      rmSync(logFile, { force: true });
      return {
        problem: "none (install redis-server, or set TOKENKEEP_REDIS_URL, for a second site sharing one)",
      };
    }
    await stopChild(child);
    why = ended ?? "no answer within 10 s";
    // Its port taken between freePort() and its start: try another.
    if (!/Address already in use/.test(readFileSync(logFile, "utf8"))) break;
  }
  rmSync(home, { recursive: true, force: true });
  return { problem: `redis-server did not start (${why}; see ${shown(logFile)}): one site only` };
}

/** A Redis URL without its user and password: what the printed block may show. */
function redisForHumans(url) {
  try {
    const { protocol, host } = new URL(url);
    return `${protocol}//${host}`;
  } catch {
    return "(not a URL)";
  }
}

// 1. The local servers, unless every part has a real upstream.
const needLocal = !env.AUTH_ISSUER || !env.BACKEND_TOKEN_URL || !env.PAT_URL;
const patDatabase = once ? ":memory:" : join(dir, "pat.sqlite");
const adminTokenFile = join(dir, "admin-token");
let adminToken = env.PAT_ADMIN_TOKEN || undefined;
let adminTokenIsNew = false;
const localServers = needLocal
  ? await import(pathToFileURL(join(root, "examples/local-servers/src/index.ts")).href)
  : undefined;
if (localServers !== undefined) {
  // The admin PAT is made once per database and kept (mode 600) beside it, git-ignored.
  const bootstrapPatAdmin = once || !existsSync(patDatabase) || !existsSync(adminTokenFile);
  local = await localServers.startLocalServers({
    accessTokenLifetimeS,
    serviceTokenLifetimeS,
    patDatabase,
    bootstrapPatAdmin,
  });
  if (!env.PAT_URL && adminToken === undefined) {
    if (local.patAdminToken !== undefined) {
      adminToken = local.patAdminToken;
      adminTokenIsNew = true;
      if (!once) {
        writeFileSync(adminTokenFile, `${adminToken}\n`, { mode: 0o600 });
        chmodSync(adminTokenFile, 0o600);
      }
    } else adminToken = readFileSync(adminTokenFile, "utf8").trim();
  }
}
const site = {
  issuer: env.AUTH_ISSUER || local.issuer,
  clientId: env.AUTH_ISSUER ? env.AUTH_CLIENT_ID : local.clientId,
  clientSecret: env.AUTH_ISSUER ? env.AUTH_CLIENT_SECRET : local.clientSecret,
  apiUrl: env.AUTH_ISSUER ? env.API_URL : local.apiUrl,
};
const patUrl = env.PAT_URL || local.patUrl;
const backendApi = env.BACKEND_TOKEN_URL ? env.BACKEND_API_URL : `${local.apiUrl}/reports`;

// 2 and 3, started side by side: the Node backend service, reporting its counters on a loopback port,
// and the built Astro site, pointed at all of the above.
const backendStatus = `http://127.0.0.1:${Number(env.BACKEND_STATUS_PORT || (await freePort()))}/`;
const port = Number(env.DEMO_PORT || (await freePort()));
const siteUrl = `http://127.0.0.1:${port}`;
// With Redis, a second instance of the site on the same store and cookie secret: one rotation serves
// both. TOKENKEEP_REDIS_URL's (e.g. from `eval "$(bash scripts/services/redis.sh start)"`), used as it
// is and never stopped here; or else a private one, when redis-server is on PATH; none with DEMO_REDIS=off.
stopStrayRedis();
const givenRedis = demoRedis === "off" ? undefined : env.TOKENKEEP_REDIS_URL || undefined;
const ownRedis = demoRedis === "off" || givenRedis ? undefined : await startRedis();
const redisUrl = givenRedis ?? ownRedis?.url;
const redisLine = givenRedis
  ? `${redisForHumans(givenRedis)} (TOKENKEEP_REDIS_URL)`
  : ownRedis && (ownRedis.url ? `${ownRedis.url} (started by the demo)` : ownRedis.problem);
const secondUrl = redisUrl ? `http://127.0.0.1:${await freePort()}` : undefined;
const sites = [{ name: "site", url: siteUrl, port, peer: secondUrl }];
if (secondUrl)
  sites.push({ name: "site-b", url: secondUrl, port: Number(new URL(secondUrl).port), peer: siteUrl });
const secret = env.TOKENKEEP_SECRET || randomBytes(32).toString("base64url");
await Promise.all([
  startChild(
    "backend",
    join(root, "examples/node-backend/src/service.ts"),
    {
      TOKEN_URL: env.BACKEND_TOKEN_URL || `${local.issuer}/token`,
      CLIENT_ID: env.BACKEND_TOKEN_URL ? env.BACKEND_CLIENT_ID : local.service.clientId,
      CLIENT_SECRET: env.BACKEND_TOKEN_URL ? env.BACKEND_CLIENT_SECRET : local.service.clientSecret,
      API_URL: backendApi,
      SCOPE: env.BACKEND_TOKEN_URL ? (env.BACKEND_SCOPE ?? "") : "reports:read",
      INTERVAL_MS: String(backendIntervalMs),
      STATUS_PORT: new URL(backendStatus).port,
    },
    (output) => (output.includes(`status: ${backendStatus}`) ? true : undefined),
  ),
  ...sites.map((one) =>
    startChild(
      one.name,
      join(root, "examples/astro-app/server/start.ts"),
      {
        AUTH_ISSUER: site.issuer,
        AUTH_CLIENT_ID: site.clientId ?? "",
        AUTH_CLIENT_SECRET: site.clientSecret ?? "",
        API_URL: site.apiUrl ?? "",
        PAT_URL: patUrl,
        PAT_ADMIN_TOKEN: adminToken ?? "",
        TOKENKEEP_SECRET: secret,
        // Unknown for a configured upstream unless given: left unset (not "", which reads as 0 s and
        // put the session page's issue and due times at the expiry).
        ACCESS_TOKEN_LIFETIME_S: env.AUTH_ISSUER
          ? env.ACCESS_TOKEN_LIFETIME_S || undefined
          : String(accessTokenLifetimeS),
        REFRESH_WINDOW_MS: String(refreshWindowMs),
        BACKEND_STATUS_URL: backendStatus,
        HOST: "127.0.0.1",
        PORT: String(one.port),
        ASTRO_TELEMETRY_DISABLED: "1",
        INSTANCE_NAME: one.name,
        ...(redisUrl ? { REDIS_URL: redisUrl, PEER_URL: one.peer } : { REDIS_URL: "", PEER_URL: "" }),
      },
      async (output) =>
        output.includes("site: http")
          ? await fetch(`${one.url}/`, { signal: AbortSignal.timeout(2_000) }).then(
              (answer) => answer.ok || undefined,
              () => undefined,
            )
          : undefined,
    ),
  ),
]);

// Who the tour signs in as: the local servers' first user, or with AUTH_ISSUER a user of that server
// named by DEMO_USER and DEMO_PASSWORD (never printed: it may be a real account).
const [user, password] = env.AUTH_ISSUER
  ? env.DEMO_USER && env.DEMO_PASSWORD
    ? [env.DEMO_USER, env.DEMO_PASSWORD]
    : []
  : Object.entries(localServers.USERS)[0];
const lines = [
  `  open ${siteUrl}/login${env.AUTH_ISSUER ? "" : `  and sign in as ${user} / ${password}`}`,
  `  then ${siteUrl}/account/session (a rotation within ~${Math.round(accessTokenLifetimeS - refreshWindowMs / 1000)} s), /admin/tokens (PATs), /backend (the Node service)`,
  `  authorization server  ${site.issuer}${env.AUTH_ISSUER ? "" : ` (oidc-provider; access tokens live ${accessTokenLifetimeS} s)`}`,
  `  API                   ${site.apiUrl}`,
  `  PAT server            ${patUrl}${env.PAT_URL ? "" : ` (SQLite: ${once ? "in memory" : shown(patDatabase)})`}`,
  `  backend counters      ${backendStatus} (calls ${backendApi} every ${backendIntervalMs} ms)`,
  ...(redisLine ? [`  Redis                 ${redisLine}`] : []),
  ...(secondUrl
    ? [`  second site (Redis)   ${secondUrl} (same session; ${siteUrl}/account/shared shows both)`]
    : []),
];

if (once) {
  const { tour } = await import(pathToFileURL(join(root, "scripts/lib/demo-tour.mjs")).href);
  console.log("tokenkeep demo, scripted tour (--once):");
  for (const line of lines.slice(2)) console.log(line);
  let ok = false;
  try {
    ok = await tour({
      siteUrl,
      secondUrl,
      backendStatus,
      user,
      password,
      local,
      log: (line) => console.log(`  ${line}`),
    });
  } catch (error) {
    console.error(`  tour failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  await stopAll();
  console.log(ok ? "tour done: everything stopped" : "tour FAILED: everything stopped");
  process.exit(ok ? 0 : 1);
}

const startedAt = new Date().toISOString();
writeState({ pid: process.pid, startedAt, siteUrl, backendStatus, lines });
console.log("tokenkeep demo - Ctrl-C stops everything");
for (const line of lines) console.log(line);
if (adminTokenIsNew) {
  console.log(`  admin PAT (shown once; kept in ${shown(adminTokenFile)}): ${adminToken}`);
} else if (adminToken !== undefined && !env.PAT_ADMIN_TOKEN) {
  console.log(`  admin PAT             in ${shown(adminTokenFile)} (shown when it was made)`);
}
console.log(`  logs                  ${shown(join(dir, "logs"))}/`);
