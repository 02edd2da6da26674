import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const tmpRoot = join(here, "..", "..", ".tmp");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every redis process started here, killed on exit even when a test forgets (or crashes). */
const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

/**
 * A free port whose cluster bus port (+10000) is free too: ports 20000-44999, so the bus stays
 * below 65536. Not reserved: the caller binds it at once.
 */
async function freePort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 25_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await portIsFree(port)) && (await portIsFree(port + 10_000))) {
      taken.add(port);
      return port;
    }
  }
}

/** Starts `redis-server args...` and resolves once it accepts connections. */
async function launch(args: string[], ready = "Ready to accept connections"): Promise<ChildProcess> {
  const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  child.once("exit", () => children.delete(child));
  let output = "";
  child.stdout!.setEncoding("utf8");
  child.stderr!.resume();
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: string) => {
      output += chunk;
      if (output.includes(ready)) {
        child.stdout!.off("data", onData);
        child.stdout!.resume();
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${output.slice(-400)}`)));
  });
  return child;
}

/**
 * Starts a server on a free port: `argsFor(port)`. Another process may bind the port between the
 * check and the start (six test suites share this machine), so a taken port means another try.
 */
async function launchOnFreePort(
  taken: Set<number>,
  argsFor: (port: number) => string[],
  ready?: string,
): Promise<{ port: number; child: ChildProcess }> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort(taken);
    try {
      return { port, child: await launch(argsFor(port), ready) };
    } catch (error) {
      if (attempt >= 5 || !String(error).includes("Address already in use")) throw error;
    }
  }
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGKILL");
  await exited;
}

/** `redis-cli -p port args...`, its trimmed output. */
export async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args]);
  return stdout.trim();
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const common = [
  "--bind",
  "127.0.0.1",
  "--save",
  "",
  "--appendonly",
  "no",
  "--protected-mode",
  "no",
  // A replica's first sync starts at once (Redis waits 5 s by default for more replicas to join).
  "--repl-diskless-sync-delay",
  "0",
];

/** Three masters on 127.0.0.1 sharing the 16384 slots, no replicas. */
export interface RedisCluster {
  readonly ports: number[];
  /** `[{ url }]` for node-redis's `createCluster({ rootNodes })`. */
  readonly rootNodes: Array<{ url: string }>;
  /** The slot of `key` (`CLUSTER KEYSLOT`). */
  slotOf(key: string): Promise<number>;
  /** The port of the master owning `slot`. */
  ownerOf(slot: number): Promise<number>;
  /**
   * Moves `slot` (and its keys) to the master on `toPort`, the way `redis-cli --cluster reshard`
   * does: IMPORTING/MIGRATING, `pauseMs` in that state (clients get ASK redirections), MIGRATE of
   * every key, then SETSLOT NODE on every master.
   */
  migrateSlot(slot: number, toPort: number, pauseMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = join(tmpRoot, `cluster-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const taken = new Set<number>();
  const ports: number[] = [];
  const nodes: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(nodes.map(stopChild));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i++) {
      const { port, child } = await launchOnFreePort(taken, (port) => [
        ...common,
        "--port",
        String(port),
        "--dir",
        dir,
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        `nodes-${port}.conf`,
        "--cluster-node-timeout",
        "2000",
      ]);
      ports.push(port);
      nodes.push(child);
    }
    await run("redis-cli", [
      "--cluster",
      "create",
      ...ports.map((port) => `127.0.0.1:${port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]);
    for (const port of ports) {
      await until("cluster_state:ok", async () =>
        (await cli(port, "CLUSTER", "INFO")).includes("cluster_state:ok"),
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const nodeId = (port: number) => cli(port, "CLUSTER", "MYID");
  const ownerOf = async (slot: number): Promise<number> => {
    const shards = (await cli(ports[0]!, "CLUSTER", "NODES")).split("\n");
    for (const line of shards) {
      const [, address, flags, , , , , , ...ranges] = line.split(" ");
      if (!flags?.includes("master")) continue;
      for (const range of ranges) {
        const [low, high = low] = range.split("-").map(Number);
        if (slot >= low! && slot <= high!) return Number(address!.split(":")[1]!.split("@")[0]);
      }
    }
    throw new Error(`no owner for slot ${slot}`);
  };

  return {
    ports,
    rootNodes: ports.map((port) => ({ url: `redis://127.0.0.1:${port}` })),
    slotOf: async (key) => Number(await cli(ports[0]!, "CLUSTER", "KEYSLOT", key)),
    ownerOf,
    async migrateSlot(slot, toPort, pauseMs = 0) {
      const fromPort = await ownerOf(slot);
      if (fromPort === toPort) return;
      const [fromId, toId] = [await nodeId(fromPort), await nodeId(toPort)];
      await cli(toPort, "CLUSTER", "SETSLOT", String(slot), "IMPORTING", fromId);
      await cli(fromPort, "CLUSTER", "SETSLOT", String(slot), "MIGRATING", toId);
      if (pauseMs > 0) await sleep(pauseMs);
      for (;;) {
        const keys = (await cli(fromPort, "CLUSTER", "GETKEYSINSLOT", String(slot), "100"))
          .split("\n")
          .filter(Boolean);
        if (keys.length === 0) break;
        await cli(fromPort, "MIGRATE", "127.0.0.1", String(toPort), "", "0", "5000", "KEYS", ...keys);
      }
      for (const port of [toPort, fromPort, ...ports.filter((p) => p !== toPort && p !== fromPort)]) {
        await cli(port, "CLUSTER", "SETSLOT", String(slot), "NODE", toId);
      }
    },
    stop,
  };
}

/** A master, its replica and one sentinel watching them (quorum 1), all on 127.0.0.1. */
export interface RedisSentinelTrio {
  readonly masterName: string;
  readonly sentinelPort: number;
  /** `[{ host, port }]` for node-redis's `createSentinel({ sentinelRootNodes })`. */
  readonly sentinelRootNodes: Array<{ host: string; port: number }>;
  /** The port of the current master, as the sentinel reports it. */
  masterPort(): Promise<number>;
  /** SIGKILLs the current master; resolves once the sentinel has promoted the replica. */
  killMaster(): Promise<{ killedPort: number; newMasterPort: number; failoverMs: number }>;
  stop(): Promise<void>;
}

export async function startRedisSentinel(options: { downAfterMs?: number } = {}): Promise<RedisSentinelTrio> {
  const dir = join(tmpRoot, `sentinel-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const taken = new Set<number>();
  const masterName = "tkmaster";
  const processes = new Map<number, ChildProcess>();
  const stop = async () => {
    await Promise.all([...processes.values()].map(stopChild));
    rmSync(dir, { recursive: true, force: true });
  };
  let sentinelPort = 0;
  try {
    const master = await launchOnFreePort(taken, (port) => [...common, "--port", String(port), "--dir", dir]);
    processes.set(master.port, master.child);
    const replica = await launchOnFreePort(taken, (port) => [
      ...common,
      "--port",
      String(port),
      "--dir",
      dir,
      "--replicaof",
      "127.0.0.1",
      String(master.port),
    ]);
    processes.set(replica.port, replica.child);
    await until("the replica in sync", async () =>
      (await cli(replica.port, "INFO", "replication")).includes("master_link_status:up"),
    );
    const sentinel = await launchOnFreePort(
      taken,
      (port) => {
        const config = join(dir, `sentinel-${port}.conf`);
        writeFileSync(
          config,
          [
            `port ${port}`,
            "bind 127.0.0.1",
            `dir ${dir}`,
            `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 1`,
            `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1_000}`,
            `sentinel failover-timeout ${masterName} 10000`,
            `sentinel parallel-syncs ${masterName} 1`,
            "",
          ].join("\n"),
        );
        return [config, "--sentinel"];
      },
      "+monitor master",
    );
    sentinelPort = sentinel.port;
    processes.set(sentinelPort, sentinel.child);
    await until("the sentinel to see the replica", async () =>
      (await cli(sentinelPort, "SENTINEL", "REPLICAS", masterName)).includes(String(replica.port)),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  const current = async () =>
    Number((await cli(sentinelPort, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName)).split("\n")[1]);
  return {
    masterName,
    sentinelPort: sentinelPort,
    sentinelRootNodes: [{ host: "127.0.0.1", port: sentinelPort }],
    masterPort: current,
    async killMaster() {
      const killedPort = await current();
      const started = Date.now();
      await stopChild(processes.get(killedPort));
      processes.delete(killedPort);
      await until("the failover", async () => {
        const port = await current();
        return port !== killedPort && (await cli(port, "ROLE")).startsWith("master");
      });
      return { killedPort, newMasterPort: await current(), failoverMs: Date.now() - started };
    },
    stop,
  };
}
