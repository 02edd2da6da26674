import type { StoredPatRecord } from "../store";

/** A row of `pat_tokens` as both SQL stores read it (SQLite returns roles as JSON text, pg as an array). */
export interface RecordRow {
  token_id: string;
  secret_phc: string;
  owner: string;
  is_admin: number | boolean;
  roles: string | string[];
  created_at: number | string;
  last_used_at: number | string | null;
  expires_at: number | string | null;
  revoked_at: number | string | null;
}

function toSeconds(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}

/** Maps a row to a record. */
export function rowToRecord(row: RecordRow): StoredPatRecord {
  return {
    tokenId: row.token_id,
    secretPhc: row.secret_phc,
    owner: row.owner,
    isAdmin: row.is_admin === true || row.is_admin === 1,
    roles: typeof row.roles === "string" ? (JSON.parse(row.roles) as string[]) : row.roles,
    createdAt: Number(row.created_at),
    lastUsedAt: toSeconds(row.last_used_at),
    expiresAt: toSeconds(row.expires_at),
    revokedAt: toSeconds(row.revoked_at),
  };
}
