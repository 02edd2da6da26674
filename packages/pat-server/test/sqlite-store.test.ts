import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it, onTestFinished } from "vitest";
import { registerSecret } from "../../../test/reliability/src/secret-registry";
import type { PatErrorState, PatHandlerOptions, PatRecoveryState } from "../src/handler-options";
import { createPatHandler } from "../src/pat-handler";
import { createSqliteStore } from "../src/sqlite/sqlite-store";
import type { PatStore } from "../src/store";
import { isPatStoreUnavailableError } from "../src/store-unavailable-error";
import { issueToken } from "../src/token-service";
import { describeStoreContract } from "./store-contract";

describeStoreContract("SQLite (file)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tk-pat-sqlite-"));
  const path = join(dir, "tokens.db");
  return {
    open: () => createSqliteStore({ path }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe("createSqliteStore options", () => {
  it("rejects bad options with a TypeError carrying a code and the issues", () => {
    try {
      createSqliteStore({ path: "" });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TypeError);
      expect(error).toMatchObject({ code: "ERR_TOKENKEEP_INVALID_OPTIONS" });
      expect((error as Error).cause).toEqual([expect.stringMatching(/^path: /)]);
    }
  });

  it("works in memory", async () => {
    const store = createSqliteStore({ path: ":memory:" });
    expect(await store.count()).toBe(0);
    await store.close();
  });
});

/**
 * A handler on a SQLite file whose write lock another connection can hold (then writes answer 503,
 * while reads still work), with a clock the test moves, and what it reports recorded.
 */
async function lockableSetup(
  options: Partial<PatHandlerOptions> = {},
  /** What the handler gets in place of the store (a user's own object around it). */
  wrap: (store: PatStore) => PatStore = (store) => store,
) {
  const dir = mkdtempSync(join(tmpdir(), "tk-pat-sqlite-reports-"));
  const path = join(dir, "tokens.db");
  const store = createSqliteStore({ path, busyTimeoutMs: 20 });
  let clock = Date.now();
  const reports: PatErrorState[] = [];
  const recoveries: PatRecoveryState[] = [];
  const handler = createPatHandler({
    store: wrap(store),
    rateLimit: false,
    scryptLog2Cost: 4,
    now: () => clock,
    onError: (state) => reports.push(state),
    onRecover: (state) => recoveries.push(state),
    ...options,
  });
  const other = new DatabaseSync(path); // another process's connection
  onTestFinished(async () => {
    if (other.isTransaction) other.exec("ROLLBACK");
    other.close();
    await handler.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const admin = await issueToken(
    store,
    { owner: "a", isAdmin: true },
    { scryptLog2Cost: 4, now: () => clock },
  );
  /** The admin PAT's exchange: a read of the store, then a `lastUsedAt` write left to the next flush. */
  const exchange = () =>
    handler(
      new Request("http://pat.test/auth/token", {
        method: "POST",
        headers: { authorization: `Bearer ${registerSecret(admin!.token, "PAT")}` },
      }),
    );
  const exchanged = await exchange();
  const { access_token } = (await exchanged.json()) as { access_token: string };
  await handler.flush();
  const target = await issueToken(store, { owner: "t" }, { scryptLog2Cost: 4, now: () => clock });
  // A write of the store (the admin JWT's record is read first, which works under the lock).
  const revoke = () =>
    handler(
      new Request(`http://pat.test/admin/tokens/${target!.record.tokenId}/revoke`, {
        method: "PUT",
        headers: { authorization: `Bearer ${registerSecret(access_token, "JWT")}` },
      }),
    );
  return {
    revoke,
    exchange,
    handler,
    store,
    tokenId: target!.record.tokenId,
    reports,
    recoveries,
    lock: () => other.exec("BEGIN IMMEDIATE"),
    unlock: () => other.exec("COMMIT"),
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

describe("SQLite file held by another process", () => {
  it("answers 503 with Retry-After (not a 500) while another connection holds the write lock, then serves the call", async () => {
    const { revoke, store, tokenId, reports, lock, unlock } = await lockableSetup();
    lock();
    const busy = await revoke();
    expect(busy.status).toBe(503);
    expect(busy.headers.get("retry-after")).toBe("1");
    expect(await busy.json()).toEqual({
      error: { message: "Service unavailable", code: "ERR_STORE_UNAVAILABLE" },
    });
    await expect(store.update(tokenId, { owner: "p" })).rejects.toSatisfy(isPatStoreUnavailableError);
    expect(reports.length).toBe(1);
    expect(reports.every(({ error }) => isPatStoreUnavailableError(error))).toBe(true);
    unlock();
    expect((await revoke()).status).toBe(204);
    expect((await store.get(tokenId))?.revokedAt).not.toBeNull();
  });
});

describe("the handler's reports of a store that does not answer", () => {
  it("reports an outage's 503s at its first, then once per errorReportIntervalMs, and its end once", async () => {
    const { revoke, reports, recoveries, lock, unlock, advance } = await lockableSetup();
    lock();
    for (let n = 0; n < 5; n++) expect((await revoke()).status).toBe(503);
    expect(reports.map(({ failures }) => failures)).toEqual([1]); // not one line per request
    expect(reports[0]).toMatchObject({ method: "PUT", path: expect.stringContaining("/revoke") });
    expect(isPatStoreUnavailableError(reports[0]!.error)).toBe(true);
    advance(59_999);
    expect((await revoke()).status).toBe(503);
    expect(reports).toHaveLength(1);
    advance(1);
    expect((await revoke()).status).toBe(503);
    expect(reports.map(({ failures }) => failures)).toEqual([1, 7]);
    expect(recoveries).toEqual([]);

    // The store answers again: the outage ends, told once.
    unlock();
    expect((await revoke()).status).toBe(204);
    expect((await revoke()).status).toBe(204);
    expect(recoveries).toEqual([{ failures: 7, outageMs: 60_000 }]);

    // A new outage, soon after the last report: told at once.
    advance(1_000);
    lock();
    expect((await revoke()).status).toBe(503);
    expect(reports.map(({ failures }) => failures)).toEqual([1, 7, 1]);
  });

  it("keeps the outage through requests that never reach the store (a 401, a 404)", async () => {
    const { revoke, handler, reports, recoveries, lock } = await lockableSetup();
    lock();
    expect((await revoke()).status).toBe(503);
    const noJwt = new Request("http://pat.test/admin/tokens");
    expect((await handler.authenticate(noJwt, { admin: true })).ok).toBe(false);
    expect((await handler(noJwt)).status).toBe(401);
    expect((await handler(new Request("http://pat.test/nowhere"))).status).toBe(404);
    expect((await revoke()).status).toBe(503);
    expect(reports.map(({ failures }) => failures)).toEqual([1]);
    expect(recoveries).toEqual([]);
  });

  it("serves a frozen store object through an outage as any other (503s, then the answer and one recovery)", async () => {
    // A user's store as a frozen object of bound methods: its properties can be neither replaced
    // nor wrapped in place.
    const frozen = (store: PatStore) =>
      Object.freeze(
        Object.fromEntries(
          Object.entries(store).map(([key, value]) => [
            key,
            typeof value === "function" ? value.bind(store) : value,
          ]),
        ) as unknown as PatStore,
      );
    const { revoke, reports, recoveries, lock, unlock } = await lockableSetup({}, frozen);
    lock();
    expect((await revoke()).status).toBe(503);
    expect((await revoke()).status).toBe(503); // during the outage
    expect(reports.map(({ failures }) => failures)).toEqual([1]);
    unlock();
    expect((await revoke()).status).toBe(204);
    expect(recoveries).toEqual([{ failures: 2, outageMs: 0 }]);
  });

  it("answers the request that ends an outage as it would, whatever onRecover throws or rejects", async () => {
    for (const onRecover of [
      () => {
        throw new Error("log sink down");
      },
      () => Promise.reject(new Error("log sink down")),
    ]) {
      const { revoke, lock, unlock } = await lockableSetup({ onRecover });
      lock();
      expect((await revoke()).status).toBe(503);
      unlock();
      expect((await revoke()).status).toBe(204);
    }
  });

  it("reports failed lastUsedAt writes with the outage, not once per flush", async () => {
    // No flush timer during the test: the test flushes.
    const { revoke, exchange, handler, reports, recoveries, lock, unlock, advance } = await lockableSetup({
      lastUsedFlushMs: 3_600_000,
    });
    lock();
    expect((await exchange()).status).toBe(200); // a read: its lastUsedAt write is pending
    await handler.flush(); // fails: the outage begins, reported at once
    expect(reports).toHaveLength(1);
    for (let n = 0; n < 3; n++) await handler.flush(); // the same write, failing again: not reported
    expect((await revoke()).status).toBe(503); // a request of the same outage: not reported either
    expect(reports).toHaveLength(1);
    expect(isPatStoreUnavailableError(reports[0]!.error)).toBe(true);
    expect(reports[0]).toEqual({ error: reports[0]!.error, failures: 0 }); // no request had failed
    advance(60_000);
    await handler.flush();
    expect(reports.map(({ failures }) => failures)).toEqual([0, 1]);
    expect(recoveries).toEqual([]);

    // The store answers again: the next request ends the outage, and the write goes through.
    unlock();
    expect((await revoke()).status).toBe(204);
    expect(recoveries).toEqual([{ failures: 1, outageMs: 60_000 }]);
    await handler.flush();
    expect(reports).toHaveLength(2);
  });

  it("reports every 503 with errorReportIntervalMs: 0", async () => {
    const { revoke, reports, lock } = await lockableSetup({ errorReportIntervalMs: 0 });
    lock();
    for (let n = 0; n < 3; n++) expect((await revoke()).status).toBe(503);
    expect(reports.map(({ failures }) => failures)).toEqual([1, 2, 3]);
  });
});
