import type { PatRecord } from "@tokenkeep/pat-protocol";
import type { StoredPatRecord } from "../store";

/** The wire form of a record: no `secretPhc` unless asked for; absent times are `null`. */
export function toPublicRecord(record: StoredPatRecord, includeSecretPhc = false): PatRecord {
  return {
    tokenId: record.tokenId,
    owner: record.owner,
    isAdmin: record.isAdmin,
    roles: [...record.roles],
    createdAt: record.createdAt,
    lastUsedAt: record.lastUsedAt,
    expiresAt: record.expiresAt,
    revokedAt: record.revokedAt,
    ...(includeSecretPhc && { secretPhc: record.secretPhc }),
  };
}

/** True when the record may be exchanged at `nowSeconds`: not revoked, and `expiresAt` not reached. */
export function isActive(record: StoredPatRecord, nowSeconds: number): boolean {
  return record.revokedAt === null && (record.expiresAt === null || record.expiresAt > nowSeconds);
}
