// The demo's own Redis (issue #20: "when Redis is available", with nothing to configure): with
// redis-server on PATH and no TOKENKEEP_REDIS_URL, the demo starts a private one as its child and runs
// the second site on it; it stops it with everything else. DEMO_REDIS=off: one site, no Redis at all.
// `npm test` sets TOKENKEEP_REDIS_URL for every task: these tests unset it (or replace it) for the demo.
import { existsSync, readdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { mintSecret } from "../../reliability/src/secret-registry.ts";
import {
  type Demo,
  demoDir,
  groupCommands,
  groupGone,
  listening,
  listeningPorts,
  printedUrls,
  redisServersOn,
  startDemo,
  stopDemos,
} from "./helpers.ts";

afterAll(stopDemos);

const redisServer = (process.env.PATH ?? "")
  .split(delimiter)
  .some((dir) => dir !== "" && existsSync(join(dir, "redis-server")));
if (!redisServer) {
  console.warn(
    "test/demo redis.test.ts: redis-server is not on PATH, so the demo's own Redis is not tested (CI installs it)",
  );
}

it.skipIf(!redisServer)(
  "--once without TOKENKEEP_REDIS_URL: starts its own Redis as its child, shows the shared rotation, and stops it",
  async () => {
    const demo = startDemo({ TOKENKEEP_REDIS_URL: "" }, ["--once"]);
    const pid = demo.child.pid!;
    await demo.waitFor(/scripted tour/);
    const [, port] = await demo.waitFor(/^ {2}Redis +redis:\/\/127\.0\.0\.1:(\d+) \(started by the demo\)$/m);
    // While the tour runs: a redis-server of the demo's own process group (its child, not
    // daemonized) listens on the printed port.
    const ports = listeningPorts(pid);
    const commands = groupCommands(pid);
    demo.learnSecrets();
    if (ports !== undefined && commands !== undefined) {
      const owners = [...ports].filter(([, own]) => own.includes(Number(port))).map(([owner]) => owner);
      expect(owners, JSON.stringify(commands)).toHaveLength(1);
      expect(commands.find((one) => one.pid === owners[0])?.command).toMatch(/^redis-server /);
    }
    const code = await demo.exited();
    const output = demo.report();
    expect(code, output).toBe(0);
    expect(output).toMatch(/second site \(Redis\) +http:/);
    expect(output).toContain("the same cookie at both: 1 refresh token redeemed, the other served by it");
    expect(output).toContain("tour done: everything stopped");
    expect(demo.leaks()).toEqual([]);
    // Stopped with the rest: no process of its group, no redis-server on that port anywhere, the
    // port closed, its folder removed.
    expect(await groupGone(pid)).toBe(true);
    expect(redisServersOn(Number(port)) ?? []).toEqual([]);
    expect(await listening(`redis://127.0.0.1:${port}`)).toBe(false);
    const urls = printedUrls(output);
    expect(urls.length, output).toBeGreaterThanOrEqual(6); // the demo's servers, the backend, two sites
    for (const url of urls) expect(await listening(url), url).toBe(false);
    expect(readdirSync(join(demo.dir, "redis"))).toEqual([]);
  },
);

it.skipIf(!redisServer)(
  "a demo killed alone (SIGKILL) leaves its Redis: the next start stops it; SIGHUP (its terminal closed) stops everything",
  async () => {
    const dir = demoDir();
    const redisOf = (demo: Demo) =>
      Number(/^ {2}Redis +redis:\/\/127\.0\.0\.1:(\d+) \(started by the demo\)$/m.exec(demo.output())?.[1]);
    const killed = startDemo({ TOKENKEEP_DEMO_DIR: dir, TOKENKEEP_REDIS_URL: "" });
    await killed.waitFor(/logs +\S+/);
    killed.learnSecrets();
    const stray = redisOf(killed);
    expect(stray, killed.report()).toBeGreaterThan(0);
    // SIGKILL to the demo alone: it cannot stop its children. The Node ones exit when their stdin
    // closes; redis-server does not.
    process.kill(killed.child.pid!, "SIGKILL");
    await killed.exited();
    expect(await listening(`redis://127.0.0.1:${stray}`)).toBe(true);

    const next = startDemo({ TOKENKEEP_DEMO_DIR: dir, TOKENKEEP_REDIS_URL: "" });
    const pid = next.child.pid!;
    await next.waitFor(/logs +\S+/);
    next.learnSecrets();
    expect(redisServersOn(stray) ?? []).toEqual([]);
    expect(await listening(`redis://127.0.0.1:${stray}`)).toBe(false);
    expect(readdirSync(join(dir, "redis"))).toEqual([String(pid)]);
    const own = redisOf(next);
    expect(own, next.report()).toBeGreaterThan(0);

    // SIGHUP to its process group, as a closed terminal sends it: redis-server ignores it, so the
    // demo must stop it; exit code 0, nothing left.
    process.kill(-pid, "SIGHUP");
    expect(await next.exited(), next.report()).toBe(0);
    expect(await groupGone(pid)).toBe(true);
    expect(redisServersOn(own) ?? []).toEqual([]);
    expect(await listening(`redis://127.0.0.1:${own}`)).toBe(false);
    expect(next.leaks()).toEqual([]);
    expect(killed.leaks()).toEqual([]);
  },
);

it("TOKENKEEP_REDIS_URL given: used as it is, none started, and its password never printed", async () => {
  // Nothing answers at port 9: the sites connect only when a session needs the store.
  const password = mintSecret("Redis password", { prefix: "redis-password-" });
  const demo = startDemo({ TOKENKEEP_REDIS_URL: `redis://demo:${password}@127.0.0.1:9` });
  const pid = demo.child.pid!;
  await demo.waitFor(/logs +\S+/);
  const commands = groupCommands(pid);
  demo.learnSecrets();
  expect(demo.report()).toMatch(/^ {2}Redis +redis:\/\/127\.0\.0\.1:9 \(TOKENKEEP_REDIS_URL\)$/m);
  expect(demo.report()).toMatch(/second site \(Redis\) +http:/);
  if (commands !== undefined) {
    expect(commands.filter((one) => one.command.startsWith("redis-server"))).toEqual([]);
  }
  process.kill(-pid, "SIGINT");
  expect(await demo.exited(), demo.report()).toBe(0);
  expect(demo.leaks()).toEqual([]); // the password: not in its output, not in its logs
  expect(await groupGone(pid)).toBe(true);
});

it("DEMO_REDIS=off: one site, no Redis started and TOKENKEEP_REDIS_URL not used", async () => {
  // A URL nothing answers at: a site that used it would fail; off must not even try.
  const demo = startDemo({ DEMO_REDIS: "off", TOKENKEEP_REDIS_URL: "redis://127.0.0.1:9" });
  const pid = demo.child.pid!;
  await demo.waitFor(/logs +\S+/);
  const commands = groupCommands(pid);
  demo.learnSecrets();
  const output = demo.report();
  expect(output).not.toMatch(/Redis|second site/);
  if (commands !== undefined) {
    expect(commands.filter((one) => one.command.includes("astro-app/server/start.ts"))).toHaveLength(1);
    expect(commands.filter((one) => one.command.startsWith("redis-server"))).toEqual([]);
  }
  expect(existsSync(join(demo.dir, "redis"))).toBe(false);
  process.kill(-pid, "SIGINT");
  expect(await demo.exited(), demo.report()).toBe(0);
  expect(demo.leaks()).toEqual([]);
  expect(await groupGone(pid)).toBe(true);
});

it("DEMO_REDIS other than off or auto: exits 2 naming the values, before starting anything", async () => {
  const demo = startDemo({ DEMO_REDIS: "no" }, ["--once"]);
  expect(await demo.exited()).toBe(2);
  expect(demo.report()).toContain('demo: DEMO_REDIS must be "off" or "auto" (the default)');
  expect(demo.report()).not.toMatch(/http:\/\/127\.0\.0\.1:\d+/);
});
