import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { inspect } from "node:util";
import pg from "pg";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert";
import { registerSecret } from "../../../test/reliability/src/secret-registry";
import { createPatHandler } from "../src/pat-handler";
import { createPostgresStore } from "../src/postgres/postgres-store";
import { isPatStoreUnavailableError } from "../src/store-unavailable-error";
import { issueToken } from "../src/token-service";
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

describe.skipIf(skip)("a pg.Pool you pass, and its idle connections' errors", () => {
  /** A pool of the caller's, one connection, named so that its backend can be found and ended. */
  async function callerPool(schema: string, password?: string) {
    const app = new URL(pgUrl!);
    app.searchParams.set("application_name", schema);
    if (password) app.password = password; // the test cluster trusts its role: it never asks for it
    const pool = new pg.Pool({ connectionString: app.toString(), max: 1 });
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    onTestFinished(async () => {
      await admin.end();
      await pool.end();
      await dropSchema(schema);
    });
    /** Ends the pool's idle connection from the database's side, as a restart or an administrator does. */
    const terminate = async () => {
      const ended = await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        [schema],
      );
      expect(ended.rowCount).toBe(1);
    };
    return { pool, terminate };
  }

  it("gets a listener from the store when it has none: the error is reported, the process lives on", async () => {
    const schema = uniqueSchema();
    const { pool, terminate } = await callerPool(schema);
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    onTestFinished(() => logged.mockRestore());
    const store = createPostgresStore({ pool, schema });
    await store.ping(); // the pool's one connection is idle now
    await terminate(); // without a listener, the pool's `error` event is an uncaught exception
    await vi.waitFor(() => expect(logged).toHaveBeenCalledTimes(1), { timeout: 5000, interval: 20 });
    expect(String(logged.mock.calls[0]![0])).toMatch(
      /^\[tokenkeep\/pat-server\] createPostgresStore: an idle connection of the pool failed \(the next call opens another\): PatStoreUnavailableError: /,
    );
    await store.ping(); // a new connection serves the next call
    await store.close();
  });

  it("reports through onError when given one, without the connection or its password", async () => {
    const schema = uniqueSchema();
    const password = "pool-password-7a3f9c";
    const { pool, terminate } = await callerPool(schema, password);
    const reports: unknown[] = [];
    const store = createPostgresStore({ pool, schema, onError: ({ error }) => reports.push(error) });
    await store.ping();
    await terminate();
    await vi.waitFor(() => expect(reports).toHaveLength(1), { timeout: 5000, interval: 20 });
    expect(isPatStoreUnavailableError(reports[0])).toBe(true);
    expect(String(reports[0])).toContain("terminating connection due to administrator command (57P01)");
    // pg's own error carries the connection, its parameters and password with it: not reported.
    expect((reports[0] as Error).cause).toBeUndefined();
    expectNoSecretIn(inspect(reports[0], { depth: 10 }), password, "the reported error");
    await store.close();
  });

  it("leaves a pool that has its own listener alone", async () => {
    const schema = uniqueSchema();
    const { pool, terminate } = await callerPool(schema);
    const mine: unknown[] = [];
    pool.on("error", (error) => mine.push(error));
    const reports: unknown[] = [];
    const store = createPostgresStore({ pool, schema, onError: ({ error }) => reports.push(error) });
    expect(pool.listenerCount("error")).toBe(1);
    await store.ping();
    await terminate();
    await vi.waitFor(() => expect(mine).toHaveLength(1), { timeout: 5000, interval: 20 });
    expect(reports).toEqual([]);
    await store.close();
  });
});

describe.skipIf(skip)("the pool the store creates, and its idle connections' errors", () => {
  it("reports them through onError as for a passed pool, without the connection string or its password", async () => {
    const schema = uniqueSchema();
    const password = "own-pool-password-5e81d2";
    // Named so that its backend can be found and ended; the test cluster trusts its role, so the
    // password is never asked for, only carried.
    const app = new URL(pgUrl!);
    app.searchParams.set("application_name", schema);
    app.password = password;
    const connectionString = app.toString();
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    const reports: unknown[] = [];
    const store = createPostgresStore({
      connectionString,
      schema,
      maxConnections: 1,
      onError: ({ error }) => reports.push(error),
    });
    onTestFinished(async () => {
      await store.close();
      await admin.end();
      await dropSchema(schema);
    });
    await store.ping(); // the pool's one connection is idle now
    const ended = await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
      [schema],
    );
    expect(ended.rowCount).toBe(1);
    await vi.waitFor(() => expect(reports).toHaveLength(1), { timeout: 5000, interval: 20 });
    expect(isPatStoreUnavailableError(reports[0])).toBe(true);
    expect(String(reports[0])).toContain("terminating connection due to administrator command (57P01)");
    expect((reports[0] as Error).cause).toBeUndefined();
    const reported = inspect(reports[0], { depth: 10 });
    expectNoSecretIn(reported, password, "the reported error");
    expect(reported).not.toContain(app.host);
    await store.ping(); // a new connection serves the next call
  });
});

describe.skipIf(skip)("migrations have their own bound, not queryTimeoutMs", () => {
  /**
   * Another instance migrating: holds the store's migration lock (as a long migration on a large table
   * holds it) until `release()`. `waitedMs()` is how long the store's backend has waited for it.
   */
  async function migratingElsewhere(schema: string) {
    const holder = new pg.Client({ connectionString: pgUrl });
    await holder.connect();
    await holder.query("BEGIN");
    await holder.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`tokenkeep_pat:${schema}:migrate`]);
    const watcher = new pg.Client({ connectionString: pgUrl });
    await watcher.connect();
    onTestFinished(async () => {
      await holder.query("ROLLBACK").catch(() => {});
      await holder.end();
      await watcher.end();
      await dropSchema(schema);
    });
    return {
      release: () => holder.query("COMMIT"),
      waitedMs: async () => {
        const result = await watcher.query<{ ms: number | null }>(
          `SELECT (EXTRACT(EPOCH FROM MAX(now() - query_start)) * 1000)::int AS ms FROM pg_stat_activity
           WHERE application_name = $1 AND wait_event_type = 'Lock'`,
          [schema],
        );
        return result.rows[0]?.ms ?? 0;
      },
    };
  }

  const named = (schema: string) => {
    const url = new URL(pgUrl!);
    url.searchParams.set("application_name", schema);
    return url.toString();
  };

  it("waits for a migration longer than queryTimeoutMs (default migrationTimeoutMs: 10 minutes)", async () => {
    const schema = uniqueSchema();
    const elsewhere = await migratingElsewhere(schema);
    const store = createPostgresStore({ connectionString: named(schema), schema, queryTimeoutMs: 200 });
    onTestFinished(() => store.close());
    const first = store.count().then(
      (count) => ({ count }),
      (error: unknown) => ({ error }),
    );
    let settled = false;
    void first.then(() => {
      settled = true;
    });
    // Past queryTimeoutMs twice over, then the other instance finishes: the store carries on. (Cut off
    // at queryTimeoutMs, the call has failed already: the wait ends, and the last line says why.)
    await vi.waitFor(
      async () => {
        if (!settled) expect(await elsewhere.waitedMs()).toBeGreaterThan(400);
      },
      { timeout: 10_000, interval: 50 },
    );
    await elsewhere.release();
    expect(await first).toEqual({ count: 0 });
  });

  it("gives up after migrationTimeoutMs, as unavailable, and migrates on a later call", async () => {
    const schema = uniqueSchema();
    const elsewhere = await migratingElsewhere(schema);
    const store = createPostgresStore({ connectionString: named(schema), schema, migrationTimeoutMs: 200 });
    onTestFinished(() => store.close());
    const failure = await store.count().catch((error: unknown) => error);
    expect(isPatStoreUnavailableError(failure)).toBe(true);
    await elsewhere.release();
    expect(await store.count()).toBe(0);
  });

  it("refuses a migrationTimeoutMs that is not a whole number of ms from 1 to 2^31 - 1", () => {
    for (const migrationTimeoutMs of [0, -1, 1.5, 2 ** 31, "600000"]) {
      expect(() => createPostgresStore({ connectionString: pgUrl!, migrationTimeoutMs } as never)).toThrow(
        expect.objectContaining({ code: "ERR_TOKENKEEP_INVALID_OPTIONS" }),
      );
    }
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

/**
 * A TCP proxy in front of the test database: `forward` passes bytes both ways, `refuse` closes every
 * connection (a database down), `stall` accepts connections and passes nothing (a database paused, or
 * cut off by the network: nothing answers and nothing fails), `partition` passes nothing and closes
 * nothing on the database's side when a client closes (packets dropped: the database never learns that
 * its client gave up). With `cutOn`, the first client bytes holding that text turn on `partition`.
 */
async function databaseProxy(cutOn?: string) {
  const target = new URL(pgUrl!);
  let mode: "forward" | "refuse" | "stall" | "partition" = "forward";
  let dropped = 0;
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    sockets.add(client);
    client.on("error", () => {});
    if (mode === "refuse") return client.destroy();
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(upstream);
    upstream.on("error", () => {});
    client.on("data", (chunk: Buffer) => {
      if (cutOn !== undefined && chunk.includes(cutOn)) mode = "partition";
      if (mode === "forward") upstream.write(chunk);
      else dropped += chunk.length;
    });
    upstream.on("data", (chunk) => mode === "forward" && client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", () => mode !== "partition" && end());
    upstream.on("close", end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const url = new URL(pgUrl!);
  url.port = String((proxy.address() as AddressInfo).port);
  return {
    url: url.toString(),
    /** Bytes the clients sent that the database never got. */
    dropped: () => dropped,
    set(next: typeof mode) {
      mode = next;
      if (next === "refuse") for (const socket of sockets) socket.destroy();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}

/** The status of an answer, or "no answer" when none comes within `ms` (the defect this guards against). */
async function statusWithin(answer: Promise<Response>, ms = 3000): Promise<number | string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${ms} ms`), ms);
  });
  try {
    return await Promise.race([answer.then((response) => response.status), late]);
  } finally {
    clearTimeout(timer);
  }
}

describe.skipIf(skip)("PostgreSQL outage through the handler", () => {
  it("answers 503 with Retry-After (never hangs, never a 500) while the database is down or stalled, then recovers", async () => {
    const proxy = await databaseProxy();
    const schema = uniqueSchema();
    const store = createPostgresStore({
      connectionString: proxy.url,
      schema,
      maxConnections: 2,
      connectTimeoutMs: 300,
      queryTimeoutMs: 300,
    });
    const errors: unknown[] = [];
    const handler = createPatHandler({
      store,
      rateLimit: false,
      scryptLog2Cost: 4,
      onError: ({ error }) => errors.push(error),
    });
    const issued = await issueToken(store, { owner: "admin", isAdmin: true }, { scryptLog2Cost: 4 });
    const pat = registerSecret(issued!.token, "PAT");
    const exchange = () =>
      handler(
        new Request("http://pat.test/auth/token", {
          method: "POST",
          headers: { authorization: `Bearer ${pat}` },
        }),
      );
    const tokenResponse = await exchange();
    expect(tokenResponse.status).toBe(200);
    const jwt = registerSecret(
      ((await tokenResponse.json()) as { access_token: string }).access_token,
      "JWT",
    );
    const list = () =>
      handler(new Request("http://pat.test/admin/tokens", { headers: { authorization: `Bearer ${jwt}` } }));
    const health = () => handler(new Request("http://pat.test/healthz"));
    try {
      for (const mode of ["stall", "refuse"] as const) {
        proxy.set(mode);
        expect({ mode, health: await statusWithin(health()) }).toEqual({ mode, health: 503 });
        expect({ mode, exchange: await statusWithin(exchange()) }).toEqual({ mode, exchange: 503 });
        expect({ mode, list: await statusWithin(list()) }).toEqual({ mode, list: 503 });
        const response = await list();
        expect(response.headers.get("retry-after")).toBe("1");
        expect(await response.json()).toEqual({
          error: { message: "Service unavailable", code: "ERR_STORE_UNAVAILABLE" },
        });
        const auth = await handler.authenticate(
          new Request("http://pat.test/x", { headers: { authorization: `Bearer ${jwt}` } }),
          { admin: true },
        );
        expect(auth.ok ? 200 : auth.response.status).toBe(503);
        proxy.set("forward");
        expect({ mode, health: await statusWithin(health()) }).toEqual({ mode, health: 200 });
        expect({ mode, exchange: await statusWithin(exchange()) }).toEqual({ mode, exchange: 200 });
        expect({ mode, list: await statusWithin(list()) }).toEqual({ mode, list: 200 });
      }
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every(isPatStoreUnavailableError)).toBe(true);
    } finally {
      await handler.close();
      await store.close();
      await proxy.close();
      await dropSchema(schema);
    }
  });
});

describe.skipIf(skip)("PostgreSQL connection lost inside a transaction", () => {
  it("fails the call as PatStoreUnavailableError, with no uncaught error, when the connection breaks mid-transaction, then recovers", async () => {
    const proxy = await databaseProxy();
    const schema = uniqueSchema();
    const store = createPostgresStore({ connectionString: proxy.url, schema, maxConnections: 1 });
    try {
      const issued = await issueToken(store, { owner: "o" }, { scryptLog2Cost: 4 });
      const { tokenId } = issued!.record;
      proxy.set("stall");
      // PATCH runs in a transaction (SELECT ... FOR UPDATE); its BEGIN goes out and is never answered.
      const outcome = store.update(tokenId, { owner: "p" }).then(
        () => "updated",
        (error: unknown) => (isPatStoreUnavailableError(error) ? "unavailable" : String(error)),
      );
      await vi.waitFor(() => expect(proxy.dropped()).toBeGreaterThan(0));
      proxy.set("refuse"); // the database goes away with the transaction open
      expect(await outcome).toBe("unavailable");
      proxy.set("forward");
      expect(await store.update(tokenId, { owner: "q" })).toBe("updated");
      expect((await store.get(tokenId))?.owner).toBe("q");
    } finally {
      await store.close();
      await proxy.close();
      await dropSchema(schema);
    }
  });
});

describe.skipIf(skip)("PostgreSQL with a least-privilege role", () => {
  it("serves a role with table privileges only (no CREATE on the database) once the schema is migrated", async () => {
    const schema = uniqueSchema();
    const role = `${schema}_app`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    const owner = createPostgresStore({ connectionString: pgUrl!, schema });
    try {
      expect(await owner.count()).toBe(0); // the owner migrates
      await admin.query(`CREATE ROLE "${role}" LOGIN`);
      await admin.query(`GRANT USAGE ON SCHEMA "${schema}" TO "${role}"`);
      await admin.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA "${schema}" TO "${role}"`);
      const asApp = new URL(pgUrl!);
      asApp.username = role;
      const app = createPostgresStore({ connectionString: asApp.toString(), schema });
      try {
        const issued = await issueToken(app, { owner: "o" }, { scryptLog2Cost: 4 });
        expect(issued).toBeDefined();
        expect(await app.count()).toBe(1);
        expect(await app.revoke(issued!.record.tokenId, { revokedAt: 1 })).toBe(true);
      } finally {
        await app.close();
      }
    } finally {
      await owner.close();
      await dropSchema(schema);
      await admin.query(`DROP OWNED BY "${role}"`).catch(() => {});
      await admin.query(`DROP ROLE IF EXISTS "${role}"`);
      await admin.end();
    }
  });
});

describe.skipIf(skip)("PostgreSQL answering with an error", () => {
  it("stays a 500 (the database answered: not an outage to retry)", async () => {
    const schema = uniqueSchema();
    const store = createPostgresStore({ connectionString: pgUrl!, schema });
    const handler = createPatHandler({ store, rateLimit: false, onError: () => {} });
    try {
      expect(await store.count()).toBe(0);
      await dropSchema(schema); // the tables vanish under a migrated store
      const failure = await store.count().catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: "42P01" });
      expect(isPatStoreUnavailableError(failure)).toBe(false);
      const pat = `pat_${"A".repeat(21)}.${"A".repeat(43)}=`;
      const response = await handler(
        new Request("http://pat.test/auth/token", {
          method: "POST",
          headers: { authorization: `Bearer ${pat}` },
        }),
      );
      expect(response.status).toBe(500);
    } finally {
      await handler.close();
      await store.close();
      await dropSchema(schema);
    }
  });
});

describe.skipIf(skip)("PostgreSQL statements and transactions the store gave up on", () => {
  it("are ended by the database too: a transaction cut off by the network does not keep its row lock", async () => {
    const schema = uniqueSchema();
    const direct = createPostgresStore({ connectionString: pgUrl!, schema, queryTimeoutMs: 5000 });
    const proxy = await databaseProxy("SET secret_phc"); // PATCH's UPDATE, after its SELECT ... FOR UPDATE
    const cutOff = createPostgresStore({ connectionString: proxy.url, schema, queryTimeoutMs: 300 });
    try {
      const issued = await issueToken(direct, { owner: "o" }, { scryptLog2Cost: 4 });
      const { tokenId } = issued!.record;
      const lost = await cutOff.update(tokenId, { owner: "p" }).catch((error: unknown) => error);
      expect(isPatStoreUnavailableError(lost)).toBe(true);
      // Unbounded, the database keeps that transaction idle, and the row locked, until TCP gives up on
      // the connection (hours): every PATCH of this token would wait, then fail, meanwhile.
      expect(await direct.update(tokenId, { owner: "q" })).toBe("updated");
      expect((await direct.get(tokenId))?.owner).toBe("q");
    } finally {
      await cutOff.close();
      await proxy.close();
      await direct.close();
      await dropSchema(schema);
    }
  });

  it("are ended by the database too: a statement that timed out waiting for a lock leaves no backend waiting", async () => {
    const schema = uniqueSchema();
    const app = new URL(pgUrl!);
    app.searchParams.set("application_name", schema);
    const pool = new pg.Pool({ connectionString: app.toString(), max: 1 }); // a pool of the caller's
    const store = createPostgresStore({ pool, schema, queryTimeoutMs: 300 });
    const holder = new pg.Client({ connectionString: pgUrl });
    await holder.connect();
    const waiting = async () => {
      const result = await holder.query<{ n: number }>(
        "SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
        [schema],
      );
      return result.rows[0]!.n;
    };
    try {
      const issued = await issueToken(store, { owner: "o" }, { scryptLog2Cost: 4 });
      const { tokenId } = issued!.record;
      await holder.query("BEGIN");
      await holder.query(`SELECT 1 FROM "${schema}".pat_tokens WHERE token_id = $1 FOR UPDATE`, [tokenId]);
      for (let i = 0; i < 2; i++) {
        const failure = await store.update(tokenId, { owner: "p" }).catch((error: unknown) => error);
        expect(isPatStoreUnavailableError(failure)).toBe(true);
      }
      // Each give-up replaces its connection: unbounded, each abandoned backend would wait on the lock
      // for as long as it is held, and a slow lock holder would use up the database's connections.
      await vi.waitFor(async () => expect(await waiting()).toBe(0), { timeout: 2000, interval: 50 });
      await holder.query("ROLLBACK");
      expect(await store.update(tokenId, { owner: "q" })).toBe("updated");
      // The bound is the transaction's own: the caller's sessions keep their settings.
      expect((await pool.query("SHOW statement_timeout")).rows[0]).toEqual({ statement_timeout: "0" });
    } finally {
      await holder.query("ROLLBACK").catch(() => {});
      await holder.end();
      await store.close();
      await pool.end();
      await dropSchema(schema);
    }
  });
});
