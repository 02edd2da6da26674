import type { RolesUpdate } from "@tokenkeep/pat-protocol";

/**
 * A token record as stored. Times are Unix **seconds**, as on the wire; `roles` is a sorted set.
 */
export interface StoredPatRecord {
  readonly tokenId: string;
  /** scrypt PHC string of the secret; the secret itself is never stored. */
  readonly secretPhc: string;
  readonly owner: string;
  readonly isAdmin: boolean;
  readonly roles: readonly string[];
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
}

/** What {@link PatStore.list} returns: filtering happens before `limit`, order is byte order of `tokenId`. */
export interface ListRecordsQuery {
  /** Return only records whose `tokenId` sorts strictly after this one. */
  readonly afterTokenId?: string | undefined;
  readonly limit: number;
  readonly includeRevoked: boolean;
  /** A record is expired when `expiresAt <= nowSeconds`. */
  readonly includeExpired: boolean;
  readonly hasRole?: string | undefined;
  readonly nowSeconds: number;
}

/** A partial update of a record. `expiresAt: null` removes the expiry. */
export interface RecordPatch {
  readonly secretPhc?: string | undefined;
  readonly owner?: string | undefined;
  readonly isAdmin?: boolean | undefined;
  readonly roles?: RolesUpdate | undefined;
  readonly expiresAt?: number | null | undefined;
}

/** Outcome of {@link PatStore.update}. */
export type UpdateOutcome = "updated" | "not_found" | "too_many_roles";

/** One coalesced `lastUsedAt` write. */
export interface UsageEntry {
  readonly tokenId: string;
  readonly lastUsedAt: number;
}

/**
 * Where token records live. Two implementations ship: {@link createSqliteStore} (embedded default)
 * and {@link createPostgresStore} (several server instances). Both pass the same contract test suite.
 * Every method is atomic on its own; none throws for "not found" or "already exists". A method whose
 * database does not answer (unreachable, restarting, past a timeout) rejects with
 * {@link PatStoreUnavailableError}, which the handler answers with 503.
 */
export interface PatStore {
  /** Stores a new record; `false` (and nothing written) when the `tokenId` exists. */
  insert(record: StoredPatRecord): Promise<boolean>;
  /**
   * Stores `record` only when no active admin token exists (not revoked, not expired at `nowSeconds`),
   * atomically with respect to other callers of this method, even on other instances.
   */
  insertIfNoActiveAdmin(record: StoredPatRecord, nowSeconds: number): Promise<boolean>;
  /** The record of `tokenId`, or `undefined`. */
  get(tokenId: string): Promise<StoredPatRecord | undefined>;
  /** The records among `tokenIds` that exist, in no particular order. */
  getMany(tokenIds: readonly string[]): Promise<StoredPatRecord[]>;
  /** Records matching the filters, in byte order of `tokenId`, `limit` applied after filtering. */
  list(query: ListRecordsQuery): Promise<StoredPatRecord[]>;
  /** Applies `patch` atomically; `"too_many_roles"` (and nothing written) when roles would exceed the limit. */
  update(tokenId: string, patch: RecordPatch): Promise<UpdateOutcome>;
  /**
   * Marks the record revoked at `revokedAt` unless it is already revoked (then nothing changes).
   * Sets `expiresAt` only when given; an existing expiry is kept otherwise. `false` when not found.
   */
  revoke(tokenId: string, change: { revokedAt: number; expiresAt?: number | undefined }): Promise<boolean>;
  /** Clears `revokedAt` and keeps the expiry. `false` when not found. */
  restore(tokenId: string): Promise<boolean>;
  /** Writes `lastUsedAt` for several records at once, never moving it backwards. */
  recordUsage(entries: readonly UsageEntry[]): Promise<void>;
  /** Number of records. */
  count(): Promise<number>;
  /** Number of admin records neither revoked nor expired at `nowSeconds`. */
  countActiveAdmins(nowSeconds: number): Promise<number>;
  /** Resolves when the store can serve requests; rejects otherwise (for health checks). */
  ping(): Promise<void>;
  /** Releases connections. The store must not be used afterwards. */
  close(): Promise<void>;
}
