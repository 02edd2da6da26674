// `npm run demo -- --once` with every part pointed at a configured upstream: examples/local-servers,
// started here in the test's own process, stand in for a real authorization server, API and PAT
// server. The demo must start no server of its own, send each part where its variables say, and
// still print no secret.
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { existsSync, readFileSync } from "node:fs";
import type { IncomingMessage, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type LocalServers, startLocalServers, USERS } from "@tokenkeep/example-local-servers";
import { afterAll, beforeAll, expect, it } from "vitest";
import { expectNoSecretIn } from "../../reliability/src/secret-assert.ts";
import { registerSecret } from "../../reliability/src/secret-registry.ts";
import {
  groupGone,
  listening,
  listeningPorts,
  printedUrls,
  secretNamesByProcess,
  startDemo,
  stopDemos,
} from "./helpers.ts";

/** A request one of this process's servers received: its port, path and query, the Basic client id. */
interface Received {
  readonly port: number;
  readonly path: string;
  readonly search: string;
  readonly clientId: string | undefined;
}

interface Introspection {
  readonly active: boolean;
  readonly client_id?: string;
  readonly scope?: string;
}

let servers: LocalServers;
const received: Received[] = [];
let backendToken: Promise<Introspection> | undefined;

const portOf = (url: string) => Number(new URL(url).port);
/** A query on the backend's URLs (the servers ignore it), so its requests differ from the site's. */
const BACKEND = "?via=backend";
const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// Every request a node:http server of this process receives, through Node's diagnostics channel:
// the servers are the real ones, observed, not replaced. Headers only (the body is theirs to read).
function onRequest(message: unknown): void {
  const { request, server } = message as { request: IncomingMessage; server: Server };
  const port = (server.address() as AddressInfo).port;
  const { pathname: path, search } = new URL(request.url ?? "/", "http://x");
  const authorization = request.headers.authorization ?? "";
  // client_secret_basic: base64 of the form-encoded `id:secret`; only the id is kept.
  const basic = /^Basic (.+)$/.exec(authorization)?.[1];
  const id = basic === undefined ? undefined : Buffer.from(basic, "base64").toString("utf8").split(":")[0];
  received.push({ port, path, search, clientId: id === undefined ? undefined : decodeURIComponent(id) });
  // The backend's first API call: what client and scope its token was issued for, asked of the
  // provider while the token lives (4 s).
  const bearer = /^Bearer (.+)$/.exec(authorization)?.[1];
  if (bearer && port === portOf(servers.apiUrl) && path === "/reports" && backendToken === undefined) {
    backendToken = introspect(registerSecret(bearer, "backend access token"));
  }
}

async function introspect(token: string): Promise<Introspection> {
  const answer = await fetch(`${servers.issuer}/token/introspection`, {
    method: "POST",
    body: new URLSearchParams({ token, client_id: servers.clientId, client_secret: servers.clientSecret }),
  });
  return (await answer.json()) as Introspection;
}

/** Local servers standing in for real upstreams, their secrets registered (labels start with `label`). */
async function startUpstreams(lifetimeS: number, label: string): Promise<LocalServers> {
  const started = await startLocalServers({
    accessTokenLifetimeS: lifetimeS,
    serviceTokenLifetimeS: lifetimeS,
  });
  registerSecret(started.clientSecret, `${label}site client secret`);
  registerSecret(started.service.clientSecret, `${label}backend client secret`);
  registerSecret(started.robot.secret, `${label}robot secret`);
  registerSecret(started.patAdminToken!, `${label}admin PAT`);
  return started;
}

/**
 * Every upstream variable of the demo pointing at `upstreams`, the tour signing in as `user`; the
 * backend's URLs carry `backendQuery` (the servers ignore it), so its requests can be told apart.
 */
function upstreamEnv(upstreams: LocalServers, [user, password]: [string, string], backendQuery = "") {
  return {
    AUTH_ISSUER: upstreams.issuer,
    AUTH_CLIENT_ID: upstreams.clientId,
    AUTH_CLIENT_SECRET: upstreams.clientSecret,
    API_URL: upstreams.apiUrl,
    BACKEND_TOKEN_URL: `${upstreams.issuer}/token${backendQuery}`,
    BACKEND_CLIENT_ID: upstreams.service.clientId,
    BACKEND_CLIENT_SECRET: upstreams.service.clientSecret,
    BACKEND_API_URL: `${upstreams.apiUrl}/reports${backendQuery}`,
    PAT_URL: upstreams.patUrl,
    PAT_ADMIN_TOKEN: upstreams.patAdminToken!,
    DEMO_USER: user,
    DEMO_PASSWORD: password,
  };
}

beforeAll(async () => {
  subscribe("http.server.request.start", onRequest);
  // Short lives, as the demo's own --once servers have: a rotation and a refresh ahead within seconds.
  servers = await startUpstreams(4, "");
});

afterAll(async () => {
  await stopDemos();
  unsubscribe("http.server.request.start", onRequest);
  await servers?.close();
});

// A second site on Redis when `npm test` gives one; never a Redis of the demo's own (redis.test.ts).
const withRedis = Boolean(process.env.TOKENKEEP_REDIS_URL);
const redisSetting: Record<string, string> = withRedis ? {} : { DEMO_REDIS: "off" };

it("sends every part to the upstream it is given, starts no server of its own, and the tour passes", async () => {
  // bob, not alice: the user the demo picks for its own servers would not prove DEMO_USER is read.
  // (The local servers' demo password is printed by the demo by design: not a registered secret.)
  const demo = startDemo(
    {
      ...upstreamEnv(servers, Object.entries(USERS)[1]!, BACKEND),
      BACKEND_SCOPE: "reports:read",
      ...redisSetting,
    },
    ["--once"],
  );
  const pid = demo.child.pid!;
  // While the tour runs: every port its processes listen on, and the secrets they run with.
  await demo.waitFor(/scripted tour/);
  const ports = listeningPorts(pid);
  const secretNames = secretNamesByProcess(pid);
  const learned = demo.learnSecrets();
  const code = await demo.exited();
  const output = demo.report(); // registered secrets shown as labels, even in a failure message
  expect(code, output).toBe(0);

  // Each child holds its own part's secrets only (the demo process itself, their parent, holds all).
  if (secretNames !== undefined) {
    const backend = secretNames.filter((one) => one.command.includes("node-backend/src/service.ts"));
    const sites = secretNames.filter((one) => one.command.includes("astro-app/server/start.ts"));
    expect(backend.map((one) => one.names)).toEqual([["CLIENT_SECRET"]]);
    expect(sites.length).toBeGreaterThanOrEqual(1);
    for (const one of sites)
      expect(one.names).toEqual(["AUTH_CLIENT_SECRET", "PAT_ADMIN_TOKEN", "TOKENKEEP_SECRET"]);
  }

  // The tour, as once.test.ts checks it, through the given servers.
  expect(output).toMatch(/signed in as bob: 303 to \/account\/session/);
  // The site is not told the tokens' life: the session page rotates REFRESH_WINDOW_MS before expiry.
  const timeline = /session: access token expires (\S+), refresh due from (\S+)/.exec(output);
  expect(timeline, output).not.toBeNull();
  expect(Date.parse(timeline![1]!) - Date.parse(timeline![2]!)).toBe(2_000);
  expect(output).toMatch(/rotated after \d+\.\d s: .*rotations 1/);
  expect(output).toContain("profile read from the API with the session's access token: Hello, Bob");
  expect(output).toMatch(/PAT \S+ issued for \S+ .*, revoked, restored/);
  expect(output).toMatch(/signed out \(303\)/);
  expect(output).toContain("robot credentials grant skipped: no local authorization server");
  expect(output).toMatch(
    /backend: \d+ API calls \(\d+ ok\), [1-9]\d* tokens from the cache, \d+ token requests of which [1-9]\d* refreshed ahead/,
  );
  expect(output).toMatch(/\/backend shows the same counters/);
  if (withRedis) {
    expect(output).toContain("the same cookie at both: 1 refresh token redeemed, the other served by it");
  }
  expect(output).toContain("tour done: everything stopped");

  // No server of its own: it names the given servers and no local one, and while the tour ran its
  // own process listened on no port and each child (the backend's counters, each site) on one.
  expect(output).toMatch(new RegExp(`^ {2}authorization server +${escaped(servers.issuer)}$`, "m"));
  expect(output).toMatch(new RegExp(`^ {2}API +${escaped(servers.apiUrl)}$`, "m"));
  expect(output).toMatch(new RegExp(`^ {2}PAT server +${escaped(servers.patUrl)}$`, "m"));
  expect(output).toContain(`(calls ${servers.apiUrl}/reports${BACKEND} every`);
  expect(output).not.toMatch(/oidc-provider|SQLite|sign in as/);
  for (const log of ["site.log", "backend.log"]) {
    expect(readFileSync(join(demo.dir, "logs", log), "utf8"), log).not.toMatch(/oidc-provider|sign in as/);
  }
  if (ports !== undefined) {
    const sites = withRedis ? 2 : 1;
    const shown = JSON.stringify([...ports]);
    expect(ports.get(pid), shown).toEqual([]);
    for (const own of ports.values()) expect(own.length, shown).toBeLessThanOrEqual(1);
    expect([...ports.values()].flat(), shown).toHaveLength(1 + sites);
  }

  // What the given servers received. The backend: its token requests at BACKEND_TOKEN_URL as
  // BACKEND_CLIENT_ID (the first and one refreshed ahead), its calls at BACKEND_API_URL with a token
  // issued for BACKEND_SCOPE.
  const count = (url: string, path: string, search = "", clientId?: string) =>
    received.filter(
      (one) =>
        one.port === portOf(url) &&
        one.path === path &&
        one.search === search &&
        (clientId === undefined || one.clientId === clientId),
    ).length;
  const { clientId: backendId } = servers.service;
  expect(count(servers.issuer, "/token", BACKEND, backendId)).toBeGreaterThanOrEqual(2);
  expect(count(servers.issuer, "/token", "", backendId)).toBe(0);
  expect(count(servers.apiUrl, "/reports", BACKEND)).toBeGreaterThanOrEqual(3);
  expect(count(servers.apiUrl, "/reports")).toBe(0);
  expect(await backendToken).toMatchObject({ active: true, client_id: backendId, scope: "reports:read" });
  // The site: the sign-in and the rotation at AUTH_ISSUER as AUTH_CLIENT_ID, the sign-out's
  // revocation, the profile from API_URL.
  expect(count(servers.issuer, "/token", "", servers.clientId)).toBeGreaterThanOrEqual(2);
  expect(count(servers.issuer, "/token/revocation", "", servers.clientId)).toBeGreaterThanOrEqual(1);
  expect(count(servers.apiUrl, "/me")).toBeGreaterThanOrEqual(1);
  // The admin page: PAT_URL with PAT_ADMIN_TOKEN (the PAT above was issued, revoked and restored there).
  expect(received.filter((one) => one.port === portOf(servers.patUrl)).length).toBeGreaterThanOrEqual(3);

  // No secret in what it prints (it has no admin PAT of its own to show), nor in its logs.
  expectNoSecretIn(output, /pat_|demo-[0-9a-f]{8}-|eyJ|Bearer |admin PAT/, "the output");
  expect(demo.leaks()).toEqual([]);
  if (existsSync("/proc/self/environ")) expect(learned).toBeGreaterThanOrEqual(4); // 2 client secrets, PAT, cookie
  // Everything it started is stopped; the given servers are this test's and still answer.
  expect(await groupGone(pid)).toBe(true);
  const given = [servers.issuer, servers.apiUrl, servers.patUrl].map((url) => new URL(url).origin);
  const own = printedUrls(output).filter((url) => !given.includes(url));
  // The backend's counters; with Redis also both sites (the second site's line names them).
  expect(own).toHaveLength(withRedis ? 3 : 1);
  for (const url of own) expect(await listening(url), url).toBe(false);
  for (const url of given) expect(await listening(url), url).toBe(true);
});

it("tokens that live an hour: the tour says which waits it skips, and still passes", async () => {
  // A real upstream's tokens often live an hour: the tour must not wait for (or fail without) a
  // rotation or a refresh ahead that far away. It says what it did not watch instead.
  const hourly = await startUpstreams(3600, "hourly ");
  try {
    const demo = startDemo({ ...upstreamEnv(hourly, Object.entries(USERS)[0]!), ...redisSetting }, [
      "--once",
    ]);
    const pid = demo.child.pid!;
    await demo.waitFor(/scripted tour/);
    demo.learnSecrets();
    const code = await demo.exited();
    const output = demo.report();
    expect(code, output).toBe(0);
    expect(output).toMatch(
      /rotation not watched: the refresh is due in 60 min \(the tour waits at most 5 min\)/,
    );
    expect(output).not.toMatch(/rotated after/);
    expect(output).toMatch(/the backend's refresh ahead not watched: its token expires in 60 min/);
    expect(output).toMatch(
      /backend: \d+ API calls \(\d+ ok\), [1-9]\d* tokens from the cache, 1 token requests of which 0 refreshed ahead/,
    );
    if (withRedis) {
      expect(output).toMatch(/the shared rotation not watched: the next refresh is due in 60 min/);
    }
    expect(output).toMatch(/PAT \S+ issued for \S+ .*, revoked, restored/);
    expect(output).toContain("tour done: everything stopped");
    expect(demo.leaks()).toEqual([]);
    expect(await groupGone(pid)).toBe(true);
  } finally {
    await hourly.close();
  }
});

it("a configured part missing one of its settings: exits 2 naming what to set, before starting anything", async () => {
  const demo = startDemo({ AUTH_ISSUER: "http://127.0.0.1:9", AUTH_CLIENT_ID: "site" }, ["--once"]);
  expect(await demo.exited()).toBe(2);
  expect(demo.report()).toContain(
    "demo: AUTH_ISSUER is set, so the site signs in at that server: set API_URL too (see examples/astro-app/README.md)",
  );
  expect(demo.report()).not.toMatch(/http:\/\/127\.0\.0\.1:\d+/); // nothing started, no URL printed
  const backend = startDemo({ BACKEND_TOKEN_URL: "http://127.0.0.1:9/token" }, ["--once"]);
  expect(await backend.exited()).toBe(2);
  expect(backend.report()).toContain(
    "set BACKEND_CLIENT_ID and BACKEND_CLIENT_SECRET and BACKEND_API_URL too",
  );
});
