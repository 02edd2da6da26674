// The example built with Astro's build() and started as a user starts it (`node server/start.ts`):
// once with no configuration (it starts its own servers), once pointed at servers the test runs.

import { type LocalServers, startLocalServers } from "@tokenkeep/example-local-servers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.ts";
import { type App, client, startApp, startAppAgainst } from "./helpers.ts";

const text = async (response: Response) => response.text();

describe("with no configuration", () => {
  let app: App;
  beforeAll(async () => {
    app = await startApp({});
  });
  afterAll(async () => {
    await app?.close();
  });

  it("starts its own servers and says how to sign in, without printing a secret", () => {
    expect(app.output()).toMatch(/authorization server \(oidc-provider\): http:\/\/127\.0\.0\.1:\d+/);
    expect(app.output()).toMatch(/PAT server \(SQLite in memory\): http:\/\/127\.0\.0\.1:\d+/);
    expect(app.output()).toContain("sign in as alice / correct horse");
    expectNoSecretIn(app.output(), /demo-/, "the output");
  });

  it("signs in with the Action, reads the API, shows the session, and signs out", async () => {
    const browser = client(app.url);
    const home = await browser.get("/");
    expect(await text(home)).toContain("You are signed out.");
    expect(home.headers.getSetCookie()).toEqual([]);

    const guarded = await browser.get("/account/profile");
    expect(guarded.status).toBe(302);
    expect(guarded.headers.get("location")).toBe("/login?returnTo=%2Faccount%2Fprofile");

    const action = "/login?returnTo=%2Faccount%2Fprofile&_action=login";
    const wrong = await browser.post(action, { username: "alice", password: "nope" });
    expect(await text(wrong)).toContain('<p id="error" role="alert">Wrong username or password.</p>');
    expect(browser.jar.size).toBe(0);

    const signedIn = await browser.post(action, { username: "alice", password: "correct horse" });
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get("location")).toBe("/account/profile");
    const [cookie] = signedIn.headers.getSetCookie();
    expect(cookie).toMatch(/^tokenkeep=tk1\./);
    expect(cookie).toContain("HttpOnly");

    const profile = await browser.get("/account/profile");
    expect(profile.headers.get("cache-control")).toBe("private, no-store");
    expect(await text(profile)).toContain("Hello, Alice (alice).");
    const dashboard = await text(await browser.get("/account/dashboard"));
    for (const id of [1, 2, 3, 4, 5]) expect(dashboard).toContain(`Item ${id} of alice`);
    const session = await text(await browser.get("/account/session"));
    expect(session).toMatch(/<dd id="expires">\d{4}-\d\d-\d\dT/);
    expect(session).toContain('http-equiv="refresh"');

    const signedOut = await browser.post("/_tokenkeep/logout", {});
    expect(signedOut.status).toBe(303);
    expect(signedOut.headers.getSetCookie()[0]).toMatch(/^tokenkeep=deleted;/);
    expect(browser.jar.size).toBe(0);
    expect((await browser.get("/account/profile")).status).toBe(302);
  });

  it("the admin page lists, issues, revokes and restores personal access tokens", async () => {
    const browser = client(app.url);
    await browser.post("/login?_action=login", { username: "alice", password: "correct horse" });
    const before = await text(await browser.get("/admin/tokens"));
    expect(before).toContain("admin@tokenkeep.example");

    const issued = await text(await browser.post("/admin/tokens", { op: "issue", owner: "ci@example.com" }));
    expect(issued).toMatch(/<p id="issued">New token/);
    const id = /<tr data-token-id="([^"]+)"><td>[^<]+<\/td><td>ci@example\.com/.exec(issued)?.[1];
    expect(id).toBeDefined();
    const row = (page: string) => new RegExp(`data-token-id="${id}".*?class="state">(\\w+)<`).exec(page)?.[1];
    expect(row(issued)).toBe("active");

    const revoked = await text(await browser.post("/admin/tokens", { op: "revoke", tokenId: id! }));
    expect(row(revoked)).toBe("revoked");
    expect(revoked).not.toContain('id="issued"');
    const restored = await text(await browser.post("/admin/tokens", { op: "restore", tokenId: id! }));
    expect(row(restored)).toBe("active");

    // An owner whose right-to-left override would show it as another: the override is shown escaped.
    const spoofed = await text(
      await browser.post("/admin/tokens", { op: "issue", owner: "ci\u202Emoc.elpmaxe@nimda" }),
    );
    expect(spoofed).toContain("<td>ci\\u202emoc.elpmaxe@nimda</td>");
    expect(spoofed).not.toContain("\u202E");
  });
});

describe("pointed at an upstream", () => {
  let servers: LocalServers;
  let app: App;
  beforeAll(async () => {
    // Access tokens live 4 s: the middleware rotates once less than 2 s (half their life) are left.
    servers = await startLocalServers({ accessTokenLifetimeS: 4 });
    app = await startAppAgainst(servers, "example-test-secret-0123456789abcdef");
  });
  afterAll(async () => {
    await app?.close();
    await servers?.close();
  });

  it("uses it, and five parallel page loads after expiry cause one refresh and no reuse", async () => {
    expect(app.output()).not.toContain("authorization server (oidc-provider)");
    const browser = client(app.url);
    await browser.post("/login?_action=login", { username: "alice", password: "correct horse" });
    expect(browser.jar.size).toBe(1);
    const cookie = browser.cookie();
    // Past half the access token's life: the next requests must rotate (a real server, real time).
    await new Promise((resolve) => setTimeout(resolve, 2_300));
    const before = servers.counters.tokenRequests;
    const pages = await Promise.all(
      Array.from({ length: 5 }, () =>
        fetch(`${app.url}/account/dashboard`, {
          headers: { cookie, accept: "text/html" },
          redirect: "manual",
        }),
      ),
    );
    for (const page of pages) {
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("Item 5 of alice");
    }
    expect(servers.counters.tokenRequests - before).toBe(1);
    expect(servers.counters.grantsRevoked).toBe(0);
  });
});
