import type {
  RedisStoreAnyClient,
  RedisStoreClient,
  RedisStoreClusterClient,
  RedisStoreSentinelClient,
} from "../options.js";

/** Which node-redis client the store was given: a single node, a cluster or a sentinel. */
export type ClientKind = "client" | "cluster" | "sentinel";

/**
 * Sends one command that touches the single Redis key `key`. Every command of the store names one
 * key, so a cluster routes it to that key's slot owner (following MOVED and ASK redirections).
 */
export type CommandSender = (args: string[], key: string, timeoutMs: number) => Promise<unknown>;

/**
 * Tells the three node-redis client shapes apart by what only each has: a cluster
 * (`createCluster`) has `nodeClient` and `getSlotMaster`; a sentinel (`createSentinel`) has
 * `getMasterNode`, and a client leased from it (`acquire()`) has `release`; anything else with
 * `sendCommand(args, options)` is a single-node client.
 */
export function clientKind(client: RedisStoreAnyClient): ClientKind {
  const shape = client as unknown as Record<string, unknown>;
  if (typeof shape.nodeClient === "function" && typeof shape.getSlotMaster === "function") return "cluster";
  // A sentinel, or a client leased from one with `acquire()` (same `sendCommand`, plus `release`).
  if (typeof shape.getMasterNode === "function" || typeof shape.release === "function") return "sentinel";
  return "client";
}

/**
 * The sender for a client. Reads go to masters too (never `isReadonly`): a replica may lag, and a
 * lease or successor read there could be stale.
 */
export function commandSender(client: RedisStoreAnyClient): CommandSender {
  switch (clientKind(client)) {
    case "cluster": {
      const cluster = client as RedisStoreClusterClient;
      return (args, key, timeoutMs) => cluster.sendCommand(key, false, args, { timeout: timeoutMs });
    }
    case "sentinel": {
      const sentinel = client as RedisStoreSentinelClient;
      return (args, _key, timeoutMs) => sentinel.sendCommand(false, args, { timeout: timeoutMs });
    }
    default: {
      const single = client as RedisStoreClient;
      return (args, _key, timeoutMs) => single.sendCommand(args, { timeout: timeoutMs });
    }
  }
}
