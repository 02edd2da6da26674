import { inspect } from "node:util";
import { createTokenManager, isNetworkError, isTimeoutError, type TokenEvent } from "@tokenkeep/core";
import { createRotationCoordinator } from "@tokenkeep/core/rotation";
import { shareStore } from "@tokenkeep/core/shared";
import { createClient } from "redis";
import { afterEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { mintSecret } from "../../../test/reliability/src/secret-registry.js";
import { isStoreError } from "../src/errors.js";
import { createRedisStore, type RedisStore } from "../src/redis-store.js";
import { type RedisServerProcess, startRedisServer } from "./support/redis-server.js";
import { redisUrlOrSkip, uniquePrefix } from "./support/redis-url.js";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.js";

// The client a store creates from `url`, against redis-servers of this test's own (the shared one
// only proves that the binary is installed): a wrong password or database, and a primary demoted
// to a replica while the store's connection to it stays open.
const url = redisUrlOrSkip("owned-connection.test.ts");

describe.skipIf(!url)("a store created from url", () => {
  const servers: RedisServerProcess[] = [];
  const stores: RedisStore[] = [];
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await proxy?.close();
    proxy = undefined;
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });
  const open = (options: Parameters<typeof createRedisStore>[0]) => {
    const store = createRedisStore(options);
    stores.push(store);
    return store;
  };
  /** Polls `done` on real timers until it holds (`vi.waitFor` would move a fake clock too). */
  const until = async (done: () => boolean, timeoutMs = 5_000) => {
    const giveUpAt = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > giveUpAt) throw new Error(`not done within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  /** A client of the test's own on `port`, closed when the test ends. */
  const admin = async (port: number, password?: string) => {
    const client = createClient({ url: `redis://127.0.0.1:${port}`, password });
    client.on("error", () => {});
    await client.connect();
    stores.push({ close: () => client.close() } as RedisStore);
    return client;
  };

  /** How many connections `node` has accepted since it started. */
  const received = async (node: Awaited<ReturnType<typeof admin>>) =>
    Number(/total_connections_received:(\d+)/.exec(await node.info("stats"))?.[1]);
  /**
   * The start of the replica checks' tests: a store (`timeoutMs` 250) reaching a node through a TCP
   * proxy; the node made a replica of a primary that is gone, until the store's writes fail READONLY
   * (so its next commands check the connection), then made a primary again.
   */
  const primaryAgain = async (prefix: string) => {
    const redis = await startRedisServer();
    servers.push(redis);
    const node = await admin(redis.port);
    const endpoint = await startTcpProxy(redis.port);
    proxy = endpoint;
    const keyPrefix = uniquePrefix(prefix);
    const store = open({ url: `redis://127.0.0.1:${endpoint.port}`, keyPrefix, timeoutMs: 250 });
    // (Asked again until answered: on a loaded machine the first connection may take longer.)
    await vi.waitFor(() => store.set("k", "v", 60_000), { timeout: 5_000 });
    const dead = await startRedisServer();
    await dead.stop();
    await node.sendCommand(["REPLICAOF", "127.0.0.1", String(dead.port)]);
    await vi.waitFor(() => expect(store.set("k", "w", 60_000)).rejects.toThrow(/READONLY/), {
      timeout: 5_000,
    });
    await node.sendCommand(["REPLICAOF", "NO", "ONE"]);
    return { node, proxy: endpoint, store, keyPrefix, port: redis.port, connections: () => received(node) };
  };

  it("names why the connection fails (WRONGPASS, NOAUTH, ERR), never the password", async () => {
    const password = mintSecret("the Redis password");
    const wrong = mintSecret("a wrong Redis password");
    const redis = await startRedisServer(["--requirepass", password]);
    servers.push(redis);
    const secrets = { "the password": password, "the wrong password": wrong };
    const cases = [
      { url: `redis://:${wrong}@127.0.0.1:${redis.port}`, reply: "WRONGPASS" },
      { url: `redis://127.0.0.1:${redis.port}`, reply: "NOAUTH" },
      { url: `redis://:${password}@127.0.0.1:${redis.port}/99`, reply: "ERR" }, // no database 99
    ];
    // Created first: a client's creation blocks the event loop a while, and each store's first
    // command waits for its connection at most timeoutMs.
    const cased = cases.map(({ url }) => open({ url, keyPrefix: uniquePrefix("auth"), timeoutMs: 750 }));
    const failures = await Promise.all(
      cased.map(async (store) => {
        // The first command waits for the connection, in vain; the next ones fail at once.
        const first = await store.get("k").catch((error: unknown) => error);
        const next = await store.set("k", "v", 1_000).catch((error: unknown) => error);
        return [first, next];
      }),
    );
    for (const [index, [first, next]] of failures.entries()) {
      expect(isTimeoutError(first)).toBe(true);
      expect(isNetworkError(next)).toBe(true);
      for (const error of [first, next]) {
        expect((error as Error).message).toContain(`last connection error: ${cases[index]!.reply}`);
        expectNoSecretIn(error, secrets, "the error");
        expectNoSecretIn(inspect(error, { showHidden: true, depth: 10 }), secrets, "the error, inspected");
      }
    }

    // The token manager's store-degraded event carries it too (it is the first failure's error).
    const events: TokenEvent[] = [];
    const store = open({ url: cases[0]!.url, keyPrefix: uniquePrefix("auth"), timeoutMs: 750 });
    const manager = createTokenManager({
      shared: shareStore(store, { timeoutMs: 1_000 }),
      creator: async () => ({ access_token: "at", expires_in: 60 }),
      onEvent: (event) => events.push(event),
    });
    await manager.getToken(); // served per process
    const degraded = events.find((event) => event.type === "store-degraded");
    expect(String((degraded?.error as Error | undefined)?.message)).toContain("WRONGPASS");
    await manager.dispose();
  }, 15_000);

  it("leaves a primary demoted to a replica: a READONLY reply opens a new connection", async () => {
    // A primary and its replica, behind one endpoint (a TCP proxy, as a managed Redis endpoint or a
    // DNS name): then a manual failover that leaves the store's connection open to the old primary.
    const fastSync = ["--repl-diskless-sync-delay", "0"];
    const [a, b] = await Promise.all([startRedisServer(fastSync), startRedisServer(fastSync)]);
    servers.push(a!, b!);
    const [adminA, adminB] = await Promise.all([admin(a!.port), admin(b!.port)]);
    await adminB.sendCommand(["REPLICAOF", "127.0.0.1", String(a!.port)]);
    proxy = await startTcpProxy(a!.port);
    const store = open({ url: `redis://127.0.0.1:${proxy.port}`, keyPrefix: uniquePrefix("demoted") });
    await store.set("before", "kept", 60_000);
    // Replicated to b: WAIT counts the replicas that have every write of its connection, so write one.
    await adminA.set("tk-test:marker", "1");
    expect(await adminA.sendCommand(["WAIT", "1", "3000"])).toBe(1);

    await adminB.sendCommand(["REPLICAOF", "NO", "ONE"]);
    await adminA.sendCommand(["REPLICAOF", "127.0.0.1", String(b!.port)]);
    proxy.targetPort = b!.port;

    // The open connection reaches a replica now: that write fails (transient), and the store
    // connects anew, through the endpoint, to the new primary.
    const refused = await store.set("k", "v", 60_000).catch((error: unknown) => error);
    expect(isStoreError(refused)).toBe(true);
    expect((refused as Error).message).toContain("READONLY");
    expect((refused as { transient?: boolean }).transient).toBe(true);
    await store.set("k", "v", 60_000);
    expect(await store.get("k")).toBe("v");
    expect(await store.get("before")).toBe("kept");
    const acquired = await store.acquire("lease", 60_000);
    expect(acquired).toBeTypeOf("function");
    await acquired!();
    expect(await adminB.dbSize()).toBeGreaterThanOrEqual(3); // written on b, the new primary
  });

  it("a primary again, but slower to connect than timeoutMs: the connection a check opened is kept and checked once open", async () => {
    const { proxy, store, connections } = await primaryAgain("slow-open");
    const before = await connections();
    // A primary again, behind an endpoint where a new connection takes 3 times as long to open as a
    // command may take (a handshake far away); open connections stay fast. The checks' schedule
    // runs on a fake clock, moved past the next check before each try.
    proxy.openDelayMs = 750;
    vi.useFakeTimers({ toFake: ["performance"] });
    try {
      // The first check opens a new connection, and gives up waiting for it after timeoutMs; the
      // next ones wait for that connection, then find the primary through it.
      await vi.waitFor(
        async () => {
          vi.advanceTimersByTime(30_000);
          expect(await store.get("k")).toBe("v");
        },
        { timeout: 3_000, interval: 50 },
      );
    } finally {
      vi.useRealTimers();
    }
    await store.set("k", "w", 60_000);
    expect(await store.get("k")).toBe("w");
    expect((await connections()) - before).toBe(1); // the one the first check opened
  });

  it('a replica check deletes no entry: a lease whose store key is "replica-check" is kept', async () => {
    const { store, keyPrefix, port, node, connections } = await primaryAgain("check-key");
    // Another instance (same prefix, straight to the node) holds the lease of the store key
    // "replica-check", and its value is there too.
    const other = open({ url: `redis://127.0.0.1:${port}`, keyPrefix });
    const held = await vi.waitFor(() => other.acquire("replica-check", 60_000), { timeout: 5_000 });
    expect(held).toBeTypeOf("function");
    await other.set("replica-check", "value", 60_000);
    const keys = await node.keys(`${keyPrefix}*`);
    expect(keys).toHaveLength(3); // "k", and the lease and value of "replica-check"
    // The demoted store's next command checks the node first (a new connection, its DEL), then goes on.
    const before = await connections();
    expect(await store.get("k")).toBe("v");
    expect((await connections()) - before).toBe(1);
    expect(await node.keys(`${keyPrefix}*`)).toEqual(expect.arrayContaining(keys));
    expect(await other.acquire("replica-check", 60_000)).toBeUndefined(); // still held
    expect(await held!.renew!(60_000)).toBe(true); // by its owner
    expect(await other.get("replica-check")).toBe("value");
    await held!();
  });

  it("a check whose write never gets an answer fails after timeoutMs, and the next one replaces that connection", async () => {
    const { node, proxy, store, connections } = await primaryAgain("mute");
    vi.useFakeTimers({ toFake: ["performance"] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    // Writes held back: the check opens a connection, and its DEL waits. Then the endpoint goes
    // mute (its answer never arrives), as a connection to a node cut off after it opened.
    await node.sendCommand(["CLIENT", "PAUSE", "60000", "WRITE"]);
    const before = await connections();
    // Commands wait for the check, each at most timeoutMs; once it gives up on its DEL, they fail at
    // once with its error.
    let failure: unknown;
    for (let tries = 0; tries < 10; tries++) {
      failure = await store.get("k").catch((error: unknown) => error);
      if (/the replica check took longer/.test(String((failure as Error).message))) break;
    }
    expect((failure as Error).message).toBe("redis store: the replica check took longer than 250 ms");
    expect((await connections()) - before).toBe(1);
    proxy.freeze();
    await node.sendCommand(["CLIENT", "UNPAUSE"]);
    // The next check is not stuck behind that one: it replaces the connection.
    vi.advanceTimersByTime(30_000);
    await expect(store.get("k")).rejects.toThrow(/250 ms/);
    expect((await connections()) - before).toBe(2);
    // Once the endpoint answers, a check finds the primary.
    proxy.thaw();
    await vi.waitFor(
      async () => {
        vi.advanceTimersByTime(30_000);
        expect(await store.get("k")).toBe("v");
      },
      { timeout: 3_000, interval: 50 },
    );
  });

  it("the only node made a replica (REPLICAOF): failures name READONLY, one degraded period, no reconnection storm", async () => {
    const password = mintSecret("the Redis password");
    const redis = await startRedisServer(["--requirepass", password]);
    servers.push(redis);
    const node = await admin(redis.port, password);
    const connections = () => received(node);
    const store = open({
      url: `redis://:${password}@127.0.0.1:${redis.port}`,
      keyPrefix: uniquePrefix("replicaof"),
    });
    await store.set("before", "kept", 60_000);
    const events: TokenEvent[] = [];
    let fetches = 0;
    const manager = createTokenManager({
      // A fast probe, so the test sees many of them without waiting: each one reads the store.
      shared: shareStore(store, { probeIntervalMs: 10 }),
      creator: async () => ({ access_token: `at-${++fetches}`, expires_in: 300 }),
      onEvent: (event) => events.push(event),
    });
    const rotation = createRotationCoordinator({
      shared: shareStore(store),
      redeem: async () => {
        throw new Error("never presented while Redis refuses writes");
      },
    });
    // Its primary is a port where nothing listens: the node stays a read-only replica.
    const dead = await startRedisServer();
    await dead.stop();
    await node.sendCommand(["REPLICAOF", "127.0.0.1", String(dead.port)]);
    const before = await connections();
    // The checks' schedule runs on a fake clock: still while the commands below run, moved on after.
    vi.useFakeTimers({ toFake: ["performance"] });
    onTestFinished(() => {
      vi.useRealTimers();
    });

    const failures: unknown[] = [];
    for (let round = 0; round < 20; round++) {
      // One at a time: a command sent before the first READONLY reply still reaches the replica.
      for (const attempt of [
        () => store.set("k", "v", 60_000),
        () => store.get("before"),
        () => store.acquire("lease", 1_000),
      ]) {
        failures.push(
          await attempt().then(
            () => "answered",
            (error: unknown) => error,
          ),
        );
      }
    }
    // Reads fail too (the store reads primaries only), each naming the cause, transient, log-safe.
    for (const failure of failures) {
      expect(isStoreError(failure)).toBe(true);
      expect((failure as Error).message).toMatch(
        / failed \(READONLY: the Redis node is a read-only replica, not a primary\)$/,
      );
      expect((failure as { transient?: boolean }).transient).toBe(true);
      expectNoSecretIn(
        inspect(failure, { showHidden: true, depth: 10 }),
        { "the password": password },
        "the error",
      );
    }
    // The manager serves its callers per process, and stays degraded: its probe reads fail too.
    expect((await manager.getToken()).accessToken).toBe("at-1");
    const refused = await rotation.rotate("rt-1").catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: "ERR_TOKENKEEP_STORE_UNAVAILABLE", transient: true });
    expect(String(((refused as Error).cause as Error).message)).toContain("read-only replica");
    expectNoSecretIn(
      inspect(refused, { showHidden: true, depth: 10 }),
      { "the password": password },
      "the rotation error and its causes",
    );
    await until(() => manager.stats().storeFailures > 10);
    const storeEvents = events.filter((event) => event.type.startsWith("store-"));
    expect(storeEvents.map((event) => event.type)).toEqual(["store-degraded"]);
    expect(String((storeEvents[0]!.error as Error).message)).toContain("read-only replica");
    expectNoSecretIn(inspect(storeEvents, { depth: 10 }), { "the password": password }, "the events");
    // 60 commands and the probes, within a second: one check (at the first command after the
    // READONLY reply), so one new connection; the next check is due a second after it.
    expect((await connections()) - before).toBe(1);
    vi.advanceTimersByTime(999);
    await expect(store.get("before")).rejects.toThrow(/READONLY/);
    expect((await connections()) - before).toBe(1);
    vi.advanceTimersByTime(1);
    await expect(store.get("before")).rejects.toThrow(/READONLY/); // the second check
    expect((await connections()) - before).toBe(2);
    // Then 2 s later, not 1 s.
    vi.advanceTimersByTime(1_999);
    await expect(store.get("before")).rejects.toThrow(/READONLY/);
    expect((await connections()) - before).toBe(2);

    // A primary again: the next check finds it, and sharing resumes.
    await node.sendCommand(["REPLICAOF", "NO", "ONE"]);
    vi.advanceTimersByTime(1);
    await until(() => !manager.stats().storeDegraded);
    expect((await connections()) - before).toBe(3);
    expect(await store.get("before")).toBe("kept");
    await store.set("k", "v", 60_000);
    expect(events.filter((event) => event.type.startsWith("store-")).map((event) => event.type)).toEqual([
      "store-degraded",
      "store-recovered",
    ]);
    await manager.dispose();
    await rotation.dispose();
  }, 15_000);
});
