import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ServedHandler, serve } from "../src/node/serve";
import { createPatHandler, type PatHandler } from "../src/pat-handler";
import { generateSigningKey } from "../src/signing-keys";
import type { PatStore } from "../src/store";
import { generateToken } from "../src/token-generator";
import { issueToken } from "../src/token-service";
import { openStore, type StoreKind, storeKindsFor, TEST_SCRYPT_LOG2_COST } from "./helpers/server";

interface Instance {
  store: PatStore;
  handler: PatHandler;
  served: ServedHandler;
  call(path: string, init?: { method?: string; json?: unknown }): Promise<Response>;
}

describe.each(storeKindsFor("concurrency tests on PostgreSQL"))(
  "two instances on one database (%s)",
  (kind: StoreKind) => {
    let instances: Instance[];
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      const opened = openStore(kind);
      cleanup = opened.cleanup;
      const signingKeys = [await generateSigningKey()];
      const stores = [opened.store, opened.open()];
      const admin = await issueToken(
        stores[0]!,
        { owner: "admin", isAdmin: true },
        { scryptLog2Cost: TEST_SCRYPT_LOG2_COST },
      );
      instances = [];
      let jwt: string | undefined;
      for (const store of stores) {
        const handler = createPatHandler({
          store,
          signingKeys,
          scryptLog2Cost: TEST_SCRYPT_LOG2_COST,
          rateLimit: false,
        });
        const served = await serve(handler);
        instances.push({
          store,
          handler,
          served,
          async call(path, init = {}) {
            jwt ??= (
              (await (
                await fetch(`${served.url}/auth/token`, {
                  method: "POST",
                  headers: { authorization: `Bearer ${admin!.token}` },
                })
              ).json()) as { access_token: string }
            ).access_token;
            return fetch(`${served.url}${path}`, {
              method: init.method ?? "GET",
              headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" },
              ...(init.json !== undefined && { body: JSON.stringify(init.json) }),
            });
          },
        });
      }
    });

    afterEach(async () => {
      for (const instance of instances) {
        await instance.served.close();
        await instance.handler.close();
        await instance.store.close();
      }
      await cleanup();
    });

    it("issues, revokes and lists at the same time without losing or duplicating a record", async () => {
      const [a, b] = instances as [Instance, Instance];
      const issued: string[] = [];
      const revoked = new Set<string>();
      const listings: string[][] = [];

      const issueMany = async (instance: Instance, count: number) => {
        for (let i = 0; i < count; i++) {
          const response = await instance.call("/admin/tokens", { method: "POST", json: { owner: `o${i}` } });
          expect(response.status).toBe(201);
          issued.push(((await response.json()) as { record: { tokenId: string } }).record.tokenId);
          for (const wake of waiting) wake();
          waiting.clear();
        }
      };
      // Revokers wait for the issue they revoke (not for a time), so all 30 revocations race the
      // issues and listings on every machine, however slow.
      const waiting = new Set<() => void>();
      const issuedAtLeast = async (count: number) => {
        while (issued.length < count) await new Promise<void>((resolve) => waiting.add(resolve));
      };
      const revokeSome = async (instance: Instance) => {
        for (let round = 0; round < 30; round++) {
          await issuedAtLeast(round * 2 + 1);
          const target = issued[round * 2]!;
          const response = await instance.call(`/admin/tokens/${target}/revoke`, { method: "PUT", json: {} });
          expect(response.status).toBe(204);
          revoked.add(target);
        }
      };
      const listAll = async (instance: Instance) => {
        for (let round = 0; round < 5; round++) {
          const ids: string[] = [];
          let after: string | null = null;
          do {
            const query: string = after ? `&afterTokenId=${after}` : "";
            const body = (await (
              await instance.call(`/admin/tokens?limit=7&includeRevoked=true${query}`)
            ).json()) as {
              records: { tokenId: string }[];
              nextAfterTokenId: string | null;
            };
            ids.push(...body.records.map((r) => r.tokenId));
            after = body.nextAfterTokenId;
          } while (after);
          listings.push(ids);
        }
      };

      await Promise.all([
        issueMany(a, 40),
        issueMany(b, 40),
        revokeSome(b),
        revokeSome(a),
        listAll(a),
        listAll(b),
      ]);

      for (const ids of listings) {
        expect(new Set(ids).size).toBe(ids.length); // no duplicates within a listing
        expect([...ids].sort()).toEqual(ids); // ordered
      }
      const final = await a.store.list({
        includeRevoked: true,
        includeExpired: true,
        limit: 10_000,
        nowSeconds: 0,
      });
      const finalIds = final.map((r) => r.tokenId);
      expect(new Set(issued).size).toBe(80);
      for (const id of issued) expect(finalIds).toContain(id);
      expect(finalIds).toHaveLength(81); // 80 issued + the admin token
      const revokedNow = new Set(final.filter((r) => r.revokedAt !== null).map((r) => r.tokenId));
      expect(revoked.size).toBe(30);
      expect(revokedNow).toEqual(revoked);
    });

    it("lets exactly one instance win a race for the same id, and loses no concurrent role change", async () => {
      const [a, b] = instances as [Instance, Instance];
      const contested = "Contested000000000000";
      const issues = await Promise.all(
        [a, b, a, b].map((instance) =>
          instance.call("/admin/tokens", { method: "POST", json: { tokenId: contested, owner: "x" } }),
        ),
      );
      expect(issues.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);

      const pre = await generateToken({ scryptLog2Cost: TEST_SCRYPT_LOG2_COST });
      const registers = await Promise.all(
        [a, b, a, b].map((instance) =>
          instance.call(`/admin/tokens/${pre.tokenId}`, {
            method: "PUT",
            json: { secretPhc: pre.secretPhc, owner: "y" },
          }),
        ),
      );
      expect(registers.map((r) => r.status).sort()).toEqual([200, 409, 409, 409]);

      const roles = Array.from({ length: 20 }, (_, i) => `role${i}`);
      const updates = await Promise.all(
        roles.map((role, i) =>
          (i % 2 ? a : b).call(`/admin/tokens/${contested}`, {
            method: "PATCH",
            json: { roles: { add: [role] } },
          }),
        ),
      );
      expect(updates.every((r) => r.status === 204)).toBe(true);
      expect((await a.store.get(contested))?.roles).toEqual([...roles].sort());
      expect(await b.store.count()).toBe(3);
    });

    it("refuses at once on one instance a token revoked or given a new secret through the other", async () => {
      const [a, b] = instances as [Instance, Instance];
      const issued = (await (
        await b.call("/admin/tokens", { method: "POST", json: { owner: "ci" } })
      ).json()) as {
        token: string;
        record: { tokenId: string };
      };
      const { token } = issued;
      const { tokenId } = issued.record;
      const exchange = async (pat: string) =>
        (
          await fetch(`${a.served.url}/auth/token`, {
            method: "POST",
            headers: { authorization: `Bearer ${pat}` },
          })
        ).status;
      // Instance a verifies it (scrypt), then remembers the verification (its cached fast path).
      expect(await exchange(token)).toBe(200);
      expect(await exchange(token)).toBe(200);

      expect((await b.call(`/admin/tokens/${tokenId}/revoke`, { method: "PUT", json: {} })).status).toBe(204);
      expect(await exchange(token)).toBe(401); // read from the database on every exchange, cached or not
      expect((await b.call(`/admin/tokens/${tokenId}/restore`, { method: "PUT" })).status).toBe(204);
      expect(await exchange(token)).toBe(200);

      const rotated = await generateToken({ tokenId, scryptLog2Cost: TEST_SCRYPT_LOG2_COST });
      const patch = await b.call(`/admin/tokens/${tokenId}`, {
        method: "PATCH",
        json: { secretPhc: rotated.secretPhc },
      });
      expect(patch.status).toBe(204);
      expect(await exchange(token)).toBe(401);
      expect(await exchange(rotated.token)).toBe(200);
    });
  },
);
