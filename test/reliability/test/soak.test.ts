/**
 * Soak: memory that stays flat under long use, and nothing left running afterwards.
 * - core's token manager: getToken calls over many more identities than `maxEntries`, in a process
 *   of its own with --expose-gc (scripts/soak-token-manager.mjs): the heap after warm-up stays within
 *   a few MB, and `dispose()` with fetches in flight leaves no timer behind;
 * - pat-server (a child process, src/pat-server-process.ts) on SQLite and on PostgreSQL: exchanges
 *   and admin calls (list, batch get, issue), every answer as expected, resident memory flat after
 *   warm-up, p50 and p99 latency per call reported.
 * Long mode: 1,000,000 getToken calls over 10,000 identities; 100,000 pat-server calls per store.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { generateSigningKey, issueToken, type PatStore, type SigningJwk } from "@tokenkeep/pat-server";
import { createPostgresStore } from "@tokenkeep/pat-server/postgres";
import { createSqliteStore } from "@tokenkeep/pat-server/sqlite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MODE } from "../src/mode";
import { logLine } from "../src/output";
import { type ChildStore, startPatServerProcess } from "../src/pat-server-process";
import { type PostgresInstance, startPostgres } from "../src/postgres-instance";
import { registerSecret } from "../src/secrets";

const SCALE = {
  short: { calls: 20_000, identities: 10_000, maxEntries: 1_000, patCalls: 400, concurrency: 4 },
  long: { calls: 1_000_000, identities: 10_000, maxEntries: 1_000, patCalls: 100_000, concurrency: 16 },
}[MODE];

function report(figure: Record<string, unknown>): void {
  logLine("soak-figures.jsonl", JSON.stringify(figure));
  if (MODE === "long") console.log(`soak figure: ${JSON.stringify(figure)}`);
}

describe("soak", { timeout: MODE === "long" ? 900_000 : 60_000 }, () => {
  it(`token manager: ${SCALE.calls} getToken calls over ${SCALE.identities} identities, maxEntries ${SCALE.maxEntries}`, async () => {
    const script = fileURLToPath(new URL("../scripts/soak-token-manager.mjs", import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [
      "--expose-gc",
      script,
      String(SCALE.calls),
      String(SCALE.identities),
      String(SCALE.maxEntries),
    ]);
    const figure = JSON.parse(stdout.trim().split("\n").at(-1)!);
    report({ soak: "token manager", ...figure });
    expect(figure.creatorCalls).toBeGreaterThan(SCALE.calls / 2); // most calls missed the cache
    expect(figure.heapSpreadMb).toBeLessThan(4);
    expect(figure.managerTimersWhileRunning).toBeGreaterThan(0); // dispose had timers to clear
    expect(figure).toMatchObject({
      managerTimersAfterDispose: 0,
      nodeTimeoutsAfterDispose: 0,
      inFlightAtDispose: ["ERR_TOKENKEEP_DISPOSED"],
    });
  });

  let pg: PostgresInstance | undefined;
  let signingKeys: SigningJwk[];
  let dir: string;
  beforeAll(async () => {
    const key = await generateSigningKey();
    registerSecret(String(key.d), "signing key");
    signingKeys = [key];
    dir = mkdtempSync(join(tmpdir(), "tk-soak-"));
  });
  afterAll(() => {
    pg?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const kind of ["sqlite", "postgres"] as const) {
    it(`pat-server on ${kind}: ${SCALE.patCalls} exchanges and admin calls, RSS flat, p99 reported`, async () => {
      let store: PatStore;
      let where: ChildStore;
      if (kind === "sqlite") {
        where = { sqlite: join(dir, "soak.db") };
        store = createSqliteStore({ path: where.sqlite });
      } else {
        pg ??= startPostgres();
        where = { pgUrl: pg.url, schema: "soak" };
        store = createPostgresStore({ connectionString: pg.url, schema: "soak" });
      }
      const admin = await issueToken(store, { owner: "admin", isAdmin: true }, { scryptLog2Cost: 10 });
      const pats: string[] = [];
      for (let i = 0; i < 50; i++) {
        const issued = await issueToken(store, { owner: `soak-${i}` }, { scryptLog2Cost: 10 });
        pats.push(registerSecret(issued!.token, "PAT"));
      }
      await store.close();
      const server = await startPatServerProcess(`pat-server-soak-${kind}`, where, signingKeys);
      try {
        const exchange = async (pat: string) => {
          const response = await fetch(`${server.url}/auth/token`, {
            method: "POST",
            headers: { authorization: `Bearer ${pat}` },
          });
          const body = (await response.json()) as { access_token?: string };
          return { status: response.status, jwt: body.access_token };
        };
        const jwt = registerSecret((await exchange(registerSecret(admin!.token, "admin PAT"))).jwt!, "JWT");
        const adminCall = async (method: string, path: string, json?: unknown) => {
          const response = await fetch(`${server.url}/admin${path}`, {
            method,
            headers: {
              authorization: `Bearer ${jwt}`,
              ...(json !== undefined && { "content-type": "application/json" }),
            },
            ...(json !== undefined && { body: JSON.stringify(json) }),
          });
          const body = (await response.json()) as { token?: string };
          if (body.token) registerSecret(body.token, "PAT");
          return response.status;
        };
        const kinds = [
          "exchange",
          "exchange",
          "exchange",
          "list",
          "batch",
          "exchange",
          "list",
          "issue",
        ] as const;
        const latencies = new Map<string, number[]>(kinds.map((k) => [k, []]));
        const unexpected = new Map<string, number>();
        const rss: number[] = [];
        const heap: number[] = [];
        let next = 0;
        const checkpoints = 10;
        const worker = async () => {
          for (;;) {
            const n = next++;
            if (n >= SCALE.patCalls) return;
            const op = kinds[n % kinds.length]!;
            const started = performance.now();
            let status: number;
            let expected = 200;
            if (op === "exchange") {
              const result = await exchange(pats[n % pats.length]!);
              status = result.status;
              if (result.jwt) registerSecret(result.jwt, "JWT");
            } else if (op === "list") {
              status = await adminCall("GET", `/tokens?limit=20${n % 2 ? "&includeRevoked=true" : ""}`);
            } else if (op === "batch") {
              status = await adminCall("POST", "/tokens/batch", { tokenIds: ["nope", "x"] });
            } else {
              expected = 201;
              status = await adminCall("POST", "/tokens", { owner: `soak-issued-${n}` });
            }
            latencies.get(op)!.push(performance.now() - started);
            if (status !== expected)
              unexpected.set(`${op} ${status}`, (unexpected.get(`${op} ${status}`) ?? 0) + 1);
            if ((n + 1) % (SCALE.patCalls / checkpoints) === 0) {
              const memory = await server.memory();
              rss.push(memory.rss);
              heap.push(memory.heapUsed);
            }
          }
        };
        const began = performance.now();
        await Promise.all(Array.from({ length: SCALE.concurrency }, worker));
        const elapsedMs = Math.round(performance.now() - began);
        const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
        const pct = (values: number[], p: number) => {
          const sorted = [...values].sort((a, b) => a - b);
          return (
            Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! * 100) /
            100
          );
        };
        const afterWarmUp = rss.slice(1);
        const heapAfterWarmUp = heap.slice(1);
        const figure = {
          soak: `pat-server on ${kind}`,
          calls: SCALE.patCalls,
          concurrency: SCALE.concurrency,
          elapsedMs,
          rssMb: rss.map(mb),
          rssGrowthMb: mb(afterWarmUp.at(-1)! - afterWarmUp[0]!),
          rssSpreadMb: mb(Math.max(...afterWarmUp) - Math.min(...afterWarmUp)),
          heapMb: heap.map(mb),
          heapGrowthMb: mb(heapAfterWarmUp.at(-1)! - heapAfterWarmUp[0]!),
          latencyMs: Object.fromEntries(
            [...latencies].map(([op, values]) => [
              op,
              { n: values.length, p50: pct(values, 50), p99: pct(values, 99) },
            ]),
          ),
          unexpected: Object.fromEntries(unexpected),
        };
        report(figure);
        expect(figure.unexpected).toEqual({});
        expect(rss.length).toBe(checkpoints);
        // Flat: the JavaScript heap (after a full collection) does not grow with the number of calls:
        // a leak of 100 bytes per call would add 10 MB in the long mode.
        expect(figure.heapGrowthMb).toBeLessThan(8);
        // Resident memory also holds what malloc keeps for scrypt's worker threads and SQLite's pages,
        // which grows in steps and is not returned (the long run's figures show them); a leak of the
        // process as a whole would pass 96 MB.
        expect(figure.rssGrowthMb).toBeLessThan(96);
      } finally {
        await server.kill("SIGTERM");
      }
    });
  }
});
