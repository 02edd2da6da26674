// `npm run demo -- --once`: the scripted tour through the demo's servers exits 0 and says what it saw.
import { existsSync } from "node:fs";
import { afterAll, expect, it } from "vitest";
import { expectNoSecretIn } from "../../reliability/src/secret-assert.ts";
import { groupGone, listening, printedUrls, startDemo, stopDemos } from "./helpers.ts";

afterAll(stopDemos);

it("signs in, sees a rotation, issues and revokes a PAT, reads the backend's counters, and stops everything", async () => {
  const demo = startDemo({}, ["--once"]);
  const pid = demo.child.pid!;
  // While the tour runs: the secrets its servers, backend and sites run with, registered.
  await demo.waitFor(/scripted tour/);
  const learned = demo.learnSecrets();
  const code = await demo.exited();
  const output = demo.report(); // registered secrets shown as labels, even in a failure message
  expect(code, demo.report()).toBe(0);
  expect(output).toMatch(/signed in as alice: 303 to \/account\/session/);
  expect(output).toMatch(/rotated after \d+\.\d s: .*rotations 1/);
  expect(output).toMatch(/PAT \S+ issued for \S+ .*, revoked, restored/);
  expect(output).toMatch(/robot credentials grant: a token for robot-1, the API answered 200/);
  expect(output).toMatch(
    /backend: \d+ API calls \(\d+ ok\), [1-9]\d* tokens from the cache, \d+ token requests of which [1-9]\d* refreshed ahead/,
  );
  expect(output).toMatch(/\/backend shows the same counters/);
  if (process.env.TOKENKEEP_REDIS_URL) {
    // npm test runs with Redis: a second site on it, one redemption serving both.
    expect(output).toMatch(/second site \(Redis\) +http:/);
    expect(output).toContain("the same cookie at both: 1 refresh token redeemed, the other served by it");
  }
  expect(output).toContain("tour done: everything stopped");
  // No secret in what it prints: no PAT, no client secret, no access token.
  expectNoSecretIn(output, /pat_|demo-[0-9a-f]{8}-|eyJ|Bearer /, "the output");
  expect(demo.leaks()).toEqual([]);
  if (existsSync("/proc/self/environ")) expect(learned).toBeGreaterThanOrEqual(4); // 2 client secrets, PAT, cookie
  expect(await groupGone(pid)).toBe(true);
  // Its servers, the backend and the site at least: an empty list would check nothing below.
  const urls = printedUrls(output);
  expect(urls.length, output).toBeGreaterThanOrEqual(5);
  for (const url of urls) expect(await listening(url), url).toBe(false);
});
