import { createClient, createCluster, createSentinel } from "redis";
import { describe, expect, it } from "vitest";
import { clientKind, commandSender } from "./command-sender.js";

describe("clientKind", () => {
  it("tells node-redis's three client kinds apart (unconnected clients, no server needed)", () => {
    expect(clientKind(createClient())).toBe("client");
    expect(clientKind(createClient().withTypeMapping({}))).toBe("client");
    const cluster = createCluster({ rootNodes: [{ url: "redis://127.0.0.1:1" }] });
    expect(clientKind(cluster)).toBe("cluster");
    const sentinel = createSentinel({ name: "m", sentinelRootNodes: [{ host: "127.0.0.1", port: 1 }] });
    expect(clientKind(sentinel)).toBe("sentinel");
    expect(clientKind(sentinel.withTypeMapping({}))).toBe("sentinel");
  });

  it("sends each kind's own sendCommand shape: the key first for a cluster, masters only", async () => {
    const calls: unknown[][] = [];
    const record = (...args: unknown[]) => {
      calls.push(args);
      return Promise.resolve("OK");
    };
    const cluster = { sendCommand: record, nodeClient: record, getSlotMaster: record };
    const sentinel = { sendCommand: record, getMasterNode: record };
    const leased = { sendCommand: record, release: record };
    const single = { sendCommand: record };
    await commandSender(cluster)(["GET", "k"], "k", 100);
    await commandSender(sentinel)(["GET", "k"], "k", 100);
    await commandSender(leased)(["GET", "k"], "k", 100);
    await commandSender(single)(["GET", "k"], "k", 100);
    expect(calls).toEqual([
      ["k", false, ["GET", "k"], { timeout: 100 }],
      [false, ["GET", "k"], { timeout: 100 }],
      [false, ["GET", "k"], { timeout: 100 }],
      [["GET", "k"], { timeout: 100 }],
    ]);
  });
});
