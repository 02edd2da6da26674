import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { MAX_TIMER_MS } from "@tokenkeep/core/options";
import { MAX_ROLES_COUNT } from "@tokenkeep/pat-protocol";
import * as z from "zod";
import { SQLITE_BUSY_TIMEOUT_MS } from "../defaults";
import { parseOptions } from "../internal/options";
import { type RecordRow, rowToRecord } from "../internal/record-row";
import { applyRolesUpdate, normalizeRoles } from "../internal/roles";
import { sqliteMigrations } from "../internal/sqlite-migrations";
import type {
  ListRecordsQuery,
  PatStore,
  RecordPatch,
  StoredPatRecord,
  UpdateOutcome,
  UsageEntry,
} from "../store";
import { PatStoreUnavailableError } from "../store-unavailable-error";

/** Options of {@link createSqliteStore}. */
export interface SqliteStoreOptions {
  /** A database file path, or `":memory:"` for a private in-memory database (tests). */
  readonly path: string;
  /**
   * How long a statement waits for another connection's write lock before failing, in milliseconds.
   * @default 5000
   */
  readonly busyTimeoutMs?: number;
}

const optionsSchema = z.object({
  path: z.string().min(1),
  busyTimeoutMs: z.int().nonnegative().max(MAX_TIMER_MS).default(SQLITE_BUSY_TIMEOUT_MS),
});

/**
 * A {@link PatStore} on SQLite through Node's built-in `node:sqlite` (no native module to install).
 * The schema is created and migrated automatically (versioned, in `pat_schema_migrations`). File
 * databases use WAL mode, so several processes may share one file; one process is the common case.
 * @throws TypeError with code `ERR_TOKENKEEP_INVALID_OPTIONS` for bad options.
 */
export function createSqliteStore(options: SqliteStoreOptions): PatStore {
  const { path, busyTimeoutMs } = parseOptions(optionsSchema, options, "createSqliteStore");
  const db = new DatabaseSync(path, { timeout: busyTimeoutMs });
  if (path !== ":memory:") db.exec("PRAGMA journal_mode = WAL");
  migrate(db);
  let closed = false;

  const insertStatement = db.prepare(
    `INSERT INTO pat_tokens (token_id, secret_phc, owner, is_admin, roles, created_at, last_used_at, expires_at, revoked_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (token_id) DO NOTHING`,
  );
  const getStatement = db.prepare("SELECT * FROM pat_tokens WHERE token_id = ?");
  const countAdminsStatement = db.prepare(
    `SELECT COUNT(*) AS n FROM pat_tokens
     WHERE is_admin = 1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
  );

  function insertSync(record: StoredPatRecord): boolean {
    const result = insertStatement.run(
      record.tokenId,
      record.secretPhc,
      record.owner,
      record.isAdmin ? 1 : 0,
      JSON.stringify(normalizeRoles(record.roles)),
      record.createdAt,
      record.lastUsedAt,
      record.expiresAt,
      record.revokedAt,
    );
    return Number(result.changes) === 1;
  }

  function getSync(tokenId: string): StoredPatRecord | undefined {
    const row = getStatement.get(tokenId) as RecordRow | undefined;
    return row ? rowToRecord(row) : undefined;
  }

  /** Runs `work` in one write transaction; everything inside is synchronous, so nothing interleaves. */
  function transaction<T>(work: () => T): T {
    db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      db.exec("COMMIT");
      return result;
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }

  function assertOpen(): void {
    if (closed) throw new Error("The SQLite PAT store is closed");
  }

  return unavailableWhenLocked({
    async insert(record) {
      assertOpen();
      return insertSync(record);
    },

    async insertIfNoActiveAdmin(record, nowSeconds) {
      assertOpen();
      return transaction(() => {
        const row = countAdminsStatement.get(nowSeconds) as { n: number };
        return Number(row.n) === 0 && insertSync(record);
      });
    },

    async get(tokenId) {
      assertOpen();
      return getSync(tokenId);
    },

    async getMany(tokenIds) {
      assertOpen();
      if (tokenIds.length === 0) return [];
      const rows = db
        .prepare("SELECT * FROM pat_tokens WHERE token_id IN (SELECT value FROM json_each(?))")
        .all(JSON.stringify(tokenIds)) as unknown as RecordRow[];
      return rows.map(rowToRecord);
    },

    async list(query: ListRecordsQuery) {
      assertOpen();
      const where: string[] = [];
      const params: SQLInputValue[] = [];
      if (query.afterTokenId !== undefined) {
        where.push("token_id > ?");
        params.push(query.afterTokenId);
      }
      if (!query.includeRevoked) where.push("revoked_at IS NULL");
      if (!query.includeExpired) {
        where.push("(expires_at IS NULL OR expires_at > ?)");
        params.push(query.nowSeconds);
      }
      if (query.hasRole !== undefined) {
        where.push("EXISTS (SELECT 1 FROM json_each(pat_tokens.roles) WHERE json_each.value = ?)");
        params.push(query.hasRole);
      }
      const sql = `SELECT * FROM pat_tokens ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
        ORDER BY token_id LIMIT ?`;
      const rows = db.prepare(sql).all(...params, query.limit) as unknown as RecordRow[];
      return rows.map(rowToRecord);
    },

    async update(tokenId, patch: RecordPatch): Promise<UpdateOutcome> {
      assertOpen();
      return transaction(() => {
        const current = getSync(tokenId);
        if (!current) return "not_found";
        const roles =
          patch.roles === undefined ? current.roles : applyRolesUpdate(current.roles, patch.roles);
        if (roles.length > MAX_ROLES_COUNT) return "too_many_roles";
        db.prepare(
          `UPDATE pat_tokens SET secret_phc = ?, owner = ?, is_admin = ?, roles = ?, expires_at = ?
           WHERE token_id = ?`,
        ).run(
          patch.secretPhc ?? current.secretPhc,
          patch.owner ?? current.owner,
          (patch.isAdmin ?? current.isAdmin) ? 1 : 0,
          JSON.stringify(roles),
          patch.expiresAt === undefined ? current.expiresAt : patch.expiresAt,
          tokenId,
        );
        return "updated";
      });
    },

    async revoke(tokenId, change) {
      assertOpen();
      return transaction(() => {
        const current = getSync(tokenId);
        if (!current) return false;
        if (current.revokedAt !== null) return true;
        db.prepare("UPDATE pat_tokens SET revoked_at = ?, expires_at = ? WHERE token_id = ?").run(
          change.revokedAt,
          change.expiresAt ?? current.expiresAt,
          tokenId,
        );
        return true;
      });
    },

    async restore(tokenId) {
      assertOpen();
      const result = db.prepare("UPDATE pat_tokens SET revoked_at = NULL WHERE token_id = ?").run(tokenId);
      return Number(result.changes) === 1;
    },

    async recordUsage(entries: readonly UsageEntry[]) {
      assertOpen();
      if (entries.length === 0) return;
      const statement = db.prepare(
        `UPDATE pat_tokens SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE token_id = ?`,
      );
      transaction(() => {
        for (const entry of entries) statement.run(entry.lastUsedAt, entry.tokenId);
      });
    },

    async count() {
      assertOpen();
      const row = db.prepare("SELECT COUNT(*) AS n FROM pat_tokens").get() as { n: number };
      return Number(row.n);
    },

    async countActiveAdmins(nowSeconds) {
      assertOpen();
      return Number((countAdminsStatement.get(nowSeconds) as { n: number }).n);
    },

    async ping() {
      assertOpen();
      db.prepare("SELECT 1").get();
    },

    async close() {
      if (closed) return;
      closed = true;
      db.close();
    },
  });
}

/** SQLITE_BUSY and SQLITE_LOCKED, the primary result codes of a lock held elsewhere. */
const LOCK_RESULT_CODES = new Set([5, 6]);

/**
 * The store with every method's lock failure (another connection held the write lock past
 * `busyTimeoutMs`) rejected as {@link PatStoreUnavailableError}, which the handler answers with 503
 * and `Retry-After`: the database is busy, not broken, and the same call succeeds later.
 */
function unavailableWhenLocked(store: PatStore): PatStore {
  const guarded = {} as Record<string, unknown>;
  for (const [name, method] of Object.entries(store) as [
    string,
    (...args: unknown[]) => Promise<unknown>,
  ][]) {
    guarded[name] = async (...args: unknown[]) => {
      try {
        return await method(...args);
      } catch (error) {
        const code = (error as { errcode?: unknown }).errcode;
        if (typeof code === "number" && LOCK_RESULT_CODES.has(code & 0xff)) {
          throw new PatStoreUnavailableError(`SQLite is busy: ${(error as Error).message}`, { cause: error });
        }
        throw error;
      }
    };
  }
  return guarded as unknown as PatStore;
}

function migrate(db: DatabaseSync): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(
      "CREATE TABLE IF NOT EXISTS pat_schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    );
    const row = db.prepare("SELECT COALESCE(MAX(version), 0) AS v FROM pat_schema_migrations").get() as {
      v: number;
    };
    for (const migration of sqliteMigrations) {
      if (migration.version <= Number(row.v)) continue;
      db.exec(migration.sql);
      db.prepare("INSERT INTO pat_schema_migrations (version, applied_at) VALUES (?, ?)").run(
        migration.version,
        Math.floor(Date.now() / 1000),
      );
    }
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}
