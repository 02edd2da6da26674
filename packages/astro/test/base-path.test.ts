/**
 * A built site served under Astro's `base` (test/fixtures/base-path, `base: "/app"`): protected paths
 * are the site's own, matched below the base, and the sign-in redirect points under it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildFixture, type RunningSite, serveBuilt } from "./helpers/site.js";

let site: RunningSite;

beforeAll(async () => {
  const root = await buildFixture("base-path");
  site = await serveBuilt(root, { TOKENKEEP_SECRET: "base-path-fixture-secret-0123456789abcdef" });
});

afterAll(async () => {
  await site?.close();
});

const page = (path: string, cookie?: string) =>
  fetch(`${site.url}${path}`, {
    headers: { accept: "text/html", ...(cookie === undefined ? {} : { cookie }) },
    redirect: "manual",
  });

describe("built site under base /app", () => {
  it("a protected page below the base redirects to the sign-in page under the base", async () => {
    const response = await page("/app/account");
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/app/login?returnTo=%2Fapp%2Faccount");
    // A page rewriting to it: protected as it is, and back to the page asked for after sign-in.
    const rewritten = await page("/app/go");
    expect(rewritten.status).toBe(302);
    expect(rewritten.headers.get("location")).toBe("/app/login?returnTo=%2Fapp%2Fgo");
    const home = await page("/app/");
    expect(home.status).toBe(200);
    expect(await home.text()).toContain("signed out");
  });

  it("signed in through the injected route (under the base), the protected page renders, no-store", async () => {
    const signIn = await fetch(`${site.url}/app/_tokenkeep/login`, {
      method: "POST",
      headers: { "content-type": "application/json", "sec-fetch-site": "same-origin" },
      body: JSON.stringify({ username: "alice", password: "wonderland" }),
    });
    expect(signIn.status).toBe(200);
    const cookie = signIn.headers
      .getSetCookie()
      .map((header) => header.split(";")[0])
      .join("; ");
    const account = await page("/app/account", cookie);
    expect(account.status).toBe(200);
    expect(await account.text()).toContain("account page");
    expect(account.headers.get("cache-control")).toBe("private, no-store");
  });
});
