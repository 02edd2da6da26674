/**
 * Versioned schema of the PostgreSQL store; `$schema` is replaced by the quoted schema name.
 * Append new versions; never edit an applied one.
 */
export const postgresMigrations: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE TABLE $schema.pat_tokens (
        token_id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
        secret_phc TEXT NOT NULL,
        owner TEXT NOT NULL,
        is_admin BOOLEAN NOT NULL DEFAULT FALSE,
        roles TEXT[] NOT NULL DEFAULT '{}',
        created_at BIGINT NOT NULL,
        last_used_at BIGINT,
        expires_at BIGINT,
        revoked_at BIGINT
      );
      CREATE INDEX pat_tokens_active_admins ON $schema.pat_tokens (token_id) WHERE is_admin AND revoked_at IS NULL;
      CREATE INDEX pat_tokens_roles ON $schema.pat_tokens USING GIN (roles);
    `,
  },
];
