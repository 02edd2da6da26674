/** Versioned schema of the SQLite store. Append new versions; never edit an applied one. */
export const sqliteMigrations: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE TABLE pat_tokens (
        token_id TEXT PRIMARY KEY NOT NULL,
        secret_phc TEXT NOT NULL,
        owner TEXT NOT NULL,
        is_admin INTEGER NOT NULL DEFAULT 0,
        roles TEXT NOT NULL DEFAULT '[]',
        created_at INTEGER NOT NULL,
        last_used_at INTEGER,
        expires_at INTEGER,
        revoked_at INTEGER
      ) STRICT;
      CREATE INDEX pat_tokens_active_admins ON pat_tokens (token_id) WHERE is_admin = 1 AND revoked_at IS NULL;
    `,
  },
];
