/**
 * Builds the fixture site once for the whole test run (Astro's programmatic build()); the test files
 * that serve it start their own processes from test/fixtures/site/dist.
 */
import { buildFixture } from "./helpers/site.js";

export default async function setup(): Promise<void> {
  // The fixture's config module throws when evaluated with this set: the build must not evaluate it
  // (it may open connections or need secrets the build machine does not have).
  process.env.FIXTURE_FAIL_IF_EVALUATED = "1";
  try {
    await buildFixture("site");
  } finally {
    delete process.env.FIXTURE_FAIL_IF_EVALUATED;
  }
}
