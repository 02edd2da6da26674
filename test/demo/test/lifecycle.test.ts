// `npm run demo` as a long-running process: one block of URLs, a second start that finds the first,
// Ctrl-C (SIGINT) that stops every child and frees every port with exit code 0, and an admin PAT that
// is shown on the first start only. With redis-server on PATH, the first start runs its own Redis too
// (TOKENKEEP_REDIS_URL unset): Ctrl-C stops it with the rest.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { expectNoSecretIn } from "../../reliability/src/secret-assert.ts";
import { registerSecret } from "../../reliability/src/secret-registry.ts";
import {
  demoDir,
  groupGone,
  listening,
  printedUrls,
  redisServersOn,
  startDemo,
  stopDemos,
} from "./helpers.ts";

afterAll(stopDemos);

it("runs until SIGINT, is found by a second start, then stops everything with exit code 0", async () => {
  const dir = demoDir();
  const first = startDemo({ TOKENKEEP_DEMO_DIR: dir, TOKENKEEP_REDIS_URL: "" });
  await first.waitFor(/logs +\S+/);
  const learned = first.learnSecrets(); // the shown admin PAT, the client secrets, the cookie secret
  if (existsSync("/proc/self/environ")) expect(learned).toBeGreaterThanOrEqual(4);
  const output = first.report(); // never the clear PAT, even in a failure message
  const site = /open (http:\/\/127\.0\.0\.1:\d+)\/login {2}and sign in as alice \/ correct horse/.exec(
    output,
  );
  expect(site, first.report()).not.toBeNull();
  // One short block, the admin PAT in it once (and kept, owner-only, in the demo folder).
  expect(output.trim().split("\n").length).toBeLessThanOrEqual(12);
  expect(output).toMatch(/admin PAT \(shown once; kept in \S+\): \[admin PAT\]/);
  expect(first.output()).toMatch(/admin PAT \(shown once; kept in \S+\): pat_/);
  expect(existsSync(join(dir, "state.json"))).toBe(true);
  const urls = printedUrls(output);
  expect(urls.length).toBeGreaterThanOrEqual(5);
  for (const url of urls) expect(await listening(url), url).toBe(true);
  // Its own Redis, when redis-server is on PATH (redis.test.ts checks the tour through it).
  const redisPort = Number(
    /^ {2}Redis +redis:\/\/127\.0\.0\.1:(\d+) \(started by the demo\)$/m.exec(output)?.[1],
  );

  // A second start while it runs: prints the first one's URLs, starts nothing, exits 0.
  const second = startDemo({ TOKENKEEP_DEMO_DIR: dir, TOKENKEEP_REDIS_URL: "" });
  expect(await second.exited(), second.report()).toBe(0);
  expect(second.output()).toContain(`A demo is already running (pid ${first.child.pid}`);
  expect(second.output()).toContain(`open ${site![1]}/login`);
  expectNoSecretIn(second.output(), /pat_/, "the second start's output");

  // Ctrl-C, as a terminal sends it (to the whole process group, children included): exit code 0, no
  // process of its group left, every port closed, the state file gone.
  process.kill(-first.child.pid!, "SIGINT");
  expect(await first.exited(), first.report()).toBe(0);
  // Its admin PAT shown once, on its line; no other registered secret in its output or its logs.
  expect(first.leaks()).toEqual([]);
  expect(second.leaks()).toEqual([]);
  expect(await groupGone(first.child.pid!)).toBe(true);
  for (const url of urls) expect(await listening(url), url).toBe(false);
  if (redisPort) {
    expect(await listening(`redis://127.0.0.1:${redisPort}`)).toBe(false);
    expect(redisServersOn(redisPort) ?? []).toEqual([]);
  }
  expect(existsSync(join(dir, "state.json"))).toBe(false);

  // Started again on the same folder: the PAT database and its admin PAT are kept, not shown again.
  const third = startDemo({ TOKENKEEP_DEMO_DIR: dir, DEMO_REDIS: "off" });
  await third.waitFor(/logs +\S+/);
  expect(third.output()).toMatch(/admin PAT +in \S+admin-token \(shown when it was made\)/);
  expectNoSecretIn(third.output(), /pat_/, "the third start's output");
  // The SQLite file is where the README says, and the kept admin PAT is an admin of that database:
  // exchanged for a JWT, it lists the tokens.
  expect(existsSync(join(dir, "pat.sqlite"))).toBe(true);
  const patUrl = /PAT server +(http:\/\/127\.0\.0\.1:\d+) \(SQLite: /.exec(third.output())?.[1];
  expect(patUrl, third.report()).toBeDefined();
  const kept = readFileSync(join(dir, "admin-token"), "utf8").trim();
  const exchange = await fetch(`${patUrl}/auth/token`, {
    method: "POST",
    headers: { authorization: `Bearer ${kept}` },
    body: new URLSearchParams({ grant_type: "client_credentials" }),
  });
  expect(exchange.status).toBe(200);
  const { access_token: jwt } = (await exchange.json()) as { access_token: string };
  registerSecret(jwt, "admin JWT");
  const listed = await fetch(`${patUrl}/admin/tokens`, { headers: { authorization: `Bearer ${jwt}` } });
  expect(listed.status).toBe(200);
  const { records } = (await listed.json()) as { records: { owner: string; isAdmin: boolean }[] };
  expect(records.filter((record) => record.isAdmin).length).toBe(1); // made once, on the first start
  process.kill(third.child.pid!, "SIGTERM");
  expect(await third.exited(), third.report()).toBe(0);
  expect(third.leaks()).toEqual([]);
  expect(await groupGone(third.child.pid!)).toBe(true);
});

it("a state file left by a killed demo, or naming a live process that is not a demo, is not a running demo", async () => {
  const dir = demoDir();
  for (const pid of [2 ** 22 + 1, process.pid]) {
    // A pid that does not exist, then a live one (this test's own process) that is no demo.
    writeFileSync(
      join(dir, "state.json"),
      JSON.stringify({ pid, startedAt: "then", lines: ["  open http://x"] }),
    );
    const check = startDemo({ TOKENKEEP_DEMO_DIR: dir, TOKENKEEP_REDIS_URL: "" }, ["--check"]);
    expect(await check.exited(), check.report()).toBe(3);
    expect(check.output()).not.toContain("already running");
    expect(existsSync(join(dir, "state.json"))).toBe(false);
  }
  // Half a state file (a demo killed mid-write) is no running demo either.
  writeFileSync(join(dir, "state.json"), '{"pid": 1');
  const check = startDemo({ TOKENKEEP_DEMO_DIR: dir, TOKENKEEP_REDIS_URL: "" }, ["--check"]);
  expect(await check.exited(), check.report()).toBe(3);
});
