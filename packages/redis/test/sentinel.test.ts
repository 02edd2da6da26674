import { passwordGrant, refreshTokenGrant } from "@tokenkeep/grants";
import { createSentinel } from "redis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createRedisStore } from "../src/index.js";
import { rotateEverywhere, startManagerFleet, startRotationFleet } from "./support/in-process-fleet.js";
import { CLIENT, startOidcProvider, USER } from "./support/oidc-provider.js";
import { type RedisSentinelTrio, startRedisSentinel } from "./support/redis-topology.js";
import { redisUrlOrSkip, uniquePrefix } from "./support/redis-url.js";
import { startCountingTokenEndpoint } from "./support/token-endpoint.js";

// The master, replica and sentinel are started here; the shared Redis only proves that the
// binaries are installed.
const url = redisUrlOrSkip("sentinel.test.ts");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!url)("on a master, a replica and a sentinel (createSentinel)", () => {
  let trio: RedisSentinelTrio | undefined;
  const clients: Array<{ close(): Promise<void>; destroy(): unknown }> = [];

  async function connectClients(count: number) {
    const made = Array.from({ length: count }, () => {
      const client = createSentinel({ name: trio!.masterName, sentinelRootNodes: trio!.sentinelRootNodes });
      client.on("error", () => {});
      clients.push(client);
      return client;
    });
    await Promise.all(made.map((client) => client.connect()));
    return made;
  }

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close().catch(() => client.destroy())));
    await trio?.stop();
    trio = undefined;
  });
  afterAll(async () => {
    await trio?.stop();
  });

  it("3 instances under load and 3 rotating a refresh token: the master killed mid-load, one token fetch per expiry, one redemption per refresh token, no caller failing", async () => {
    trio = await startRedisSentinel({ downAfterMs: 500 });
    const endpoint = await startCountingTokenEndpoint(60);
    const provider = await startOidcProvider();
    const fleetClients = await connectClients(3);
    // The store works through the sentinel's master (every command of the Store interface).
    const store = createRedisStore({ client: fleetClients[0]!, keyPrefix: uniquePrefix("sentinel") });
    await store.set("k", { v: 1 }, 60_000);
    expect(await store.get("k")).toEqual({ v: 1 });
    const release = await store.acquire("lease", 5_000);
    expect(await store.acquire("lease", 5_000)).toBeUndefined();
    expect(await release!.renew!(5_000)).toBe(true);
    await release!();
    expect(await store.compareAndDelete("k", { v: 1 })).toBe(true);
    // A client leased from the sentinel with acquire() works too.
    const leased = await fleetClients[0]!.acquire();
    const onLease = createRedisStore({ client: leased, keyPrefix: uniquePrefix("leased") });
    await onLease.set("k", { v: 2 }, 60_000);
    expect(await onLease.get("k")).toEqual({ v: 2 });
    leased.release();

    const fleet = startManagerFleet({
      clients: fleetClients,
      keyPrefix: uniquePrefix("failover"),
      tokenUrl: endpoint.url,
    });
    const grant = { tokenUrl: provider.tokenUrl, clientId: CLIENT.id, clientSecret: CLIENT.secret };
    const initial = await passwordGrant({ ...grant, username: USER.name, password: USER.password })();
    const coordinators = startRotationFleet({
      clients: await connectClients(3),
      keyPrefix: uniquePrefix("rotation"),
      ...grant,
    });
    try {
      const load = fleet.load();
      const rounds = 10;
      let failover: Promise<{ failoverMs: number }> | undefined;
      let refreshToken = initial.refreshToken!;
      for (let round = 1; round <= rounds; round++) {
        if (round > 1) fleet.advance(61_000);
        // Round 3: the master dies as the expiry's lease and write, and a rotation, go out.
        if (round === 3) failover = trio.killMaster();
        // Rotation callers retry a transient failure (the store unavailable) as an app would.
        const rotated = await rotateEverywhere(coordinators, refreshToken, 10, 100);
        expect(rotated.errors).toEqual([]);
        expect(rotated.pairs.size).toBe(1); // every caller of every instance got the same successor
        refreshToken = [...rotated.pairs][0]!.split(" ")[1]!;
        await expect
          .poll(() => endpoint.requests.length, { timeout: 15_000, interval: 10 })
          .toBeGreaterThanOrEqual(round);
        await sleep(200);
      }
      const { failoverMs } = await failover!;
      const result = await load.stop();
      expect(failoverMs).toBeGreaterThan(500); // the sentinel's down-after time: Redis was really gone
      expect(result.errors).toEqual([]);
      expect(result.failed).toBe(0);
      expect(result.ok).toBeGreaterThan(100);
      expect(endpoint.requests).toHaveLength(rounds);
      // The 5 s command timeout outlasted the failover: commands waited for the new master.
      const stats = fleet.managers.map((manager) => manager.stats());
      expect(stats.map((s) => s.storeDegradedCount)).toEqual([0, 0, 0]);
      // No refresh token was presented twice upstream, and the family is alive.
      expect(provider.ledger).toEqual({ redeemed: rounds, rejected: 0, revokedGrants: 0 });
      await expect(refreshTokenGrant({ ...grant, refreshToken })()).resolves.toMatchObject({
        accessToken: expect.any(String),
      });
    } finally {
      await fleet.dispose();
      await Promise.all(coordinators.map((coordinator) => coordinator.dispose()));
      await endpoint.close();
      await provider.close();
    }
  }, 90_000);
});
