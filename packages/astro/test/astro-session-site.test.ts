/**
 * The built fixture with `storage: "session"`: the sealed session lives in Astro's session (the
 * fixture's memory driver, whose writes a test can make fail), the browser holds only Astro's
 * session id.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { type OidcProviderServer, startOidcProvider } from "../../grants/test/fixtures/oidc-provider.js";
import { createCookieSealer } from "../src/cookie-seal.js";
import { encodeSession } from "../src/session.js";
import { getSession, SECRET, sha256, signIn, siteEnv } from "./helpers/sessions.js";
import { fixtureRoot, type RunningSite, serveBuilt } from "./helpers/site.js";

describe("built site, sessions in Astro's session", () => {
  let provider: OidcProviderServer;
  let site: RunningSite;

  beforeAll(async () => {
    provider = await startOidcProvider({ rotateRefreshToken: true });
    site = await serveBuilt(fixtureRoot("site"), { ...siteEnv(provider), FIXTURE_STORAGE: "session" });
  });

  afterAll(async () => {
    await site?.close();
    await provider?.close();
  });

  const tokenHits = () => provider.hits.get("/token") ?? 0;

  /** Stores an expiring session of a fresh sign-in in Astro's session: the browser's Cookie header. */
  async function seedExpiring() {
    const session = { ...(await signIn(provider)), expiresAt: Date.now() + 5_000 };
    const value = await createCookieSealer([SECRET], "tokenkeep").seal(encodeSession(session));
    const seeded = await fetch(`${site.url}/api/seed-session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ value }),
    });
    expect(seeded.status).toBe(204);
    const astroCookie = seeded.headers
      .getSetCookie()
      .map((header) => header.split(";")[0]!)
      .join("; ");
    expect(astroCookie).toMatch(/^astro-session=/);
    return { session, astroCookie };
  }

  const driverWrites = async (fail: boolean) =>
    expect((await fetch(`${site.url}/api/session-driver?failWrites=${fail ? 1 : 0}`)).status).toBe(204);

  it("parallel requests of one expiring session: one refresh, stored server side; no token in any cookie", async () => {
    const { session, astroCookie } = await seedExpiring();

    const before = tokenHits();
    const answers = await Promise.all(Array.from({ length: 20 }, () => getSession(site.url, astroCookie)));
    expect(tokenHits() - before).toBe(1);
    const hashes = new Set(answers.map((answer) => answer.body.tokenHash));
    expect(hashes.size).toBe(1);
    expect([...hashes][0]).not.toBe(sha256(session.accessToken));
    for (const answer of answers) {
      expect(answer.body.signedIn).toBe(true);
      for (const header of answer.setCookie) expectNoSecretIn(header, /^(__Host-)?tokenkeep/, "a Set-Cookie");
    }

    // The rotated session was stored: the next request uses it without another refresh.
    const next = await getSession(site.url, astroCookie);
    expect(next.body.tokenHash).toBe([...hashes][0]);
    expect(tokenHits() - before).toBe(1);
  });

  it("a driver refusing to store the rotated session: Astro answers 500, the new pair is not lost; once it stores again, the same pair, no second refresh", async () => {
    const { session, astroCookie } = await seedExpiring();
    const before = tokenHits();
    await driverWrites(false);
    try {
      await driverWrites(true);
      // Astro persists the session after the page rendered; the write fails there, past the middleware.
      const failed = await fetch(`${site.url}/api/session`, { headers: { cookie: astroCookie } });
      expect(failed.status).toBe(500);
      await failed.body?.cancel();
      expect(tokenHits() - before).toBe(1);
    } finally {
      await driverWrites(false);
    }
    // The driver still holds the old pair: the next request is answered the same rotation's pair
    // (the coordinator's successor), which Astro now stores.
    const recovered = await getSession(site.url, astroCookie);
    expect(recovered.body.signedIn).toBe(true);
    expect(recovered.body.tokenHash).not.toBe(sha256(session.accessToken));
    expect(tokenHits() - before).toBe(1);
    const stored = await getSession(site.url, astroCookie);
    expect(stored.body.tokenHash).toBe(recovered.body.tokenHash);
    expect(tokenHits() - before).toBe(1);
  });

  it("an anonymous request gets no Set-Cookie at all", async () => {
    const { body, setCookie } = await getSession(site.url, undefined);
    expect(body.signedIn).toBe(false);
    expect(setCookie).toEqual([]);
  });
});
