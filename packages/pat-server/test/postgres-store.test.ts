import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { createPatHandler } from "../src/pat-handler";
import { createPostgresStore } from "../src/postgres/postgres-store";
import { dropSchema, pgSkipReason, pgUrl, uniqueSchema } from "./helpers/postgres";
import { describeStoreContract } from "./store-contract";

const skip = pgSkipReason("PostgreSQL store contract");

describe.skipIf(skip)("PostgreSQL", () => {
  describeStoreContract("PostgreSQL", async () => {
    const schema = uniqueSchema();
    return {
      open: () => createPostgresStore({ connectionString: pgUrl!, schema, maxConnections: 4 }),
      cleanup: () => dropSchema(schema),
    };
  });

  it("rejects options with both a pool and a connection string missing", () => {
    expect(() => createPostgresStore({})).toThrow(
      expect.objectContaining({ code: "ERR_TOKENKEEP_INVALID_OPTIONS" }),
    );
    expect(() => createPostgresStore({ connectionString: pgUrl!, schema: 'x"; drop' })).toThrow(TypeError);
  });
});

describe.skipIf(skip)("PostgreSQL store availability", () => {
  it("reports an unreachable database per call and recovers once it is reachable", async () => {
    const target = new URL(pgUrl!);
    let forward = false;
    const sockets = new Set<Socket>();
    const proxy = createServer((client) => {
      sockets.add(client);
      if (!forward) return client.destroy();
      const upstream = connect(Number(target.port), target.hostname);
      sockets.add(upstream);
      client.pipe(upstream).pipe(client);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on("error", end).on("close", end);
      upstream.on("error", end).on("close", end);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const { port } = proxy.address() as AddressInfo;
    const viaProxy = new URL(pgUrl!);
    viaProxy.port = String(port);
    const schema = uniqueSchema();
    const store = createPostgresStore({ connectionString: viaProxy.toString(), schema, maxConnections: 2 });
    const handler = createPatHandler({ store, onError: () => {} });
    try {
      await expect(store.ping()).rejects.toThrow();
      const down = await handler(new Request("http://pat.test/healthz"));
      expect(down.status).toBe(503);
      forward = true;
      await store.ping();
      expect(await store.count()).toBe(0);
      expect((await handler(new Request("http://pat.test/healthz"))).status).toBe(200);
    } finally {
      await handler.close();
      await store.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
      await dropSchema(schema);
    }
  });
});
