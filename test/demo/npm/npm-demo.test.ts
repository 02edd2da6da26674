// `npm run demo` word for word, as the README tells a user to run it: npm, scripts/run.sh (toolchain
// and install checks, a running demo found before anything is built, the build of what the demo runs)
// and then the demo. The other demo tests start `node scripts/demo.mjs` directly, inside turbo's test
// task, where a build of their own would rewrite `dist/` under other tasks; this file runs after that
// stage instead (scripts/test.sh, `pnpm --filter @tokenkeep/demo-tests test:npm`), when the packages
// are built and nothing else builds. It also runs the demo with its default random cookie secret.
import { afterAll, expect, it } from "vitest";
import { expectNoSecretIn } from "../../reliability/src/secret-assert.ts";
import { groupGone, listening, printedUrls, startNpmDemo, stopDemos } from "../test/helpers.ts";

afterAll(stopDemos);

it("npm run demo -- --once: the tour passes through npm and run.sh, and exits 0", async () => {
  const demo = startNpmDemo({}, ["--once"]);
  await demo.waitFor(/scripted tour/);
  demo.learnSecrets(); // the random cookie secret among them, from the site's environment
  const code = await demo.exited();
  const output = demo.report();
  expect(code, output).toBe(0);
  expect(output).toMatch(/rotated after \d+\.\d s: .*rotations 1/);
  expect(output).toContain("tour done: everything stopped");
  expect(demo.leaks()).toEqual([]);
  expect(await groupGone(demo.child.pid!)).toBe(true);
});

it("npm run demo: runs until Ctrl-C, a second npm run demo prints its URLs, Ctrl-C exits 0", async () => {
  const first = startNpmDemo({});
  const open = await first.waitFor(/open (http:\/\/127\.0\.0\.1:\d+)\/login/);
  first.learnSecrets();
  const urls = printedUrls(first.report());
  // The loops below prove nothing over an empty list: the demo prints at least its five servers.
  expect(urls.length, first.report()).toBeGreaterThanOrEqual(5);
  for (const url of urls) expect(await listening(url), url).toBe(true);

  const second = startNpmDemo({ TOKENKEEP_DEMO_DIR: first.dir });
  expect(await second.exited(), second.report()).toBe(0);
  expect(second.output()).toContain("A demo is already running");
  expect(second.output()).toContain(`open ${open[1]}/login`);
  expectNoSecretIn(second.output(), /pat_/, "the second start's output");

  // Ctrl-C as a terminal sends it: to the foreground process group (npm, its shell, run.sh's exec'd
  // node and the demo's children). npm must hand back the demo's exit code 0, not 130.
  process.kill(-first.child.pid!, "SIGINT");
  expect(await first.exited(), first.report()).toBe(0);
  expect(first.leaks()).toEqual([]);
  expect(await groupGone(first.child.pid!)).toBe(true);
  for (const url of urls) expect(await listening(url), url).toBe(false);
});
