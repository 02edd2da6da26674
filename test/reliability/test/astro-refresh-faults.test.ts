/**
 * The Astro integration's rotation storm while the upstream's refresh endpoint fails: the built
 * fixture site of @tokenkeep/astro (packages/astro/test/fixtures/site, served from its
 * dist/server/entry.mjs as its own tests serve it) with the custom-endpoint upstream behind the fault
 * proxy (src/fault-proxy.ts). The upstream rotates single-use refresh tokens and, like a careful
 * authorization server, revokes a session's family when a used refresh token comes back.
 *
 * Many sessions due for rotation arrive at once, each as several parallel requests, while the proxy
 * answers some refreshes 5xx (the upstream never sees them) and resets others mid-answer (the
 * upstream rotated, the site never heard). Then each browser comes back once with the newest cookie it
 * received. A session may end only if the upstream revoked it; every other one is still signed in.
 *
 * Long mode only, on the site @tokenkeep/astro's own tests built (their global setup builds it; a
 * second build here would race with theirs when `npm test` runs both at once).
 */
import { existsSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cookieHeader, followUp, getSession, SECRET } from "../../../packages/astro/test/helpers/sessions";
import { fixtureRoot, type RunningSite, serveBuilt } from "../../../packages/astro/test/helpers/site";
import { listen, type RunningServer, readBody, sendJson } from "../../../packages/grants/test/fixtures/http";
import { type Fault, type FaultProxy, startFaultProxy } from "../src/fault-proxy";
import { MODE } from "../src/mode";
import { logLine } from "../src/output";
import { registerSecret } from "../src/secrets";

const SESSIONS = 60;
const PARALLEL = 5;

describe.runIf(MODE === "long")(
  "Astro: refresh endpoint failing during a rotation storm",
  { timeout: 300_000 },
  () => {
    let api: RunningServer;
    let proxy: FaultProxy;
    let site: RunningSite;
    /** family -> its one live refresh token, or "revoked". */
    const families = new Map<string, string>();
    const counts = { refreshes: 0, rotated: 0, reuses: 0 };
    let fault: (n: number) => Fault | undefined = () => undefined;
    /** family -> the refresh token its first cookie carried. */
    const original = new Map<string, string>();

    beforeAll(async () => {
      // Built by @tokenkeep/astro's own test run (its global setup); Astro's build() resolves the
      // integration's injected routes only when run there.
      if (!existsSync(join(fixtureRoot("site"), "dist", "server", "entry.mjs"))) {
        throw new Error(
          "the Astro fixture site is not built: run `pnpm --filter @tokenkeep/astro test` first",
        );
      }
      api = await listen(async (request: IncomingMessage, response: ServerResponse) => {
        const body = JSON.parse((await readBody(request)) || "{}") as { refreshToken?: string };
        if (request.url !== "/auth/refresh") return sendJson(response, 404, {});
        counts.refreshes++;
        const presented = body.refreshToken ?? "";
        const family = presented.split(".")[0] ?? "";
        if (families.get(family) !== presented) {
          counts.reuses++;
          families.set(family, "revoked"); // reuse detection: the whole family ends
          return sendJson(response, 401, { message: "refresh token reused or unknown" });
        }
        counts.rotated++;
        const renew = registerSecret(`${family}.${crypto.randomUUID()}`, "refresh token");
        families.set(family, renew);
        const token = registerSecret(`access-${crypto.randomUUID()}`, "access token");
        sendJson(response, 200, { result: { token, renew, ttl: 600 } });
      });
      proxy = await startFaultProxy({ upstream: api.url, schedule: (n) => fault(n) });
      site = await serveBuilt(fixtureRoot("site"), {
        TOKENKEEP_SECRET: SECRET,
        FIXTURE_UPSTREAM: "endpoints",
        FIXTURE_API_URL: proxy.url,
      });
    }, 300_000);

    afterAll(async () => {
      await site?.close();
      await proxy?.close();
      await api?.close();
    });

    it(`${SESSIONS} sessions x ${PARALLEL} parallel requests, refreshes failing (5xx, resets): none lost that the upstream did not revoke`, async () => {
      // Of every 5 refreshes reaching the proxy: 2 answered 5xx, 1 reset after the upstream rotated.
      fault = (n) => (n % 5 === 1 || n % 5 === 2 ? "5xx" : n % 5 === 3 ? "reset" : undefined);
      const browsers = await Promise.all(
        Array.from({ length: SESSIONS }, async (_, index) => {
          const family = `f${index}`;
          const refreshToken = registerSecret(`${family}.${crypto.randomUUID()}`, "refresh token");
          families.set(family, refreshToken);
          original.set(family, refreshToken);
          const cookie = await cookieHeader({
            accessToken: registerSecret(`access-${crypto.randomUUID()}`, "access token"),
            tokenType: "Bearer",
            expiresAt: Date.now() + 8_000, // inside the refresh window, still valid
            refreshToken,
          });
          return { family, cookie };
        }),
      );
      const started = Date.now();
      const storm = await Promise.all(
        browsers.map(async (browser) => {
          const answers = await Promise.all(
            Array.from({ length: PARALLEL }, () => getSession(site.url, browser.cookie)),
          );
          const newest = answers.find((answer) => answer.setCookie.length > 0);
          return {
            ...browser,
            statuses: answers.map((answer) => answer.response.status),
            signedIn: answers.filter((answer) => answer.body.signedIn).length,
            cookie: newest ? followUp(newest.setCookie) : browser.cookie,
          };
        }),
      );
      const stormMs = Date.now() - started;
      const injected = { ...proxy.injected };
      // The endpoint is healthy again; each browser comes back once with the newest cookie it holds.
      fault = () => undefined;
      const after = await Promise.all(
        storm.map(async (browser) => ({ ...browser, again: await getSession(site.url, browser.cookie) })),
      );
      const revoked = after.filter((browser) => families.get(browser.family) === "revoked");
      const lost = after.filter(
        (browser) => !browser.again.body.signedIn && families.get(browser.family) !== "revoked",
      );
      // Lost although the upstream never redeemed the refresh token (it still holds the first one).
      const intact = lost.filter((browser) => families.get(browser.family) === original.get(browser.family));
      const figure = {
        fault: "refresh endpoint: 2 in 5 answered 5xx, 1 in 5 reset after rotating",
        sessions: SESSIONS,
        parallel: PARALLEL,
        stormMs,
        proxyRequests: proxy.requests,
        injected,
        upstream: counts,
        fiveHundreds: storm.flatMap((browser) => browser.statuses).filter((status) => status >= 500).length,
        signedInDuringStorm: storm.reduce((sum, browser) => sum + browser.signedIn, 0),
        requestsDuringStorm: SESSIONS * PARALLEL,
        signedInAfter: after.filter((browser) => browser.again.body.signedIn).length,
        revokedByUpstream: revoked.length,
        lostNotRevoked: lost.length,
        lostWithRefreshTokenIntact: intact.length,
        lostAfterRotationAnswerCut: lost.length - intact.length,
        siteStats: after.at(-1)?.again.body.stats,
        siteEvents: after.at(-1)?.again.body.events,
      };
      logLine("astro-figures.jsonl", JSON.stringify(figure));
      console.log(`astro figure: ${JSON.stringify(figure)}`);
      expect(proxy.injected["5xx"] ?? 0).toBeGreaterThan(0);
      expect(proxy.injected.reset ?? 0).toBeGreaterThan(0);
      expect(figure.fiveHundreds).toBe(0);
      expect(figure.revokedByUpstream).toBe(0); // no refresh token was ever presented twice
      // A cut answer after the upstream rotated loses that session (the new token never arrived, the
      // old one is spent): at most one per reset.
      expect(figure.lostAfterRotationAnswerCut).toBeLessThanOrEqual(proxy.injected.reset ?? 0);
      // FINDING (reported, not fixed here: astro and core are not this suite's to change): a 5xx from
      // the refresh endpoint, which the upstream never saw, also ends the session - the rotation
      // coordinator treats the failed redemption as in doubt, so every later request is "late" and
      // signed out although the upstream still holds the refresh token. Pinned so a fix shows: when
      // this fails with 0, make it `toBe(0)` and fold it into the check above.
      expect(intact.length).toBeGreaterThan(0);
      expect(intact.length).toBeLessThanOrEqual(proxy.injected["5xx"] ?? 0);
    });
  },
);
