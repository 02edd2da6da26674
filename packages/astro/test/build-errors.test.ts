/** Builds that must fail, with a message that says what to do. */
import { describe, expect, it } from "vitest";
import { buildFixture } from "./helpers/site.js";

describe("build errors", () => {
  it("a client script importing the config module fails the build instead of shipping its secrets", async () => {
    await expect(buildFixture("client-import", "silent")).rejects.toThrow(/imported from client-side code/);
  }, 60_000);

  it("a config module reading a private import.meta.env value fails the build, naming process.env as the fix", async () => {
    await expect(buildFixture("build-time-env", "silent")).rejects.toThrow(
      /tokenkeep\.config\.ts reads import\.meta\.env\.UPSTREAM_URL: Astro replaces these[\s\S]*process\.env\.UPSTREAM_URL/,
    );
  }, 60_000);

  it("a missing config module fails the build, naming the file to create with an example", async () => {
    await expect(buildFixture("no-config", "silent")).rejects.toThrow(
      /src\/tokenkeep\.config\.ts does not exist[\s\S]*defineTokenkeepConfig/,
    );
  }, 60_000);
});
