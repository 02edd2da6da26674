/** The same fixture under `astro dev` (the CLI, foreground), against oidc-provider. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OidcProviderServer, startOidcProvider } from "../../grants/test/fixtures/oidc-provider.js";
import { cookieHeader, getSession, signIn, siteEnv } from "./helpers/sessions.js";
import { fixtureRoot, type RunningSite, serveDev } from "./helpers/site.js";

describe("astro dev", () => {
  let provider: OidcProviderServer;
  let site: RunningSite;

  beforeAll(async () => {
    provider = await startOidcProvider({ rotateRefreshToken: true });
    site = await serveDev(fixtureRoot("site"), siteEnv(provider));
  });

  afterAll(async () => {
    await site?.close();
    await provider?.close();
  });

  it("rotates an expiring session before the page renders, once for parallel requests", async () => {
    const session = { ...(await signIn(provider)), expiresAt: Date.now() + 5_000 };
    const cookie = await cookieHeader(session);
    const before = provider.hits.get("/token") ?? 0;
    const answers = await Promise.all(Array.from({ length: 10 }, () => getSession(site.url, cookie)));
    expect((provider.hits.get("/token") ?? 0) - before).toBe(1);
    for (const answer of answers) {
      expect(answer.body.signedIn).toBe(true);
      expect(answer.setCookie[0]).toMatch(/^tokenkeep=tk1\./);
    }
  });

  it("a prerendered page: no Set-Cookie, and the middleware does not even read the request's headers", async () => {
    const session = { ...(await signIn(provider)), expiresAt: Date.now() + 5_000 };
    const before = provider.hits.get("/token") ?? 0;
    const response = await fetch(`${site.url}/static`, { headers: { cookie: await cookieHeader(session) } });
    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(provider.hits.get("/token") ?? 0).toBe(before);
    // Astro's dev server warns when a prerendered route reads the request headers (cookies).
    expect(site.output()).not.toContain("Astro.request.headers");
  });
});
