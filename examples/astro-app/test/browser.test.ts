// The built example in Debian's Chromium (driven by playwright-core; no browser is downloaded)
// against oidc-provider with rotating refresh tokens whose reuse revokes the grant, and access tokens
// living 4 s (the middleware rotates once less than 2 s are left). Time is real here: two servers and
// a browser share no clock, so the tests wait for a token to age.
import { existsSync } from "node:fs";
import { type LocalServers, startLocalServers } from "@tokenkeep/example-local-servers";
import { type Browser, type BrowserContext, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectOtherSecret } from "../../../test/reliability/src/secret-assert.ts";
import { type App, startAppAgainst } from "./helpers.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];
/** Past half the access token's 4 s life: the next request rotates. */
const AGE_MS = 2_300;
const age = () => new Promise((resolve) => setTimeout(resolve, AGE_MS));

let servers: LocalServers;
let app: App;
let browser: Browser;

beforeAll(async () => {
  servers = await startLocalServers({ accessTokenLifetimeS: 4 });
  app = await startAppAgainst(servers, "browser-test-secret-0123456789abcdef");
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await servers?.close();
});

async function signIn(context: BrowserContext) {
  const page = await context.newPage();
  await page.goto(`${app.url}/account/profile`);
  expect(new URL(page.url()).pathname).toBe("/login");
  await page.fill('input[name="username"]', "alice");
  await page.fill('input[name="password"]', "correct horse");
  await Promise.all([page.waitForURL(`${app.url}/account/profile`), page.click('button[type="submit"]')]);
  expect(await page.textContent("#profile")).toContain("Hello, Alice");
  return page;
}

describe.skipIf(!existsSync(CHROMIUM))("in Chromium", () => {
  it("sign-in sets one HttpOnly, SameSite=Lax cookie that document.cookie cannot read", async () => {
    const context = await browser.newContext();
    const page = await signIn(context);
    const cookies = await context.cookies();
    expect(cookies.map((cookie) => cookie.name)).toEqual(["tokenkeep"]);
    expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: "Lax", secure: false, path: "/" });
    expect(await page.evaluate(() => document.cookie)).toBe("");
    await context.close();
  });

  it("behind a trusted proxy saying https: Secure and __Host- prefixed", async () => {
    const context = await browser.newContext({ extraHTTPHeaders: { "x-forwarded-proto": "https" } });
    await signIn(context);
    const cookies = await context.cookies();
    expect(cookies.map((cookie) => cookie.name)).toEqual(["__Host-tokenkeep"]);
    expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: "Lax", secure: true, path: "/" });
    await context.close();
  });

  it("after expiry one navigation causes exactly one refresh", async () => {
    const context = await browser.newContext();
    const page = await signIn(context);
    await age();
    const before = servers.counters.tokenRequests;
    await page.goto(`${app.url}/account/profile`);
    expect(await page.textContent("#profile")).toContain("Hello, Alice");
    expect(servers.counters.tokenRequests - before).toBe(1);
    await context.close();
  });

  it("5 parallel API calls while a second tab navigates: one refresh, no sign-out", async () => {
    const context = await browser.newContext();
    const first = await signIn(context);
    const second = await context.newPage();
    await age();
    const before = servers.counters.tokenRequests;
    const revokedBefore = servers.counters.grantsRevoked;
    await Promise.all([
      first.goto(`${app.url}/account/dashboard`),
      second.goto(`${app.url}/account/profile`),
    ]);
    expect(await first.locator("#items li").count()).toBe(5);
    expect(await second.textContent("#profile")).toContain("Hello, Alice");
    expect(servers.counters.tokenRequests - before).toBe(1);
    expect(servers.counters.grantsRevoked).toBe(revokedBefore);
    await context.close();
  });

  it("a request replayed with the old cookie neither loops nor signs out, and the family stays alive", async () => {
    const context = await browser.newContext();
    const page = await signIn(context);
    const old = await context.cookies();
    await age();
    await page.goto(`${app.url}/account/profile`); // rotates
    expectOtherSecret((await context.cookies())[0]?.value, old[0]?.value, "the rotated session cookie");
    const revokedBefore = servers.counters.grantsRevoked;

    // The old cookie, sent again from another jar (a slow request, a restored tab).
    const replay = await browser.newContext();
    await replay.addCookies(old);
    const late = await replay.newPage();
    const response = await late.goto(`${app.url}/account/profile`);
    expect(response?.status()).toBe(200); // served by the successor, not redirected in a loop
    await replay.close();

    // The real tab is still signed in, and its session rotates again: the family is alive upstream.
    await age();
    const before = servers.counters.tokenRequests;
    await page.goto(`${app.url}/account/profile`);
    expect(await page.textContent("#profile")).toContain("Hello, Alice");
    expect(servers.counters.tokenRequests - before).toBe(1);
    expect(servers.counters.grantsRevoked).toBe(revokedBefore);
    await context.close();
  });

  it("a server island and a prefetched link after expiry: one refresh in all", async () => {
    const context = await browser.newContext();
    const page = await signIn(context);
    await age();
    const before = servers.counters.tokenRequests;
    const prefetched = page.waitForRequest(`${app.url}/account/dashboard`);
    await page.goto(`${app.url}/account/overview`);
    await prefetched;
    expect(await page.locator("#badge").textContent()).toBe("island: signed in");
    await page.waitForLoadState("networkidle");
    expect(servers.counters.tokenRequests - before).toBe(1);
    await context.close();
  });

  it("a prerendered page sends no Set-Cookie", async () => {
    const context = await browser.newContext();
    const page = await signIn(context);
    await age(); // due for rotation: an on-demand page would rotate and set the cookie
    const response = await page.goto(`${app.url}/about`);
    expect(await response?.headerValue("set-cookie")).toBeNull();
    expect(await page.textContent("#about")).toContain("A static page");
    await context.close();
  });

  it("sign-out clears every cookie and revokes upstream; the back button shows no protected content", async () => {
    const context = await browser.newContext();
    const page = await signIn(context);
    const revocations = servers.counters.revocations;
    await Promise.all([page.waitForURL(`${app.url}/`), page.click('nav button[type="submit"]')]);
    expect(await context.cookies()).toEqual([]);
    expect(servers.counters.revocations - revocations).toBe(1);
    await page.goBack();
    expect(new URL(page.url()).pathname).toBe("/login");
    expect(await page.content()).not.toContain("Hello, Alice");
    await context.close();
  });
});
