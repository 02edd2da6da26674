import { MAX_ROLES_COUNT } from "@tokenkeep/pat-protocol";
import { applyRolesUpdate, compareBytes, normalizeRoles } from "./internal/roles";
import type { PatStore, StoredPatRecord } from "./store";

/**
 * A {@link PatStore} in this process's memory: nothing to install and no `node:` module, so the handler
 * runs on it in Deno, Bun, Cloudflare Workers or Node alike. Records die with the process and are not
 * shared between instances: for tests, demos and single short-lived processes. Every method runs
 * without an `await` in between, so each is atomic.
 */
export function createMemoryStore(): PatStore {
  const records = new Map<string, StoredPatRecord>();
  let closed = false;

  function assertOpen(): void {
    if (closed) throw new Error("The memory PAT store is closed");
  }
  const isActiveAdmin = (record: StoredPatRecord, nowSeconds: number) =>
    record.isAdmin &&
    record.revokedAt === null &&
    (record.expiresAt === null || record.expiresAt > nowSeconds);
  const copy = (record: StoredPatRecord): StoredPatRecord => ({ ...record, roles: [...record.roles] });
  function insert(record: StoredPatRecord): boolean {
    if (records.has(record.tokenId)) return false;
    records.set(record.tokenId, { ...record, roles: normalizeRoles(record.roles) });
    return true;
  }
  function countActiveAdmins(nowSeconds: number): number {
    let count = 0;
    for (const record of records.values()) if (isActiveAdmin(record, nowSeconds)) count += 1;
    return count;
  }

  return {
    async insert(record) {
      assertOpen();
      return insert(record);
    },
    async insertIfNoActiveAdmin(record, nowSeconds) {
      assertOpen();
      return countActiveAdmins(nowSeconds) === 0 && insert(record);
    },
    async get(tokenId) {
      assertOpen();
      const record = records.get(tokenId);
      return record && copy(record);
    },
    async getMany(tokenIds) {
      assertOpen();
      return [...new Set(tokenIds)].flatMap((id) => {
        const record = records.get(id);
        return record ? [copy(record)] : [];
      });
    },
    async list(query) {
      assertOpen();
      return [...records.values()]
        .filter(
          (record) =>
            (query.afterTokenId === undefined || compareBytes(record.tokenId, query.afterTokenId) > 0) &&
            (query.includeRevoked || record.revokedAt === null) &&
            (query.includeExpired || record.expiresAt === null || record.expiresAt > query.nowSeconds) &&
            (query.hasRole === undefined || record.roles.includes(query.hasRole)),
        )
        .sort((a, b) => compareBytes(a.tokenId, b.tokenId))
        .slice(0, query.limit)
        .map(copy);
    },
    async update(tokenId, patch) {
      assertOpen();
      const current = records.get(tokenId);
      if (!current) return "not_found";
      const roles = patch.roles === undefined ? current.roles : applyRolesUpdate(current.roles, patch.roles);
      if (roles.length > MAX_ROLES_COUNT) return "too_many_roles";
      records.set(tokenId, {
        ...current,
        secretPhc: patch.secretPhc ?? current.secretPhc,
        owner: patch.owner ?? current.owner,
        isAdmin: patch.isAdmin ?? current.isAdmin,
        roles,
        expiresAt: patch.expiresAt === undefined ? current.expiresAt : patch.expiresAt,
      });
      return "updated";
    },
    async revoke(tokenId, change) {
      assertOpen();
      const current = records.get(tokenId);
      if (!current) return false;
      if (current.revokedAt === null) {
        records.set(tokenId, {
          ...current,
          revokedAt: change.revokedAt,
          expiresAt: change.expiresAt ?? current.expiresAt,
        });
      }
      return true;
    },
    async restore(tokenId) {
      assertOpen();
      const current = records.get(tokenId);
      if (!current) return false;
      records.set(tokenId, { ...current, revokedAt: null });
      return true;
    },
    async recordUsage(entries) {
      assertOpen();
      for (const { tokenId, lastUsedAt } of entries) {
        const current = records.get(tokenId);
        if (current && (current.lastUsedAt === null || current.lastUsedAt < lastUsedAt)) {
          records.set(tokenId, { ...current, lastUsedAt });
        }
      }
    },
    async count() {
      assertOpen();
      return records.size;
    },
    async countActiveAdmins(nowSeconds) {
      assertOpen();
      return countActiveAdmins(nowSeconds);
    },
    async ping() {
      assertOpen();
    },
    async close() {
      closed = true;
    },
  };
}
