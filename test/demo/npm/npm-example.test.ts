// `npm run example -- <name>`, as each example's README tells a user to start it from a fresh clone:
// npm, scripts/run.sh (toolchain and install checks, the build of the packages the example uses) and
// the example's own `start`. Run after turbo's stage with the other npm tests (the build is cached by
// then, and nothing else builds). One example is enough to hold the command's wiring (the others differ
// by their name only, and their own tests run their `start` in turbo's stage).
import { afterAll, expect, it } from "vitest";
import { groupGone, startNpmExample, stopDemos } from "../test/helpers.ts";

afterAll(stopDemos);

it("npm run example without a name: exit 2 and the names it takes", async () => {
  const example = startNpmExample(undefined);
  expect(await example.exited(), example.report()).toBe(2);
  expect(example.output()).toContain("usage: npm run example -- node-backend|pat-admin|astro-app");
});

it("npm run example -- node-backend: built, started, run to its end against its own servers", async () => {
  const example = startNpmExample("node-backend", { DEMO_DURATION_MS: "1500" });
  expect(await example.exited(), example.report()).toBe(0);
  expect(example.output()).toMatch(/token fetched: token #1/);
  expect(example.output()).toMatch(/done: \d+ API calls, 0 failed/);
  expect(await groupGone(example.child.pid!)).toBe(true);
});
