/**
 * Builds the fixture site once for the whole test run (Astro's programmatic build()); the test files
 * that serve it start their own processes from test/fixtures/site/dist.
 */
import { buildFixture } from "./helpers/site.js";

export default async function setup(): Promise<void> {
  await buildFixture("site");
}
