import { MAX_ROLES_COUNT } from "@tokenkeep/pat-protocol";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PatStore } from "../src/store";
import { record, tokenId } from "./helpers/records";

/** How a contract run gets a store: `open` may be called again to reach the same data (migrations). */
export interface StoreFixture {
  open(): PatStore;
  cleanup(): Promise<void>;
}

const NOW = 1_800_000_000;
const all = { includeRevoked: true, includeExpired: true, limit: 10_000, nowSeconds: NOW };

/** The behaviour every {@link PatStore} must have. Run against SQLite and PostgreSQL. */
export function describeStoreContract(name: string, createFixture: () => Promise<StoreFixture>): void {
  describe(`${name} store contract`, () => {
    let fixture: StoreFixture;
    let store: PatStore;
    const opened: PatStore[] = [];
    const open = () => {
      const s = fixture.open();
      opened.push(s);
      return s;
    };

    beforeEach(async () => {
      fixture = await createFixture();
      store = open();
    });

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await fixture.cleanup();
    });

    it("inserts and reads back a record with every field", async () => {
      const r = record({ isAdmin: true, roles: ["b", "a", "a"], lastUsedAt: 5, expiresAt: 6, revokedAt: 7 });
      expect(await store.insert(r)).toBe(true);
      expect(await store.get(r.tokenId)).toEqual({ ...r, roles: ["a", "b"] });
      expect(await store.get(tokenId("missing"))).toBeUndefined();
    });

    it("refuses a duplicate id without overwriting", async () => {
      const r = record();
      await store.insert(r);
      expect(await store.insert({ ...r, owner: "intruder" })).toBe(false);
      expect((await store.get(r.tokenId))?.owner).toBe(r.owner);
      expect(await store.count()).toBe(1);
    });

    it("reads many ids at once, skipping unknown ones", async () => {
      const a = record();
      const b = record();
      await store.insert(a);
      await store.insert(b);
      const found = await store.getMany([a.tokenId, tokenId("nope"), b.tokenId]);
      expect(found.map((r) => r.tokenId).sort()).toEqual([a.tokenId, b.tokenId].sort());
      expect(await store.getMany([])).toEqual([]);
    });

    it("lists in byte order of tokenId", async () => {
      const ids = ["a", "B", "z", "A", "0", "Z", "b"].map((p) => tokenId(p));
      for (const id of ids) await store.insert(record({ tokenId: id }));
      const listed = (await store.list(all)).map((r) => r.tokenId);
      expect(listed).toEqual([...ids].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
      expect(listed[0]!.startsWith("0")).toBe(true);
      expect(listed.indexOf(ids[3]!)).toBeLessThan(listed.indexOf(ids[0]!)); // "A..." before "a..."
    });

    it("filters revoked, expired and role before applying the limit", async () => {
      const rows = [
        record({ tokenId: tokenId("a"), revokedAt: 1 }),
        record({ tokenId: tokenId("b"), expiresAt: NOW }),
        record({ tokenId: tokenId("c"), expiresAt: NOW - 1 }),
        record({ tokenId: tokenId("d"), roles: ["reader"] }),
        record({ tokenId: tokenId("e"), expiresAt: NOW + 1 }),
        record({ tokenId: tokenId("f"), roles: ["reader", "writer"] }),
      ];
      for (const r of rows) await store.insert(r);
      const base = { includeRevoked: false, includeExpired: false, nowSeconds: NOW };
      const active = await store.list({ ...base, limit: 2 });
      expect(active.map((r) => r.tokenId)).toEqual([rows[3]!.tokenId, rows[4]!.tokenId]);
      const readers = await store.list({ ...base, limit: 10, hasRole: "reader" });
      expect(readers.map((r) => r.tokenId)).toEqual([rows[3]!.tokenId, rows[5]!.tokenId]);
      const withExpired = await store.list({ ...base, includeExpired: true, limit: 10 });
      expect(withExpired).toHaveLength(5);
      const withRevoked = await store.list({ ...base, includeRevoked: true, limit: 10 });
      expect(withRevoked.map((r) => r.tokenId)).toContain(rows[0]!.tokenId);
      expect(withRevoked).toHaveLength(4);
    });

    it("pages with afterTokenId without losing or repeating a record", async () => {
      const ids = Array.from({ length: 23 }, () => tokenId("p"));
      for (const id of ids)
        await store.insert(record({ tokenId: id, revokedAt: ids.indexOf(id) % 5 ? null : 1 }));
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.list({
          includeRevoked: false,
          includeExpired: false,
          nowSeconds: NOW,
          limit: 4,
          afterTokenId: after,
        });
        if (page.length === 0) break;
        seen.push(...page.map((r) => r.tokenId));
        after = page[page.length - 1]!.tokenId;
      }
      expect(seen).toEqual(ids.filter((_, i) => i % 5 !== 0));
    });

    it("updates fields, removes the expiry with null, and applies roles as a set", async () => {
      const r = record({ roles: ["a"], expiresAt: 100 });
      await store.insert(r);
      expect(
        await store.update(r.tokenId, { owner: "new", isAdmin: true, roles: { add: ["c", "a", "b"] } }),
      ).toBe("updated");
      expect(await store.get(r.tokenId)).toMatchObject({
        owner: "new",
        isAdmin: true,
        roles: ["a", "b", "c"],
        expiresAt: 100,
      });
      await store.update(r.tokenId, { roles: { remove: ["b", "zz"] }, expiresAt: null });
      expect(await store.get(r.tokenId)).toMatchObject({ roles: ["a", "c"], expiresAt: null });
      await store.update(r.tokenId, { roles: ["x", "x"], secretPhc: `${r.secretPhc.slice(0, -1)}A` });
      expect(await store.get(r.tokenId)).toMatchObject({
        roles: ["x"],
        secretPhc: `${r.secretPhc.slice(0, -1)}A`,
      });
      expect(await store.update(tokenId("missing"), { owner: "x" })).toBe("not_found");
    });

    it("refuses a roles update beyond the limit and changes nothing", async () => {
      const full = Array.from({ length: MAX_ROLES_COUNT }, (_, i) => `role${i}`);
      const r = record({ roles: full });
      await store.insert(r);
      expect(await store.update(r.tokenId, { owner: "changed", roles: { add: ["one-more"] } })).toBe(
        "too_many_roles",
      );
      expect(await store.get(r.tokenId)).toEqual({ ...r, roles: [...full].sort() });
    });

    it("revokes idempotently and keeps an existing expiry unless one is given", async () => {
      const keep = record({ expiresAt: 500 });
      const set = record({ expiresAt: 500 });
      await store.insert(keep);
      await store.insert(set);
      expect(await store.revoke(keep.tokenId, { revokedAt: 10 })).toBe(true);
      expect(await store.get(keep.tokenId)).toMatchObject({ revokedAt: 10, expiresAt: 500 });
      expect(await store.revoke(keep.tokenId, { revokedAt: 20, expiresAt: 900 })).toBe(true);
      expect(await store.get(keep.tokenId)).toMatchObject({ revokedAt: 10, expiresAt: 500 });
      await store.revoke(set.tokenId, { revokedAt: 10, expiresAt: 900 });
      expect(await store.get(set.tokenId)).toMatchObject({ revokedAt: 10, expiresAt: 900 });
      expect(await store.revoke(tokenId("missing"), { revokedAt: 1 })).toBe(false);
    });

    it("restores idempotently and keeps the expiry", async () => {
      const r = record({ expiresAt: 500, revokedAt: 10 });
      await store.insert(r);
      expect(await store.restore(r.tokenId)).toBe(true);
      expect(await store.restore(r.tokenId)).toBe(true);
      expect(await store.get(r.tokenId)).toMatchObject({ revokedAt: null, expiresAt: 500 });
      expect(await store.restore(tokenId("missing"))).toBe(false);
    });

    it("records usage in batches without moving lastUsedAt backwards", async () => {
      const a = record({ lastUsedAt: 50 });
      const b = record();
      await store.insert(a);
      await store.insert(b);
      await store.recordUsage([
        { tokenId: a.tokenId, lastUsedAt: 40 },
        { tokenId: b.tokenId, lastUsedAt: 60 },
        { tokenId: tokenId("ghost"), lastUsedAt: 70 },
      ]);
      expect((await store.get(a.tokenId))?.lastUsedAt).toBe(50);
      expect((await store.get(b.tokenId))?.lastUsedAt).toBe(60);
      expect(await store.count()).toBe(2);
    });

    it("counts active admins and bootstraps exactly one admin under concurrency", async () => {
      await store.insert(record({ isAdmin: true, revokedAt: 1 }));
      await store.insert(record({ isAdmin: true, expiresAt: NOW }));
      await store.insert(record({ isAdmin: false }));
      expect(await store.countActiveAdmins(NOW)).toBe(0);
      const other = open();
      const attempts = Array.from({ length: 8 }, (_, i) =>
        (i % 2 ? other : store).insertIfNoActiveAdmin(record({ isAdmin: true }), NOW),
      );
      const results = await Promise.all(attempts);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.countActiveAdmins(NOW)).toBe(1);
    });

    it("keeps its data when opened again (migrations run once)", async () => {
      const r = record();
      await store.insert(r);
      const again = open();
      expect(await again.get(r.tokenId)).toEqual(r);
      await again.ping();
    });

    it("rejects calls after close", async () => {
      const s = open();
      await s.close();
      await expect(s.get(tokenId())).rejects.toThrow(/closed/);
    });
  });
}
