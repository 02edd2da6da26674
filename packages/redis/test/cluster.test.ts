import { passwordGrant, refreshTokenGrant } from "@tokenkeep/grants";
import { createCluster } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisStore } from "../src/index.js";
import { rotateEverywhere, startManagerFleet, startRotationFleet } from "./support/in-process-fleet.js";
import { CLIENT, startOidcProvider, USER } from "./support/oidc-provider.js";
import { cli, type RedisCluster, startRedisCluster } from "./support/redis-topology.js";
import { redisUrlOrSkip } from "./support/redis-url.js";
import { startCountingTokenEndpoint } from "./support/token-endpoint.js";

// The cluster is started here (three redis-server processes); the shared Redis only proves that
// the binaries are installed.
const url = redisUrlOrSkip("cluster.test.ts");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!url)("on a 3-master Redis Cluster (createCluster)", () => {
  let cluster: RedisCluster;
  const clients: Array<{ close(): Promise<void>; destroy(): unknown }> = [];

  async function connectClients(count: number) {
    const made = Array.from({ length: count }, () => {
      const client = createCluster({ rootNodes: cluster.rootNodes });
      client.on("error", () => {});
      clients.push(client);
      return client;
    });
    await Promise.all(made.map((client) => client.connect()));
    return made;
  }

  /** A key prefix with a hash tag: every key of the test lives in one slot, which the test moves. */
  function taggedPrefix(label: string): string {
    return `{${label}-${crypto.randomUUID().slice(0, 8)}}:`;
  }

  /** Moves the prefix's slot to the next master, spending `pauseMs` half-migrated (ASK answers). */
  async function moveSlotOf(prefix: string, pauseMs: number) {
    const slot = await cluster.slotOf(`${prefix}x`);
    const from = await cluster.ownerOf(slot);
    const to = cluster.ports[(cluster.ports.indexOf(from) + 1) % cluster.ports.length]!;
    await cli(to, "CONFIG", "RESETSTAT");
    await cluster.migrateSlot(slot, to, pauseMs);
    expect(await cluster.ownerOf(slot)).toBe(to);
    // Commands reached the new owner through ASK redirections while the slot was half-moved.
    const asking = /cmdstat_asking:calls=(\d+)/.exec(await cli(to, "INFO", "commandstats"))?.[1];
    expect(Number(asking ?? 0), "ASKING commands on the importing node").toBeGreaterThan(0);
    // The entries moved with the slot (the value, and the markers or lease still alive).
    expect(Number(await cli(to, "CLUSTER", "COUNTKEYSINSLOT", String(slot)))).toBeGreaterThan(0);
    return { slot, from, to };
  }

  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close().catch(() => client.destroy())));
    await cluster?.stop();
  });

  it("stores through the cluster: values and leases land on the slots' owners", async () => {
    const [client] = await connectClients(1);
    const store = createRedisStore({ client: client!, keyPrefix: "tktest:cluster:" });
    // Untagged keys spread over the masters; each command still reaches its key's owner.
    for (let i = 0; i < 30; i++) await store.set(`k${i}`, { i }, 60_000);
    for (let i = 0; i < 30; i++) expect(await store.get(`k${i}`)).toEqual({ i });
    const perMaster = await Promise.all(cluster.ports.map((port) => cli(port, "DBSIZE")));
    expect(perMaster.filter((size) => Number(size) > 0).length).toBeGreaterThanOrEqual(2);
    const release = await store.acquire("lease", 5_000);
    expect(release).toBeTypeOf("function");
    expect(await store.acquire("lease", 5_000)).toBeUndefined();
    expect(await release!.renew!(5_000)).toBe(true);
    await release!();
    expect(await store.compareAndDelete("k0", { i: 0 })).toBe(true);
    expect(await store.get("k0")).toBeUndefined();
    // compareAndSet too: its SET NX and its script reach the owner of each key's slot.
    expect(await store.compareAndSet("k0", undefined, { i: 0 }, 60_000)).toBe(true);
    for (let i = 0; i < 30; i++)
      expect(await store.compareAndSet(`k${i}`, { i }, { i: i + 100 }, 60_000)).toBe(true);
    for (let i = 0; i < 30; i++) expect(await store.get(`k${i}`)).toEqual({ i: i + 100 });
  }, 30_000);

  it("3 instances under load keep one token fetch per expiry while the key's slot migrates", async () => {
    const endpoint = await startCountingTokenEndpoint(60);
    const prefix = taggedPrefix("fleet");
    const fleet = startManagerFleet({
      clients: await connectClients(3),
      keyPrefix: prefix,
      tokenUrl: endpoint.url,
    });
    try {
      const load = fleet.load();
      const rounds = 8;
      let migration: Promise<unknown> | undefined;
      for (let round = 1; round <= rounds; round++) {
        // Every instance's 60 s token expires at once; the next callers need a new one.
        if (round > 1) fleet.advance(61_000);
        await expect.poll(() => endpoint.requests.length, { timeout: 10_000, interval: 10 }).toBe(round);
        // Three rounds in, the slot starts moving: 1.5 s half-migrated, then the keys move.
        if (round === 3) migration = moveSlotOf(prefix, 1_500);
        await sleep(250);
      }
      await migration;
      const result = await load.stop();
      expect(result.errors).toEqual([]);
      expect(result.failed).toBe(0);
      expect(result.ok).toBeGreaterThan(100);
      // One fetch per expiry across the whole fleet, through the migration.
      expect(endpoint.requests).toHaveLength(rounds);
      const stats = fleet.managers.map((manager) => manager.stats());
      expect(stats.map((s) => s.storeFailures)).toEqual([0, 0, 0]);
    } finally {
      await fleet.dispose();
      await endpoint.close();
    }
  }, 60_000);

  it("rotation coordinators redeem each refresh token once while the slot migrates (oidc-provider)", async () => {
    const provider = await startOidcProvider();
    try {
      const grant = { tokenUrl: provider.tokenUrl, clientId: CLIENT.id, clientSecret: CLIENT.secret };
      const initial = await passwordGrant({ ...grant, username: USER.name, password: USER.password })();
      const prefix = taggedPrefix("rotation");
      const coordinators = startRotationFleet({
        clients: await connectClients(3),
        keyPrefix: prefix,
        ...grant,
      });
      let refreshToken = initial.refreshToken!;
      const rounds = 8;
      let migration: Promise<unknown> | undefined;
      for (let round = 1; round <= rounds; round++) {
        if (round === 2) migration = moveSlotOf(prefix, 1_500);
        const { pairs, errors } = await rotateEverywhere(coordinators, refreshToken, 10);
        expect(errors).toEqual([]);
        expect(pairs.size).toBe(1); // every caller of every instance got the same successor
        refreshToken = [...pairs][0]!.split(" ")[1]!;
        await sleep(150);
      }
      await migration;
      expect(provider.ledger).toEqual({ redeemed: rounds, rejected: 0, revokedGrants: 0 });
      // The family is alive: the last refresh token still redeems.
      await expect(refreshTokenGrant({ ...grant, refreshToken })()).resolves.toMatchObject({
        accessToken: expect.any(String),
      });
      await Promise.all(coordinators.map((coordinator) => coordinator.dispose()));
    } finally {
      await provider.close();
    }
  }, 60_000);
});
