import pg from "pg";
import { generateTokenId } from "../../src/token-generator";

/** The test database, from `TOKENKEEP_PG_URL` (see scripts/services/postgres.sh). */
export const pgUrl = process.env.TOKENKEEP_PG_URL;

/**
 * Why PostgreSQL tests are skipped, or `undefined` when they run. Without a database they fail under
 * CI (so a green CI run always exercised PostgreSQL) and are skipped with a printed reason otherwise.
 */
export function pgSkipReason(suite: string): string | undefined {
  if (pgUrl) return undefined;
  if (process.env.CI) {
    throw new Error(`${suite}: TOKENKEEP_PG_URL is not set, and CI requires the PostgreSQL tests to run`);
  }
  const reason = `${suite}: skipped, TOKENKEEP_PG_URL is not set (eval "$(bash scripts/services/postgres.sh start)")`;
  console.warn(reason);
  return reason;
}

/** A fresh schema name for one test run, so parallel runs never share tables. */
export function uniqueSchema(): string {
  return `tk_test_${generateTokenId().toLowerCase()}`;
}

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
