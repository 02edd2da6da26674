/** Builds that must fail, with a message that says what to do. */
import { describe, expect, it } from "vitest";
import { buildFixture } from "./helpers/site.js";

describe("build errors", () => {
  it("a client script importing the config module fails the build instead of shipping its secrets", async () => {
    await expect(buildFixture("client-import", "silent")).rejects.toThrow(/imported from client-side code/);
  }, 60_000);

  it("a missing config module fails the build, naming the file to create with an example", async () => {
    await expect(buildFixture("no-config", "silent")).rejects.toThrow(
      /src\/tokenkeep\.config\.ts does not exist[\s\S]*defineTokenkeepConfig/,
    );
  }, 60_000);
});
