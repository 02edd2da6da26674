/**
 * PostgreSQL and pat-server failing under PAT load, on a PostgreSQL cluster of this file's own
 * (src/postgres-instance.ts: never the one other tests use) with pat-server instances as real child
 * processes (src/pat-server-process.ts) and `PatAdminClient`s driving issue, exchange, revoke and list:
 * - the cluster restarted (`pg_ctl restart`, fast and immediate) mid-load;
 * - the only pat-server killed with SIGKILL mid-write;
 * - two pat-server instances on one schema under mixed load, then one killed with SIGKILL.
 * Afterwards every PAT a client was told was issued exists once and whole (it exchanges), every
 * acknowledged revocation holds, and no record exists that nobody asked for (src/pat-ledger.ts).
 */
import { PatAdminClient } from "@tokenkeep/pat-client";
import { generateSigningKey, issueToken, type PatStore, type SigningJwk } from "@tokenkeep/pat-server";
import { createPostgresStore } from "@tokenkeep/pat-server/postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MODE } from "../src/mode";
import { dumpError, logLine } from "../src/output";
import { audit, PatLedger } from "../src/pat-ledger";
import { type PatServerProcess, startPatServerProcess } from "../src/pat-server-process";
import { type PostgresInstance, startPostgres } from "../src/postgres-instance";
import { registerSecret } from "../src/secrets";

const SCALE = {
  short: { workers: 6, opsPerPhase: 15, retryDelayMs: 100, timeoutMs: 10_000 },
  long: { workers: 16, opsPerPhase: 1_000, retryDelayMs: 1_000, timeoutMs: 30_000 },
}[MODE];

let pg: PostgresInstance;
let signingKeys: SigningJwk[];
let schemas = 0;

beforeAll(async () => {
  pg = startPostgres();
  const key = await generateSigningKey();
  registerSecret(String(key.d), "signing key");
  signingKeys = [key];
}, 60_000);

afterAll(() => pg?.dispose());

/** A fresh schema with one admin PAT in it, and a store of this process to audit it. */
async function freshSchema(url = pg.url): Promise<{ schema: string; store: PatStore; adminPat: string }> {
  const schema = `rel_${process.pid}_${schemas++}`;
  const store = createPostgresStore({ connectionString: url, schema });
  const admin = await issueToken(store, { owner: "admin", isAdmin: true }, { scryptLog2Cost: 10 });
  if (!admin) throw new Error("the admin token was not stored");
  return { schema, store, adminPat: registerSecret(admin.token, "admin PAT") };
}

function codeOf(error: unknown): string {
  const { code, status } = error as { code?: unknown; status?: unknown };
  return [code, status].filter((part) => part !== undefined).join(" ") || String(error);
}

async function exchangeStatus(url: string, token: string): Promise<number> {
  const response = await fetch(`${url}/auth/token`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await response.json().catch(() => ({}))) as { access_token?: unknown };
  if (typeof body.access_token === "string") registerSecret(body.access_token, "JWT");
  return response.status;
}

/**
 * Workers issuing (and, with `mixed`, exchanging, revoking and listing) against whichever instance
 * `targets()` names for them, until `done()`; every answer goes into the ledger.
 */
function drive(
  ledger: PatLedger,
  targets: () => readonly string[],
  clientFor: (url: string) => PatAdminClient,
  done: () => boolean,
  mixed: boolean,
): Promise<void> {
  const worker = async (index: number) => {
    for (let step = 0; !done(); step++) {
      const live = targets();
      if (live.length === 0) return;
      const url = live[(index + step) % live.length]!;
      const client = clientFor(url);
      const kind = mixed ? ["issue", "exchange", "issue", "revoke", "list"][step % 5]! : "issue";
      const known = [...ledger.issued.values()];
      const pick = known[(index * 7919 + step * 104_729) % Math.max(known.length, 1)];
      try {
        if (kind === "issue" || !pick) {
          const owner = ledger.owner(`w${index}`);
          const { token, record } = await client.issue({ owner });
          ledger.told(owner, token, record.tokenId);
          ledger.count("issue 201");
        } else if (kind === "exchange") {
          ledger.count(`exchange ${await exchangeStatus(url, pick.token)}`);
        } else if (kind === "revoke") {
          await client.revoke(pick.tokenId);
          ledger.revoked.add(pick.tokenId);
          ledger.count("revoke 204");
        } else {
          await client.list({ limit: 20 });
          ledger.count("list 200");
        }
      } catch (error) {
        ledger.count(`${kind} ${codeOf(error)}`);
        dumpError(`postgres-faults ${kind}`, error);
      }
    }
  };
  return Promise.all(Array.from({ length: SCALE.workers }, (_, index) => worker(index))).then(() => {});
}

function clients(adminPat: string) {
  const made = new Map<string, PatAdminClient>();
  return {
    for(url: string) {
      let client = made.get(url);
      if (!client) {
        client = new PatAdminClient({
          endpoint: url,
          apiKey: adminPat,
          timeoutMs: SCALE.timeoutMs,
          retry: { limit: 3, baseDelayMs: SCALE.retryDelayMs },
        });
        made.set(url, client);
      }
      return client;
    },
    async close() {
      await Promise.all([...made.values()].map((client) => client.close()));
    },
  };
}

/** Waits until `count()` has grown by `n` (the load is measured in answers, not in time). */
async function answers(count: () => number, n: number, limitMs = 120_000): Promise<void> {
  const target = count() + n;
  const started = Date.now();
  while (count() < target) {
    if (Date.now() - started > limitMs) throw new Error(`only ${count()} of ${target} answers`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function report(figure: Record<string, unknown>): void {
  logLine("postgres-figures.jsonl", JSON.stringify(figure));
  if (MODE === "long") console.log(`postgres figure: ${JSON.stringify(figure)}`);
}

const successes = (ledger: PatLedger) =>
  [...ledger.outcomes].filter(([kind]) => / 20\d$/.test(kind)).reduce((sum, [, n]) => sum + n, 0);

describe("PostgreSQL and pat-server faults under PAT load", {
  timeout: MODE === "long" ? 600_000 : 60_000,
}, () => {
  const restarts = [
    { mode: "fast", durable: true },
    { mode: "immediate", durable: true },
    { mode: "immediate", durable: false },
  ] as const;
  for (const { mode, durable } of restarts) {
    const title = durable
      ? `PostgreSQL restarted (${mode}) during issuance and exchanges: nothing lost, duplicated or half-written`
      : `PostgreSQL restarted (${mode}) with synchronous_commit off: acknowledged PATs may be lost, none duplicated or half-written`;
    it(title, async () => {
      const url = durable ? pg.url : pg.lossyUrl;
      const { schema, store, adminPat } = await freshSchema(url);
      const name = `pat-server-restart-${mode}${durable ? "" : "-lossy"}`;
      const server = await startPatServerProcess(name, { pgUrl: url, schema }, signingKeys);
      const pool = clients(adminPat);
      const ledger = new PatLedger();
      let stop = false;
      try {
        const load = drive(
          ledger,
          () => [server.url],
          pool.for,
          () => stop,
          true,
        );
        await answers(() => successes(ledger), SCALE.opsPerPhase);
        const before = successes(ledger);
        const began = Date.now();
        await pg.restart(mode);
        const restartedMs = Date.now() - began;
        // Recovery: the first issue answered 201 after the restart ended.
        await answers(() => ledger.outcomes.get("issue 201") ?? 0, 1);
        const recoveredMs = Date.now() - began;
        await answers(() => successes(ledger), SCALE.opsPerPhase);
        stop = true;
        await load;
        const result = await audit(store, ledger, (token) => exchangeStatus(server.url, token));
        const lost = result.problems.filter((problem) =>
          /\(lost\)$|revocation acknowledged, not stored$/.test(problem),
        );
        report({
          fault: `pg_ctl restart -m ${mode}${durable ? "" : ", synchronous_commit off"}`,
          instances: 1,
          successesBefore: before,
          restartMs: restartedMs,
          firstIssueAfterMs: recoveredMs,
          outcomes: ledger.summary(),
          told: ledger.issued.size,
          records: result.records,
          unacknowledged: result.unacknowledged,
          lost: lost.length,
          problems: result.problems.length,
        });
        // Without synchronous_commit a commit is answered before its WAL is written, so an
        // immediate shutdown can lose the last ones (it did in the first run); nothing else may go wrong.
        expect(durable ? result.problems : result.problems.filter((p) => !lost.includes(p))).toEqual([]);
        expect(ledger.issued.size).toBeGreaterThan(0);
      } finally {
        stop = true;
        await pool.close();
        await server.kill("SIGTERM");
        await store.close();
      }
    });
  }

  it("pat-server killed with SIGKILL mid-write: every PAT it answered exists once and whole", async () => {
    const { schema, store, adminPat } = await freshSchema();
    const first = await startPatServerProcess("pat-server-sigkill", { pgUrl: pg.url, schema }, signingKeys);
    const pool = clients(adminPat);
    const ledger = new PatLedger();
    let alive = true;
    const load = drive(
      ledger,
      () => (alive ? [first.url] : []),
      pool.for,
      () => !alive,
      false,
    );
    let second: PatServerProcess | undefined;
    try {
      await answers(() => ledger.outcomes.get("issue 201") ?? 0, SCALE.opsPerPhase);
      await first.kill("SIGKILL"); // with up to `workers` issues in flight
      alive = false;
      await load;
      second = await startPatServerProcess(
        "pat-server-after-sigkill",
        { pgUrl: pg.url, schema },
        signingKeys,
      );
      const after = second;
      const result = await audit(store, ledger, (token) => exchangeStatus(after.url, token));
      report({
        fault: "pat-server SIGKILL mid-write",
        instances: 1,
        outcomes: ledger.summary(),
        told: ledger.issued.size,
        records: result.records,
        unacknowledged: result.unacknowledged,
        problems: result.problems.length,
      });
      expect(result.problems).toEqual([]);
      expect(ledger.asked.size).toBeGreaterThan(ledger.issued.size); // some writes were cut
    } finally {
      alive = false;
      await pool.close();
      await first.kill("SIGKILL");
      await second?.kill("SIGTERM");
      await store.close();
    }
  });

  it("two instances on one PostgreSQL under mixed load, then one killed: nothing lost, duplicated or half-written", async () => {
    const { schema, store, adminPat } = await freshSchema();
    const a = await startPatServerProcess("pat-server-a", { pgUrl: pg.url, schema }, signingKeys);
    const b = await startPatServerProcess("pat-server-b", { pgUrl: pg.url, schema }, signingKeys);
    const pool = clients(adminPat);
    const ledger = new PatLedger();
    let live = [a.url, b.url];
    let stop = false;
    const load = drive(
      ledger,
      () => live,
      pool.for,
      () => stop,
      true,
    );
    try {
      await answers(() => successes(ledger), 2 * SCALE.opsPerPhase);
      // Afterwards a restarted a and b list the same records (below).
      const listed = async (url: string) => {
        const ids: string[] = [];
        for await (const page of pool.for(url).listAll({ includeRevoked: true })) {
          ids.push(...page.map((record) => record.tokenId));
        }
        return ids.sort();
      };
      await a.kill("SIGKILL"); // mid-load: the workers on a see their calls fail, then move to b
      live = [b.url];
      await answers(() => successes(ledger), SCALE.opsPerPhase);
      stop = true;
      await load;
      const result = await audit(store, ledger, (token) => exchangeStatus(b.url, token));
      const again = await startPatServerProcess("pat-server-a2", { pgUrl: pg.url, schema }, signingKeys);
      try {
        expect(await listed(again.url)).toEqual(await listed(b.url));
      } finally {
        await again.kill("SIGTERM");
      }
      report({
        fault: "2 instances, mixed load, one SIGKILLed",
        instances: 2,
        outcomes: ledger.summary(),
        told: ledger.issued.size,
        revoked: ledger.revoked.size,
        records: result.records,
        unacknowledged: result.unacknowledged,
        problems: result.problems.length,
      });
      expect(result.problems).toEqual([]);
      expect(ledger.revoked.size).toBeGreaterThan(0);
    } finally {
      stop = true;
      await pool.close();
      await a.kill("SIGKILL");
      await b.kill("SIGTERM");
      await store.close();
    }
  });
});
