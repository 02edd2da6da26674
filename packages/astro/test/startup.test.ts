/** The built server (standalone @astrojs/node) refuses to start in production without a cookie secret. */
import { describe, expect, it } from "vitest";
import { fixtureRoot, runBuiltUntilExit } from "./helpers/site.js";

describe("production start-up", () => {
  it("without TOKENKEEP_SECRET the built server exits at once, naming the variable, and never listens", async () => {
    const site = await runBuiltUntilExit(fixtureRoot("site"), { NODE_ENV: "production" });
    expect(site.code, site.output).not.toBeNull();
    expect(site.code).not.toBe(0);
    expect(site.output).toContain("no cookie secret. Set TOKENKEEP_SECRET");
    expect(site.output).toContain("ERR_TOKENKEEP_NO_COOKIE_SECRET");
    expect(site.listened).toBe(false);
  });

  it("a mistake in upstream.oauth (a misspelt option) stops the server as it starts, naming the option", async () => {
    const site = await runBuiltUntilExit(fixtureRoot("site"), {
      TOKENKEEP_SECRET: "x".repeat(32),
      FIXTURE_OAUTH_TYPO: "1",
    });
    expect(site.code, site.output).not.toBeNull();
    expect(site.code).not.toBe(0);
    expect(site.output).toContain("upstream.oauth: unknown option `clientID` - did you mean `clientId`?");
    expect(site.output).toContain("ERR_TOKENKEEP_INVALID_OPTIONS");
    expect(site.listened).toBe(false);
  });

  it("protection covering the injected routes stops the server as it starts, though only the second registration asks for them", async () => {
    // The fixture lists the integration twice, `routes: true` on the second only.
    const site = await runBuiltUntilExit(fixtureRoot("site"), {
      TOKENKEEP_SECRET: "x".repeat(32),
      FIXTURE_PROTECT_ALL: "1",
    });
    expect(site.code, site.output).not.toBeNull();
    expect(site.code).not.toBe(0);
    expect(site.output).toContain(
      "protect.paths.0: /* covers /_tokenkeep/login, a route the integration injects",
    );
    expect(site.output).toContain("ERR_TOKENKEEP_INVALID_OPTIONS");
    expect(site.listened).toBe(false);
  });

  it("with the secret the same build starts (the check reads the environment when the server starts)", async () => {
    const site = await runBuiltUntilExit(
      fixtureRoot("site"),
      { TOKENKEEP_SECRET: "x".repeat(32) },
      { untilListening: true },
    );
    expect(site.code, site.output).toBeNull();
    expect(site.listened).toBe(true);
  });
});
