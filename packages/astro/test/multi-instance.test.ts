/**
 * Two processes of the built fixture sharing one Redis (their own redis-server, so it can be
 * stopped), against oidc-provider with rotating, reuse-detecting refresh tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OidcProviderServer, startOidcProvider } from "../../grants/test/fixtures/oidc-provider.js";
import { type RedisServerProcess, startRedisServer } from "../../redis/test/support/redis-server.js";
import { redisUrlOrSkip } from "../../redis/test/support/redis-url.js";
import { cookieHeader, getSession, sha256, signIn, siteEnv } from "./helpers/sessions.js";
import { fixtureRoot, type RunningSite, serveBuilt } from "./helpers/site.js";

// Like @tokenkeep/redis' tests: runs where Redis is set up (scripts/services/redis.sh), fails on CI without it.
const available = redisUrlOrSkip("multi-instance.test.ts");

describe.skipIf(!available)("two built servers on one Redis", () => {
  let provider: OidcProviderServer;
  let redis: RedisServerProcess;
  let sites: RunningSite[] = [];

  beforeAll(async () => {
    [provider, redis] = await Promise.all([
      startOidcProvider({ rotateRefreshToken: true }),
      startRedisServer(),
    ]);
    const env = {
      ...siteEnv(provider),
      FIXTURE_REDIS_URL: redis.url,
      FIXTURE_REDIS_PREFIX: `tktest:astro:${crypto.randomUUID().slice(0, 8)}:`,
    };
    sites = await Promise.all([serveBuilt(fixtureRoot("site"), env), serveBuilt(fixtureRoot("site"), env)]);
  });

  afterAll(async () => {
    await Promise.all(sites.map((site) => site.close()));
    await provider?.close();
    await redis?.stop();
  });

  const tokenHits = () => provider.hits.get("/token") ?? 0;

  it("one session's requests alternating between the instances cause one refresh", async () => {
    const session = { ...(await signIn(provider)), expiresAt: Date.now() + 5_000 };
    const cookie = await cookieHeader(session);
    const before = tokenHits();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, index) => getSession(sites[index % 2]!.url, cookie)),
    );
    expect(tokenHits() - before).toBe(1);
    expect(new Set(answers.map((answer) => answer.body.tokenHash)).size).toBe(1);
    for (const answer of answers) expect(answer.body.signedIn).toBe(true);
    // Each instance served some of them, and one of the two answered from the other's redemption.
    const [first, second] = await Promise.all(sites.map((site) => getSession(site.url, undefined)));
    expect(first!.body.stats.rotations + second!.body.stats.rotations).toBeGreaterThanOrEqual(2);
    expect(first!.body.stats.successorHits + second!.body.stats.successorHits).toBeGreaterThanOrEqual(1);
  });

  it("with Redis stopped, requests are still served with the valid access token; nothing is redeemed or cleared", async () => {
    await redis.stop();
    const session = { ...(await signIn(provider)), expiresAt: Date.now() + 5_000 };
    const cookie = await cookieHeader(session);
    const before = tokenHits();
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, index) => getSession(sites[index % 2]!.url, cookie)),
    );
    for (const answer of answers) {
      expect(answer.response.status).toBe(200);
      expect(answer.body.signedIn).toBe(true);
      expect(answer.body.tokenHash).toBe(sha256(session.accessToken));
      expect(answer.setCookie).toEqual([]);
    }
    // Redeeming per process would let the two instances present the same token twice.
    expect(tokenHits() - before).toBe(0);
  });
});
