/**
 * Entries this store cannot read, on a real Redis: two stores share one Redis and prefix with
 * different `encryptionKey`s (a key change), or one with a key and one without (a rolling deploy
 * that turns encryption on). What one instance recorded is unreadable to the other: for the
 * rotation coordinator that must never mean "this refresh token was never redeemed" (it would be
 * presented again, a reuse); for the token manager it is a miss (it fetches and overwrites).
 * With `decryptionKeys`, a key change in two steps leaves nothing unreadable.
 */
import { createHash } from "node:crypto";
import { createTokenManager, OAuthError } from "@tokenkeep/core";
import { createRotationCoordinator } from "@tokenkeep/core/rotation";
import { shareStore } from "@tokenkeep/core/shared";
import { afterEach, describe, expect, it } from "vitest";
import { registerSecret } from "../../../test/reliability/src/secret-registry.js";
import { createRedisStore, type RedisStore } from "../src/index.js";
import { redisUrlOrSkip, uniquePrefix } from "./support/redis-url.js";

const url = redisUrlOrSkip("rotation-key-change.test.ts");
const newKey = () =>
  registerSecret(
    Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64"),
    "encryption key",
  );

describe.skipIf(!url)("entries another instance's key sealed, on one Redis", () => {
  const closing: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const item of closing.splice(0).reverse()) await item.close();
  });
  const open = (keyPrefix: string, encryptionKey?: string): RedisStore => {
    const store = createRedisStore({ url: url!, keyPrefix, ...(encryptionKey && { encryptionKey }) });
    closing.push(store);
    return store;
  };
  /** A coordinator on `store` whose redeemer counts presentations per refresh token. */
  const coordinator = (store: RedisStore, presented: string[]) => {
    const rotation = createRotationCoordinator({
      shared: shareStore(store),
      redeem: async ({ refreshToken }) => {
        presented.push(refreshToken);
        return { access_token: "at-next", expires_in: 300, refresh_token: `${refreshToken}-next` };
      },
    });
    closing.push({ close: () => rotation.dispose() });
    return rotation;
  };

  for (const [change, keys] of [
    ["a key change", [newKey(), newKey()]],
    ["encryption turned on", [undefined, newKey()]],
    ["encryption turned off", [newKey(), undefined]],
  ] as const) {
    it(`${change}: a token one instance redeemed is refused by the other, never presented again`, async () => {
      const prefix = uniquePrefix("keychange");
      const presented: string[] = [];
      const before = coordinator(open(prefix, keys[0]), presented);
      const after = coordinator(open(prefix, keys[1]), presented);
      await before.rotate("rt-1");
      // Inside the successor window, then past it: the other instance reads neither record.
      for (let attempt = 0; attempt < 2; attempt++) {
        await expect(after.rotate("rt-1")).rejects.toMatchObject({
          code: "ERR_TOKENKEEP_ROTATION_IN_DOUBT",
          transient: false,
        });
      }
      expect(presented.filter((token) => token === "rt-1")).toHaveLength(1);
      expect(after.stats()).toMatchObject({ inDoubt: 2, storeDegraded: false });
      // A token it never saw still rotates there.
      expect((await after.rotate("rt-2")).refreshToken).toBe("rt-2-next");
    });
  }

  it("with verifyUnredeemed, a marker sealed with the other key is in doubt: the server is asked after the settle time", async () => {
    const prefix = uniquePrefix("keychange-verify");
    const [oldKey, nextKey] = [newKey(), newKey()];
    const settleMs = 10_000;
    let skewMs = 0; // the new instance's clock, moved past the settle time instead of sleeping
    const presented: string[] = [];
    const live = new Set(["rt-1", "rt-2"]); // the authorization server's unredeemed tokens
    const redeem = async ({ refreshToken }: { refreshToken: string }) => {
      presented.push(refreshToken);
      if (!live.delete(refreshToken)) throw new OAuthError({ error: "invalid_grant", status: 400 });
      return { access_token: "at-next", expires_in: 300, refresh_token: `${refreshToken}-next` };
    };
    const asked: string[] = [];
    const oldStore = open(prefix, oldKey);
    const before = createRotationCoordinator({ shared: shareStore(oldStore), redeem });
    const after = createRotationCoordinator({
      shared: shareStore(open(prefix, nextKey)),
      redeem,
      verifyUnredeemed: async ({ refreshToken }) => {
        asked.push(refreshToken);
        return live.has(refreshToken);
      },
      inDoubtSettleMs: settleMs,
      now: () => Date.now() + skewMs,
    });
    closing.push({ close: () => before.dispose() }, { close: () => after.dispose() });

    // rt-1: redeemed under the old key. rt-2: a holder under the old key wrote "redeeming" and died
    // before presenting it (its lease is gone).
    await before.rotate("rt-1");
    await oldStore.set(
      `tokenkeep:rotation:marker:${createHash("sha256").update("rt-2").digest("hex")}`,
      { state: "redeeming", at: Date.now(), by: "gone" },
      60_000,
    );
    for (const token of ["rt-1", "rt-2"]) {
      await expect(after.rotate(token)).rejects.toMatchObject({
        code: "ERR_TOKENKEEP_ROTATION_IN_DOUBT",
        transient: true,
        retryAfterMs: settleMs,
      });
    }
    expect(asked).toEqual([]);
    skewMs = settleMs;
    // rt-1 is dead, but the marker its check replaced may have been a `redeemed` (it was): refused for
    // good as in doubt, never as invalid_grant, which would sign out a browser holding rt-1's successor.
    await expect(after.rotate("rt-1")).rejects.toMatchObject({
      code: "ERR_TOKENKEEP_ROTATION_IN_DOUBT",
      transient: false,
    });
    expect((await after.rotate("rt-2")).refreshToken).toBe("rt-2-next");
    expect(asked).toEqual(["rt-1", "rt-2"]);
    expect(presented).toEqual(["rt-1", "rt-2"]); // each presented once, rt-2 only after the check
    expect(after.stats()).toMatchObject({ inDoubtLost: 1, inDoubtCleared: 1, storeDegraded: false });
  });

  it("a key change in two steps with decryptionKeys: every instance reads every record, nothing is in doubt", async () => {
    const prefix = uniquePrefix("keychange-steps");
    const [oldKey, nextKey] = [newKey(), newKey()];
    const presented: string[] = [];
    const open2 = (encryptionKey: string, decryptionKeys: string[]) => {
      const store = createRedisStore({ url: url!, keyPrefix: prefix, encryptionKey, decryptionKeys });
      closing.push(store);
      return store;
    };
    const step1 = coordinator(open2(oldKey, [nextKey]), presented);
    const step2 = coordinator(open2(nextKey, [oldKey]), presented);
    await step1.rotate("rt-1");
    // Within the successor window the other step gets the same new set; the token is not presented.
    expect((await step2.rotate("rt-1")).refreshToken).toBe("rt-1-next");
    await step2.rotate("rt-2");
    expect((await step1.rotate("rt-2")).refreshToken).toBe("rt-2-next");
    expect(presented).toEqual(["rt-1", "rt-2"]);
    expect(step1.stats().inDoubt + step2.stats().inDoubt).toBe(0);
  });

  it("the token manager takes an entry it cannot read as a miss: it fetches once and overwrites it", async () => {
    const prefix = uniquePrefix("keychange-manager");
    let fetches = 0;
    const creator = async () => {
      fetches++;
      return { access_token: `at-${fetches}`, expires_in: 300 };
    };
    const [oldKey, currentKey] = [newKey(), newKey()];
    const manager = (encryptionKey: string) => {
      const made = createTokenManager({ creator, shared: shareStore(open(prefix, encryptionKey)) });
      closing.push({ close: () => made.dispose() });
      return made;
    };
    expect((await manager(oldKey).getToken()).accessToken).toBe("at-1");
    const second = manager(currentKey);
    expect((await second.getToken()).accessToken).toBe("at-2"); // unreadable: fetched anew
    expect(second.stats()).toMatchObject({ storeDegraded: false, storeFailures: 0 });
    // It overwrote the entry: a third instance with its key takes it without fetching.
    expect((await manager(currentKey).getToken()).accessToken).toBe("at-2");
    expect(fetches).toBe(2);
  });
});
