/**
 * The built fixture against a custom-endpoint API (astro-tokenkit's shape) whose refresh tokens are
 * single use and reuse-detecting, like a careful API's (a reused token revokes its whole family): the
 * config's parser function runs in the built server, parallel requests cause one refresh, and a late
 * request never presents an old token again.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mintSecret } from "../../../test/reliability/src/secret-registry.js";
import { listen, type RunningServer, readBody, sendJson } from "../../grants/test/fixtures/http.js";
import { cookieHeader, getSession, SECRET, sha256 } from "./helpers/sessions.js";
import { fixtureRoot, type RunningSite, serveBuilt } from "./helpers/site.js";

describe("built site, custom-endpoint upstream", () => {
  let api: RunningServer;
  let site: RunningSite;
  const live = new Set<string>();
  let refreshes = 0;
  let reuses = 0;
  let generation = 0;
  // Each token, by name (`token-1`, `renew-0`): minted once and registered (secret-registry.ts).
  const minted = new Map<string, string>();
  const named = (name: string, label: string): string => {
    if (!minted.has(name)) minted.set(name, mintSecret(label, { prefix: `${name}-` }));
    return minted.get(name)!;
  };
  const token = (n: number) => named(`token-${n}`, "access token");
  const renewal = (n: number) => named(`renew-${n}`, "refresh token");

  beforeAll(async () => {
    api = await listen(async (request: IncomingMessage, response: ServerResponse) => {
      const body = JSON.parse(await readBody(request)) as { refreshToken?: string };
      if (request.url !== "/auth/refresh") return sendJson(response, 404, {});
      refreshes++;
      const presented = body.refreshToken ?? "";
      if (!live.delete(presented)) {
        // Reuse detection: the whole family is revoked, every tab signed out.
        reuses++;
        live.clear();
        return sendJson(response, 401, { message: "refresh token reused or unknown" });
      }
      generation++;
      const renew = renewal(generation);
      live.add(renew);
      // A shape no field mapping guesses: only the config's parseRefresh reads it.
      sendJson(response, 200, { result: { token: token(generation), renew, ttl: 600 } });
    });
    site = await serveBuilt(fixtureRoot("site"), {
      TOKENKEEP_SECRET: SECRET,
      FIXTURE_UPSTREAM: "endpoints",
      FIXTURE_API_URL: api.url,
      // The server's clock is the test's to move (the default 30 s successor window, no real wait).
      FIXTURE_CLOCK: "1",
    });
  });

  /** Whether a test moved the server's clock (then it is put back after that test). */
  let clockMoved = false;
  /** Sets how far the built server's clock runs ahead of the real one (its rotation store's too). */
  const setClock = async (offsetMs: number) => {
    const response = await fetch(`${site.url}/api/clock?offsetMs=${offsetMs}`);
    expect(response.status).toBe(200);
    clockMoved = offsetMs !== 0;
  };

  afterEach(async () => {
    if (clockMoved) await setClock(0);
  });

  afterAll(async () => {
    await site?.close();
    await api?.close();
  });

  it("50 parallel requests of one expiring session: one refresh, read by the config's parser function; the old refresh token 1 s later gets the successor", async () => {
    live.add(renewal(0));
    const cookie = await cookieHeader({
      accessToken: token(0),
      tokenType: "Bearer",
      expiresAt: Date.now() + 5_000,
      refreshToken: renewal(0),
    });
    const answers = await Promise.all(Array.from({ length: 50 }, () => getSession(site.url, cookie)));
    expect(refreshes).toBe(1);
    expect(reuses).toBe(0);
    for (const answer of answers) {
      expect(answer.body.signedIn).toBe(true);
      expect(answer.body.tokenHash).toBe(sha256(token(1)));
      expect(answer.body.sessionPayload).toEqual({ parsedBy: "fixture parseRefresh" });
      expect(answer.setCookie).toHaveLength(1);
    }

    // A tab that missed the answer comes back 1 s later with the old cookie: the same successor.
    await setClock(1_000);
    const late = await getSession(site.url, cookie);
    expect(late.body.signedIn).toBe(true);
    expect(late.body.tokenHash).toBe(sha256(token(1)));
    expect(refreshes).toBe(1);
    expect(live.has(renewal(1))).toBe(true);
  });

  it("the old refresh token 60 s after its rotation: signed out, cookies untouched, never presented again, the family alive", async () => {
    const start = { refreshes, generation };
    const old = renewal(generation);
    const cookie = await cookieHeader({
      accessToken: token(generation),
      tokenType: "Bearer",
      expiresAt: Date.now() + 5_000,
      refreshToken: old,
    });
    const rotated = await getSession(site.url, cookie);
    expect(rotated.body.signedIn).toBe(true);
    expect(refreshes - start.refreshes).toBe(1);
    const newest = renewal(start.generation + 1);

    await setClock(60_000);
    const late = await getSession(site.url, cookie);
    expect(late.response.status).toBe(200);
    expect(late.body.signedIn).toBe(false);
    expect(late.setCookie).toEqual([]); // the browser already holds the newer pair
    expect(late.body.stats.lateRequests).toBeGreaterThanOrEqual(1);
    expect(refreshes - start.refreshes).toBe(1); // the old token was not presented again
    expect(reuses).toBe(0);
    expect(live.has(newest)).toBe(true); // no family revoked: the newer pair still rotates
  });
});
