// Load check (not a test): 200 concurrent clients mixing PAT exchanges and admin calls against each
// store for 20 s, then a consistency check of what was written. Prints req/s, latency percentiles and
// "N lost, N duplicated". Runs against the built package (`pnpm run loadcheck` builds first).
//
//   pnpm --filter @tokenkeep/pat-server run loadcheck [-- --duration 5 --concurrency 200 --store sqlite]
//
// PostgreSQL runs when TOKENKEEP_PG_URL is set (eval "$(bash scripts/services/postgres.sh start)").
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { createPatHandler, generateSigningKey, issueToken } from "../dist/index.js";
import { serve } from "../dist/node/index.js";
import { createPostgresStore } from "../dist/postgres/index.js";
import { createSqliteStore } from "../dist/sqlite/index.js";

const argv = process.argv.slice(2);
const { values } = parseArgs({
  // `pnpm run loadcheck -- --duration 5` passes the "--" through.
  args: argv[0] === "--" ? argv.slice(1) : argv,
  options: {
    duration: { type: "string", default: "20" },
    concurrency: { type: "string", default: "200" },
    store: { type: "string", default: "all" },
    "scrypt-log2-cost": { type: "string", default: "14" },
  },
});
const durationMs = Number(values.duration) * 1000;
const concurrency = Number(values.concurrency);
const scryptLog2Cost = Number(values["scrypt-log2-cost"]);
if (!(durationMs > 0) || !(concurrency > 0) || !(scryptLog2Cost >= 1)) {
  console.error("usage: loadcheck.mjs [--duration seconds] [--concurrency n] [--store sqlite|postgres|all]");
  process.exit(2);
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function openStore(kind) {
  if (kind === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "tk-pat-load-"));
    return {
      store: createSqliteStore({ path: join(dir, "tokens.db") }),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const schema = `tk_load_${Date.now().toString(36)}`;
  return {
    store: createPostgresStore({
      connectionString: process.env.TOKENKEEP_PG_URL,
      schema,
      maxConnections: 20,
    }),
    cleanup: async () => {
      const client = new pg.Client({ connectionString: process.env.TOKENKEEP_PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    },
  };
}

async function run(kind) {
  const { store, cleanup } = await openStore(kind);
  const handler = createPatHandler({
    store,
    signingKeys: [await generateSigningKey()],
    scryptLog2Cost,
    rateLimit: false,
  });
  const served = await serve(handler);
  const url = served.url;
  const options = { scryptLog2Cost };
  const admin = await issueToken(store, { owner: "load-admin", isAdmin: true }, options);
  const users = [];
  for (let i = 0; i < 20; i++)
    users.push(await issueToken(store, { owner: `user${i}`, roles: ["load"] }, options));
  const initialIds = new Set([admin.record.tokenId, ...users.map((u) => u.record.tokenId)]);
  const adminJwt = (
    await (
      await fetch(`${url}/auth/token`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin.token}` },
      })
    ).json()
  ).access_token;
  const auth = { authorization: `Bearer ${adminJwt}`, "content-type": "application/json" };

  const latencies = { exchange: [], admin: [] };
  const failures = new Map();
  const issued = [];
  const revoked = new Set();
  let counter = 0;

  async function timed(kindOfCall, expected, doFetch) {
    const start = performance.now();
    const response = await doFetch();
    const body = response.status === 204 ? undefined : await response.json();
    latencies[kindOfCall].push(performance.now() - start);
    if (response.status !== expected) failures.set(response.status, (failures.get(response.status) ?? 0) + 1);
    return { response, body };
  }

  async function client(n) {
    const deadline = startedAt + durationMs;
    let step = n;
    while (performance.now() < deadline) {
      step += 1;
      const choice = step % 20;
      if (choice < 8) {
        const user = users[counter++ % users.length];
        await timed("exchange", 200, () =>
          fetch(`${url}/auth/token`, { method: "POST", headers: { authorization: `Bearer ${user.token}` } }),
        );
      } else if (choice < 13) {
        await timed("admin", 200, () =>
          fetch(`${url}/admin/tokens?limit=50&includeRevoked=true`, { headers: auth }),
        );
      } else if (choice < 16) {
        const { response, body } = await timed("admin", 201, () =>
          fetch(`${url}/admin/tokens`, {
            method: "POST",
            headers: auth,
            body: JSON.stringify({ owner: `load${n}`, roles: ["load"] }),
          }),
        );
        if (response.status === 201) issued.push(body.record.tokenId);
      } else if (choice < 18) {
        const target = issued[(counter++ * 7) % Math.max(1, issued.length)];
        if (target === undefined) continue;
        const { response } = await timed("admin", 204, () =>
          fetch(`${url}/admin/tokens/${target}/revoke`, { method: "PUT", headers: auth, body: "{}" }),
        );
        if (response.status === 204) revoked.add(target);
      } else {
        const target = issued[(counter++ * 3) % Math.max(1, issued.length)];
        if (target === undefined) continue;
        await timed("admin", 204, () =>
          fetch(`${url}/admin/tokens/${target}`, {
            method: "PATCH",
            headers: auth,
            body: JSON.stringify({ roles: { add: [`r${n % 5}`] } }),
          }),
        );
      }
    }
  }

  const startedAt = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, n) => client(n)));
  const elapsedS = (performance.now() - startedAt) / 1000;

  // Consistency: every 201 is in the store exactly once, nothing else appeared, revocations stuck.
  await handler.flush();
  const seen = [];
  let after = null;
  do {
    const page = await (
      await fetch(
        `${url}/admin/tokens?limit=1000&includeRevoked=true&includeExpired=true${after ? `&afterTokenId=${after}` : ""}`,
        { headers: auth },
      )
    ).json();
    seen.push(...page.records);
    after = page.nextAfterTokenId;
  } while (after);
  const seenIds = seen.map((r) => r.tokenId);
  const counts = new Map();
  for (const id of seenIds) counts.set(id, (counts.get(id) ?? 0) + 1);
  const duplicated =
    [...counts.values()].filter((c) => c > 1).length + (issued.length - new Set(issued).size);
  const lost =
    issued.filter((id) => !counts.has(id)).length + [...initialIds].filter((id) => !counts.has(id)).length;
  const unexpected = seenIds.filter((id) => !initialIds.has(id) && !issued.includes(id)).length;
  const revokedLost = [...revoked].filter(
    (id) => seen.find((r) => r.tokenId === id)?.revokedAt == null,
  ).length;
  const storeCount = await store.count();

  await served.close();
  await handler.close();
  await store.close();
  await cleanup();

  const all = [...latencies.exchange, ...latencies.admin].sort((a, b) => a - b);
  const ex = [...latencies.exchange].sort((a, b) => a - b);
  const ad = [...latencies.admin].sort((a, b) => a - b);
  const fmt = (ms) => `${ms.toFixed(1)} ms`;
  console.log(
    `\n== ${kind} (${concurrency} concurrent clients, ${elapsedS.toFixed(1)} s, scrypt ln=${scryptLog2Cost})`,
  );
  console.log(`requests:  ${all.length} (${(all.length / elapsedS).toFixed(1)} req/s)`);
  console.log(
    `exchanges: ${ex.length} (${(ex.length / elapsedS).toFixed(1)}/s)  p50 ${fmt(percentile(ex, 50))}  p99 ${fmt(percentile(ex, 99))}`,
  );
  console.log(
    `admin:     ${ad.length} (${(ad.length / elapsedS).toFixed(1)}/s)  p50 ${fmt(percentile(ad, 50))}  p99 ${fmt(percentile(ad, 99))}`,
  );
  console.log(`overall p99 ${fmt(percentile(all, 99))}`);
  console.log(
    `unexpected statuses: ${failures.size === 0 ? "none" : JSON.stringify(Object.fromEntries(failures))}`,
  );
  console.log(
    `issued ${issued.length}, revoked ${revoked.size}, records ${storeCount} (listed ${seenIds.length})`,
  );
  console.log(
    `${lost} lost, ${duplicated} duplicated${unexpected ? `, ${unexpected} unexpected` : ""}${revokedLost ? `, ${revokedLost} revocations lost` : ""}`,
  );
  return lost + duplicated + unexpected + revokedLost + failures.size === 0;
}

const kinds = values.store === "all" ? ["sqlite", "postgres"] : [values.store];
let ok = true;
for (const kind of kinds) {
  if (kind === "postgres" && !process.env.TOKENKEEP_PG_URL) {
    console.log(
      `\n== postgres: skipped, TOKENKEEP_PG_URL is not set (eval "$(bash scripts/services/postgres.sh start)")`,
    );
    continue;
  }
  if (kind !== "sqlite" && kind !== "postgres") {
    console.error(`unknown store ${kind}`);
    process.exit(2);
  }
  ok = (await run(kind)) && ok;
}
process.exitCode = ok ? 0 : 1;
