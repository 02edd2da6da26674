// The demo in Debian's Chromium (playwright-core; CHROMIUM_PATH, default /usr/bin/chromium; skipped
// when absent, never downloaded), started as a user starts it, with access tokens living 4 s so a
// rotation comes within seconds: sign in, watch the session rotate, issue and revoke a PAT on the
// admin page, watch the backend's counters update by themselves, a screenshot of each page into screenshots/ (git-ignored),
// then Ctrl-C (SIGINT): exit code 0, no process left, every port closed.
import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, expect, it } from "vitest";
import { registerSecret } from "../../reliability/src/secret-registry.ts";
import { groupGone, listening, printedUrls, startDemo, stopDemos } from "./helpers.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--no-first-run",
];
const shots = fileURLToPath(new URL("../screenshots/", import.meta.url));

let browser: Browser | undefined;
afterAll(async () => {
  await browser?.close();
  await stopDemos();
});

const shoot = (page: Page, name: string) => page.screenshot({ path: `${shots}${name}.png`, fullPage: true });

it.skipIf(!existsSync(CHROMIUM))(
  "signs in, sees a rotation, issues and revokes a PAT, shows the backend, and stops on Ctrl-C",
  async () => {
    mkdirSync(shots, { recursive: true });
    const demo = startDemo({
      ACCESS_TOKEN_LIFETIME_S: "4",
      REFRESH_WINDOW_MS: "2000",
      SERVICE_TOKEN_LIFETIME_S: "4",
      BACKEND_INTERVAL_MS: "250",
      DEMO_REDIS: "off", // one site is enough here; once.test.ts and redis.test.ts cover two on Redis
    });
    const pid = demo.child.pid!;
    const [, site] = await demo.waitFor(/open (http:\/\/127\.0\.0\.1:\d+)\/login/);
    await demo.waitFor(/logs +\S+/);
    demo.learnSecrets();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
    const page = await browser.newPage({ viewport: { width: 1000, height: 640 } });

    // Sign in with the printed credentials.
    await page.goto(`${site}/account/session`);
    expect(new URL(page.url()).pathname).toBe("/login");
    await shoot(page, "1-login");
    await page.fill('input[name="username"]', "alice");
    await page.fill('input[name="password"]', "correct horse");
    await Promise.all([page.waitForURL(`${site}/account/session`), page.click('button[type="submit"]')]);
    expect(await page.isVisible('button:has-text("Sign out")')).toBe(true);

    // The timeline: reload until the middleware has rotated the tokens (past half their 4 s life).
    const expiresBefore = await page.textContent("#expires");
    const deadline = Date.now() + 30_000;
    while (Number(await page.textContent("#rotations")) < 1) {
      expect(Date.now()).toBeLessThan(deadline);
      await page.waitForTimeout(250);
      await page.goto(`${site}/account/session`);
    }
    expect(await page.textContent("#expires")).not.toBe(expiresBefore);
    expect(await page.textContent("#issued")).toMatch(/^\d{4}-/);
    await shoot(page, "2-session");

    // The PAT admin page: issue one, then revoke it.
    const owner = `browser-${Date.now()}@example.com`;
    await page.goto(`${site}/admin/tokens`);
    await page.fill('input[name="owner"]', owner);
    await Promise.all([page.waitForLoadState("load"), page.click('button[value="issue"]')]);
    await page.waitForSelector("#issued");
    const issued = /pat_\S+/.exec((await page.textContent("#issued")) ?? "")?.[0];
    expect(issued).toBeDefined();
    registerSecret(issued!, "PAT"); // shown on the page to its user, never in a log
    const row = page.locator("tr", { hasText: owner });
    expect(await row.locator(".state").textContent()).toBe("active");
    await shoot(page, "3-tokens-issued");
    await row.locator('button[value="revoke"]').click();
    await page.waitForFunction(
      (who) =>
        [...document.querySelectorAll("tr")].some(
          (tr) => tr.textContent?.includes(who) && tr.querySelector(".state")?.textContent === "revoked",
        ),
      owner,
    );
    await shoot(page, "4-tokens-revoked");

    // The Node backend's counters, live.
    await page.goto(`${site}/backend`);
    while (Number(await page.textContent("#refresh-ahead")) < 1) {
      expect(Date.now()).toBeLessThan(deadline + 30_000);
      await page.waitForTimeout(250);
      await page.goto(`${site}/backend`);
    }
    expect(Number(await page.textContent("#fetches"))).toBeGreaterThan(0);
    expect(Number(await page.textContent("#cache-hits"))).toBeGreaterThan(0);
    // Live: the page reloads itself (every 2 s) and shows the calls made meanwhile, no click needed.
    const shownBefore = Number(await page.textContent("#fetches"));
    await page.waitForFunction(
      (before) => Number(document.querySelector("#fetches")?.textContent) > before,
      shownBefore,
      { timeout: 10_000 },
    );
    await shoot(page, "5-backend");
    await page.goto(`${site}/account/dashboard`);
    await shoot(page, "6-dashboard");
    await browser.close();
    browser = undefined;

    // Ctrl-C.
    const urls = printedUrls(demo.output());
    expect(urls.length).toBeGreaterThanOrEqual(5); // its servers, the backend and the site
    process.kill(pid, "SIGINT");
    expect(await demo.exited(), demo.report()).toBe(0);
    expect(demo.leaks()).toEqual([]);
    expect(await groupGone(pid)).toBe(true);
    for (const url of urls) expect(await listening(url), url).toBe(false);
  },
);
