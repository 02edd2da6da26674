import { redactSecrets } from "@tokenkeep/core/http";
import { MAX_TIMER_MS } from "@tokenkeep/core/options";
import { MAX_ROLES_COUNT } from "@tokenkeep/pat-protocol";
import pg from "pg";
import * as z from "zod";
import {
  DEFAULT_POSTGRES_CONNECT_TIMEOUT_MS,
  DEFAULT_POSTGRES_MIGRATION_TIMEOUT_MS,
  DEFAULT_POSTGRES_QUERY_TIMEOUT_MS,
  DEFAULT_POSTGRES_SCHEMA,
} from "../defaults";
import { parseOptions } from "../internal/options";
import { postgresMigrations } from "../internal/postgres-migrations";
import { type RecordRow, rowToRecord } from "../internal/record-row";
import { applyRolesUpdate, normalizeRoles } from "../internal/roles";
import type { ListRecordsQuery, PatStore, StoredPatRecord, UpdateOutcome } from "../store";
import { PatStoreUnavailableError } from "../store-unavailable-error";

/** What {@link PostgresStoreOptions.onError} receives. */
export interface PostgresStoreErrorState {
  /**
   * A {@link PatStoreUnavailableError} naming the failure and its SQLSTATE or system code. It has no
   * `cause`: the driver's error carries the connection, and with it the connection's password.
   */
  readonly error: PatStoreUnavailableError;
}

/** Options of {@link createPostgresStore}: a connection string or a pool of your own. */
export interface PostgresStoreOptions {
  /** e.g. `postgres://user@127.0.0.1:5432/db`. The store creates and ends its own pool. */
  readonly connectionString?: string;
  /**
   * A `pg.Pool` you own; the store does not end it on `close()`. When it has no `error` listener as
   * the store receives it, the store adds one that reports through `onError`: `pg` emits an idle
   * connection's failure (a database restart, an administrator ending the session) on the pool, and
   * with no listener that event is an uncaught exception that ends the process. A pool with a
   * listener of its own is left alone.
   */
  readonly pool?: pg.Pool;
  /**
   * Schema holding the tables; created when missing.
   * @default "public"
   */
  readonly schema?: string;
  /**
   * Pool size when the store creates the pool.
   * @default 10
   */
  readonly maxConnections?: number;
  /**
   * How long a call waits for a connection (a new one, or a free one of the pool) before it fails with
   * {@link PatStoreUnavailableError} (the handler's 503). The pool the store creates also gives up
   * connecting after this long; a pool you pass keeps its own `connectionTimeoutMillis` for that.
   * @default 5000
   */
  readonly connectTimeoutMs?: number;
  /**
   * How long one statement may wait for the database's answer before the call fails with
   * {@link PatStoreUnavailableError} and its connection is discarded. Each transaction tells the
   * database too (`SET LOCAL statement_timeout` and `idle_in_transaction_session_timeout`).
   * @default 10000
   */
  readonly queryTimeoutMs?: number;
  /**
   * How long the migration (run once, before the first call; one transaction) may take, its wait for
   * another instance's migration included, before the call that started it fails with
   * {@link PatStoreUnavailableError} (the next call tries again). The database is told too, as for
   * `queryTimeoutMs`, which does not apply to the migration: a migration that rewrites a large table
   * takes longer than a request's statement should.
   * @default 600000 (10 minutes)
   */
  readonly migrationTimeoutMs?: number;
  /**
   * Told when an idle connection fails (a database restart, an administrator ending the session): one
   * of the pool the store creates, or of a pool you passed without an `error` listener (see `pool`).
   * The next call opens another connection. Errors it throws are ignored.
   * @default logs one line to `console.error`, its message free of the connection's password
   */
  readonly onError?: (state: PostgresStoreErrorState) => void;
}

const optionsSchema = z
  .object({
    connectionString: z.string().min(1).optional(),
    pool: z.custom<pg.Pool>((value) => value instanceof pg.Pool, "Expected a pg.Pool").optional(),
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, "Expected a lowercase SQL identifier")
      .default(DEFAULT_POSTGRES_SCHEMA),
    maxConnections: z.int().min(1).default(10),
    connectTimeoutMs: z.int().min(1).max(MAX_TIMER_MS).default(DEFAULT_POSTGRES_CONNECT_TIMEOUT_MS),
    queryTimeoutMs: z.int().min(1).max(MAX_TIMER_MS).default(DEFAULT_POSTGRES_QUERY_TIMEOUT_MS),
    migrationTimeoutMs: z.int().min(1).max(MAX_TIMER_MS).default(DEFAULT_POSTGRES_MIGRATION_TIMEOUT_MS),
    onError: z
      .custom<(state: PostgresStoreErrorState) => void>(
        (value) => typeof value === "function",
        "Expected a function",
      )
      .default(() => defaultOnError),
  })
  .refine((value) => (value.connectionString === undefined) !== (value.pool === undefined), {
    message: "Give exactly one of connectionString and pool",
  });

const RETRYABLE = new Set(["40001", "40P01"]);

function defaultOnError({ error }: PostgresStoreErrorState): void {
  console.error(
    `[tokenkeep/pat-server] createPostgresStore: an idle connection of the pool failed (the next call opens another): ${error.name}: ${error.message}`,
  );
}

/**
 * The report of an idle connection's failure: its message and code, the pool's password redacted, and
 * not the driver's error itself (`pg` attaches the connection to it, its parameters and password too).
 */
function idleConnectionError(error: Error, options: pg.PoolOptions): PatStoreUnavailableError {
  const secrets: string[] = [];
  if (typeof options.password === "string") secrets.push(options.password);
  const fromUrl = options.connectionString ? URL.parse(options.connectionString)?.password : undefined;
  if (fromUrl) {
    secrets.push(fromUrl);
    try {
      secrets.push(decodeURIComponent(fromUrl));
    } catch {
      // A malformed escape: the password is what the URL holds.
    }
  }
  const code = (error as { code?: unknown }).code;
  const text = `${error.message}${typeof code === "string" ? ` (${code})` : ""}`;
  return new PatStoreUnavailableError(`PostgreSQL is unavailable: ${redactSecrets(text, secrets)}`);
}

/**
 * SQLSTATEs of a database that cannot serve the call now, whatever the call: a connection exception
 * (class 08), a server shutting down, crashed or starting (57P01-57P03), too many connections, and the
 * database's own end of a call past `queryTimeoutMs` (57014 `statement_timeout`, 25P03
 * `idle_in_transaction_session_timeout`, see {@link transactionOn}).
 */
const UNAVAILABLE_STATES = new Set(["57P01", "57P02", "57P03", "53300", "57014", "25P03"]);

function isUnavailableState(code: string): boolean {
  return code.startsWith("08") || UNAVAILABLE_STATES.has(code);
}

/**
 * The error a call fails with: an answer of the database (`pg.DatabaseError`) as it is, unless its
 * SQLSTATE says the database is unavailable, and a `TypeError` or `RangeError` as it is; any other
 * failure of the driver (connection refused, reset or ended, a timeout) as
 * {@link PatStoreUnavailableError}, with the driver's error as `cause`.
 */
function storeError(error: unknown): unknown {
  if (error instanceof PatStoreUnavailableError) return error;
  if (error instanceof pg.DatabaseError && !isUnavailableState(error.code ?? "")) return error;
  // A parameter the driver cannot serialise is a defect of ours (a 500), not an outage.
  if (error instanceof TypeError || error instanceof RangeError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new PatStoreUnavailableError(`PostgreSQL is unavailable: ${reason}`, { cause: error });
}

/**
 * A {@link PatStore} on PostgreSQL through `pg`, for several server instances sharing one database.
 * Tables are created and migrated automatically (versioned, under an advisory lock so instances
 * starting together do not race). Ids sort in byte order (`COLLATE "C"`).
 * @throws TypeError with code `ERR_TOKENKEEP_INVALID_OPTIONS` for bad options.
 */
export function createPostgresStore(options: PostgresStoreOptions): PatStore {
  const parsed = parseOptions(optionsSchema, options, "createPostgresStore");
  const { connectTimeoutMs, queryTimeoutMs, migrationTimeoutMs } = parsed;
  const pool =
    parsed.pool ??
    new pg.Pool({
      connectionString: parsed.connectionString,
      max: parsed.maxConnections,
      connectionTimeoutMillis: connectTimeoutMs,
    });
  const ownsPool = parsed.pool === undefined;
  // `pg` emits an idle connection's failure on the pool (an uncaught exception without a listener):
  // reported through `onError`, for the store's own pool and for a passed pool that has no listener.
  if (ownsPool || pool.listenerCount("error") === 0) {
    const onError = parsed.onError;
    pool.on("error", (error) => {
      try {
        onError({ error: idleConnectionError(error, pool.options) });
      } catch {
        // A listener that throws must not turn the failure into the uncaught exception it replaces.
      }
    });
  }
  const schema = `"${parsed.schema}"`;
  const table = `${schema}.pat_tokens`;
  const lockKey = `tokenkeep_pat:${parsed.schema}`;
  let closed = false;

  // Migrations run before the first query; a failure (database not reachable yet) is reported to
  // that call and retried by the next one, so a server started before its database recovers.
  let migrated: Promise<void> | undefined;
  const ready = () => {
    migrated ??= transactionOn(pool, { connectTimeoutMs, queryTimeoutMs: migrationTimeoutMs }, (run) =>
      migrate(run, schema, lockKey),
    ).catch((error: unknown) => {
      migrated = undefined;
      throw error;
    });
    return migrated;
  };

  /** One statement on a connection of its own (autocommit). */
  async function query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
    if (closed) throw new Error("The PostgreSQL PAT store is closed");
    await ready();
    const client = await connect(pool, connectTimeoutMs);
    try {
      const result = await client.query<R>(statement(sql, params, queryTimeoutMs));
      release(client);
      return result;
    } catch (error) {
      const failure = storeError(error);
      // A connection that failed or timed out is discarded, not handed to the next call.
      release(client, failure instanceof PatStoreUnavailableError ? failure : undefined);
      throw failure;
    }
  }

  async function transaction<T>(work: (run: Run) => Promise<T>): Promise<T> {
    if (closed) throw new Error("The PostgreSQL PAT store is closed");
    await ready();
    return transactionOn(pool, { connectTimeoutMs, queryTimeoutMs }, work);
  }

  const insertSql = `INSERT INTO ${table}
    (token_id, secret_phc, owner, is_admin, roles, created_at, last_used_at, expires_at, revoked_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (token_id) DO NOTHING`;
  const insertParams = (record: StoredPatRecord) => [
    record.tokenId,
    record.secretPhc,
    record.owner,
    record.isAdmin,
    normalizeRoles(record.roles),
    record.createdAt,
    record.lastUsedAt,
    record.expiresAt,
    record.revokedAt,
  ];
  const countAdminsSql = `SELECT COUNT(*)::int AS n FROM ${table}
    WHERE is_admin AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)`;

  return {
    async insert(record) {
      const result = await query(insertSql, insertParams(record));
      return result.rowCount === 1;
    },

    async insertIfNoActiveAdmin(record, nowSeconds) {
      return transaction(async (run) => {
        await run("SELECT pg_advisory_xact_lock(hashtext($1))", [`${lockKey}:bootstrap`]);
        const count = await run<{ n: number }>(countAdminsSql, [nowSeconds]);
        if (count.rows[0]!.n > 0) return false;
        const result = await run(insertSql, insertParams(record));
        return result.rowCount === 1;
      });
    },

    async get(tokenId) {
      const result = await query<RecordRow>(`SELECT * FROM ${table} WHERE token_id = $1`, [tokenId]);
      return result.rows[0] ? rowToRecord(result.rows[0]) : undefined;
    },

    async getMany(tokenIds) {
      if (tokenIds.length === 0) return [];
      const result = await query<RecordRow>(`SELECT * FROM ${table} WHERE token_id = ANY($1::text[])`, [
        [...tokenIds],
      ]);
      return result.rows.map(rowToRecord);
    },

    async list(q: ListRecordsQuery) {
      const where: string[] = [];
      const params: unknown[] = [];
      const param = (value: unknown) => {
        params.push(value);
        return `$${params.length}`;
      };
      if (q.afterTokenId !== undefined) where.push(`token_id > ${param(q.afterTokenId)} COLLATE "C"`);
      if (!q.includeRevoked) where.push("revoked_at IS NULL");
      if (!q.includeExpired) where.push(`(expires_at IS NULL OR expires_at > ${param(q.nowSeconds)})`);
      if (q.hasRole !== undefined) where.push(`roles @> ARRAY[${param(q.hasRole)}]::text[]`);
      const sql = `SELECT * FROM ${table} ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
        ORDER BY token_id COLLATE "C" LIMIT ${param(q.limit)}`;
      const result = await query<RecordRow>(sql, params);
      return result.rows.map(rowToRecord);
    },

    async update(tokenId, patch): Promise<UpdateOutcome> {
      return transaction(async (run) => {
        const result = await run<RecordRow>(`SELECT * FROM ${table} WHERE token_id = $1 FOR UPDATE`, [
          tokenId,
        ]);
        if (!result.rows[0]) return "not_found";
        const current = rowToRecord(result.rows[0]);
        const roles =
          patch.roles === undefined ? current.roles : applyRolesUpdate(current.roles, patch.roles);
        if (roles.length > MAX_ROLES_COUNT) return "too_many_roles";
        await run(
          `UPDATE ${table} SET secret_phc = $2, owner = $3, is_admin = $4, roles = $5, expires_at = $6
           WHERE token_id = $1`,
          [
            tokenId,
            patch.secretPhc ?? current.secretPhc,
            patch.owner ?? current.owner,
            patch.isAdmin ?? current.isAdmin,
            roles,
            patch.expiresAt === undefined ? current.expiresAt : patch.expiresAt,
          ],
        );
        return "updated";
      });
    },

    async revoke(tokenId, change) {
      const result = await query(
        `UPDATE ${table} SET revoked_at = $2, expires_at = COALESCE($3, expires_at)
         WHERE token_id = $1 AND revoked_at IS NULL`,
        [tokenId, change.revokedAt, change.expiresAt ?? null],
      );
      if (result.rowCount === 1) return true;
      const existing = await query(`SELECT 1 FROM ${table} WHERE token_id = $1`, [tokenId]);
      return existing.rowCount === 1;
    },

    async restore(tokenId) {
      const result = await query(`UPDATE ${table} SET revoked_at = NULL WHERE token_id = $1`, [tokenId]);
      return result.rowCount === 1;
    },

    async recordUsage(entries) {
      if (entries.length === 0) return;
      const sorted = [...entries].sort((a, b) => (a.tokenId < b.tokenId ? -1 : 1));
      const sql = `UPDATE ${table} AS t SET last_used_at = GREATEST(COALESCE(t.last_used_at, 0), v.ts)
        FROM unnest($1::text[], $2::bigint[]) AS v(id, ts) WHERE t.token_id = v.id`;
      for (let attempt = 0; ; attempt++) {
        try {
          await query(sql, [sorted.map((entry) => entry.tokenId), sorted.map((entry) => entry.lastUsedAt)]);
          return;
        } catch (error) {
          if (attempt >= 3 || !RETRYABLE.has((error as { code?: string }).code ?? "")) throw error;
        }
      }
    },

    async count() {
      const result = await query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM ${table}`);
      return result.rows[0]!.n;
    },

    async countActiveAdmins(nowSeconds) {
      const result = await query<{ n: number }>(countAdminsSql, [nowSeconds]);
      return result.rows[0]!.n;
    },

    async ping() {
      await query("SELECT 1");
    },

    async close() {
      if (closed) return;
      closed = true;
      await migrated?.catch(() => {});
      if (ownsPool) await pool.end();
    },
  };
}

/**
 * A statement with pg's per-query `query_timeout` (read by `pg` 8, missing from its types): past it the
 * call fails with `Query read timeout`.
 */
function statement(text: string, values: unknown[], timeoutMs: number): pg.QueryConfig<unknown[]> {
  const config = { text, values, query_timeout: timeoutMs };
  return config;
}

/** Runs one statement of a transaction, bounded by the store's query timeout. */
type Run = <R extends pg.QueryResultRow = pg.QueryResultRow>(
  sql: string,
  params?: unknown[],
) => Promise<pg.QueryResult<R>>;

/**
 * A connection of the pool within `timeoutMs`, or {@link PatStoreUnavailableError}. The wait covers a
 * pool you pass too (whose own `connectionTimeoutMillis` may be unset): a connection that arrives after
 * the caller gave up goes back to the pool.
 */
async function connect(pool: pg.Pool, timeoutMs: number): Promise<pg.PoolClient> {
  const pending = pool.connect();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new PatStoreUnavailableError(`PostgreSQL is unavailable: no connection within ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
  });
  try {
    const client = await Promise.race([pending, timeout]);
    // A connection that breaks while checked out fails the statement it runs (or the next one); the
    // client's own `error` event must not become an uncaught exception meanwhile (the pool listens only
    // while the client is idle).
    client.on("error", ignoreCheckedOutError);
    return client;
  } catch (error) {
    pending.then(
      (client) => client.release(),
      () => {},
    );
    throw storeError(error);
  } finally {
    clearTimeout(timer);
  }
}

function ignoreCheckedOutError(): void {}

/** Returns a connection to the pool; with an error, the pool discards it. */
function release(client: pg.PoolClient, error?: Error): void {
  client.off("error", ignoreCheckedOutError);
  client.release(error);
}

/**
 * Runs `work` in one transaction on one connection. A failure of the database (see {@link storeError})
 * discards the connection without a `ROLLBACK` (closing it ends the transaction); any other failure
 * rolls back and returns the connection to the pool.
 *
 * The transaction also tells the database the store's `queryTimeoutMs` (`SET LOCAL`, in the `BEGIN`'s
 * round trip: a pool you pass keeps its sessions' settings, and no startup parameter is sent, which a
 * connection pooler such as PgBouncer would refuse): closing a connection ends its
 * transaction only once the database hears of it, which a network that drops packets delays until TCP
 * gives up (hours), with the transaction's row and advisory locks held; and a backend waiting for a
 * lock does not read its connection at all. So a statement the store gave up on is cancelled there
 * too (`statement_timeout`), and so is a transaction left idle (`idle_in_transaction_session_timeout`).
 */
async function transactionOn<T>(
  pool: pg.Pool,
  timeouts: { connectTimeoutMs: number; queryTimeoutMs: number },
  work: (run: Run) => Promise<T>,
): Promise<T> {
  const client = await connect(pool, timeouts.connectTimeoutMs);
  const run: Run = async (sql, params = []) => {
    try {
      return await client.query(statement(sql, params, timeouts.queryTimeoutMs));
    } catch (error) {
      throw storeError(error);
    }
  };
  try {
    const ms = timeouts.queryTimeoutMs; // an integer, checked by the options schema
    await run(
      `BEGIN; SET LOCAL statement_timeout = ${ms}; SET LOCAL idle_in_transaction_session_timeout = ${ms}`,
    );
    const result = await work(run);
    await run("COMMIT");
    release(client);
    return result;
  } catch (error) {
    if (error instanceof PatStoreUnavailableError) {
      release(client, error);
      throw error;
    }
    try {
      await run("ROLLBACK");
      release(client);
    } catch (rollbackError) {
      release(client, rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError)));
    }
    throw error;
  }
}

/**
 * Brings the schema to the latest version. A schema already there is only read (no lock, no DDL), so
 * a role with table privileges but no `CREATE` on the database or schema can run the store once a role
 * that has them migrated it (`CREATE SCHEMA IF NOT EXISTS` checks that privilege even when the schema
 * exists).
 */
async function migrate(run: Run, schema: string, lockKey: string): Promise<void> {
  const latest = postgresMigrations[postgresMigrations.length - 1]!.version;
  const table = await run<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [
    `${schema}.pat_schema_migrations`,
  ]);
  if (table.rows[0]!.t !== null) {
    const applied = await run<{ v: number }>(
      `SELECT COALESCE(MAX(version), 0)::int AS v FROM ${schema}.pat_schema_migrations`,
    );
    if (applied.rows[0]!.v >= latest) return;
  }
  await run("SELECT pg_advisory_xact_lock(hashtext($1))", [`${lockKey}:migrate`]);
  await run(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await run(
    `CREATE TABLE IF NOT EXISTS ${schema}.pat_schema_migrations (version INT PRIMARY KEY, applied_at BIGINT NOT NULL)`,
  );
  const current = await run<{ v: number }>(
    `SELECT COALESCE(MAX(version), 0)::int AS v FROM ${schema}.pat_schema_migrations`,
  );
  for (const migration of postgresMigrations) {
    if (migration.version <= current.rows[0]!.v) continue;
    await run(migration.sql.replaceAll("$schema", schema));
    await run(`INSERT INTO ${schema}.pat_schema_migrations (version, applied_at) VALUES ($1, $2)`, [
      migration.version,
      Math.floor(Date.now() / 1000),
    ]);
  }
}
