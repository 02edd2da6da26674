/**
 * A late writer on one Redis: two coordinators (each its own client and store, as two instances)
 * redeem against oidc-provider, whose refresh tokens rotate and whose reuse detection revokes the
 * grant. Instance A's redemption outlives its budget (the coordinator records it in doubt) but the
 * provider answers after all, and A publishes the successor and `redeemed` late. Meanwhile, past the
 * settle time, instance B asks the provider's introspection whether the token is unredeemed and gets
 * no answer. B's "still in doubt" must not replace A's record: written over it, the next check (after
 * the successor window) would find the token inactive, and a stale request would get invalid_grant,
 * the end of the session that holds A's pair, instead of being told it is late.
 */
import { NetworkError, type Store, type TokenSet } from "@tokenkeep/core";
import type { RotationCoordinator } from "@tokenkeep/core/rotation";
import { passwordGrant, refreshTokenGrant } from "@tokenkeep/grants";
import { refreshTokenActive } from "@tokenkeep/grants/introspection";
import { afterEach, describe, expect, it } from "vitest";
import type { RedisStore } from "../src/index.js";
import { coordinatorOnRedis } from "./support/coordinator-on-redis.js";
import { CLIENT, type RunningProvider, startOidcProvider, USER } from "./support/oidc-provider.js";
import { redisUrlOrSkip, uniquePrefix } from "./support/redis-url.js";

const url = redisUrlOrSkip("rotation-late-writer.test.ts");
const SETTLE_MS = 5_000;

describe.skipIf(!url)("a late writer on one Redis, two instances", () => {
  let provider: RunningProvider | undefined;
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    await provider?.close();
  });

  it("a check that got no answer while a late redemption published keeps that record: the successor, then superseded", async () => {
    provider = await startOidcProvider();
    const grant = { tokenUrl: provider.tokenUrl, clientId: CLIENT.id, clientSecret: CLIENT.secret };
    const initial = await passwordGrant({ ...grant, username: USER.name, password: USER.password })();
    const redeem = refreshTokenGrant(grant);
    const introspect = refreshTokenActive({
      clientId: CLIENT.id,
      clientSecret: CLIENT.secret,
      introspectionUrl: provider.introspectionUrl,
    });
    const clock = { offset: 0 };
    const now = () => Date.now() + clock.offset;
    const prefix = uniquePrefix("late-writer");
    let published!: () => void;
    const lateRedemptionPublished = new Promise<void>((resolve) => {
      published = resolve;
    });
    const calls = { presented: 0, introspections: 0 };

    const instance = async (name: "a" | "b"): Promise<RotationCoordinator> => {
      // A's store says when A's late `redeemed` marker is written.
      const observed = (redis: RedisStore): Store => ({
        get: (key) => redis.get(key),
        set: async (key, value, ttlMs) => {
          await redis.set(key, value, ttlMs);
          if (name === "a" && (value as { state?: unknown } | null)?.state === "redeemed") published();
        },
        delete: (key) => redis.delete(key),
        acquire: (key, ttlMs) => redis.acquire(key, ttlMs),
        compareAndDelete: (key, expected) => redis.compareAndDelete(key, expected),
        compareAndSet: (key, expected, value, ttlMs) => redis.compareAndSet(key, expected, value, ttlMs),
      });
      return coordinatorOnRedis(
        url!,
        prefix,
        closers,
        {
          now,
          successorTtlMs: 1_000,
          inDoubtSettleMs: SETTLE_MS,
          // A's budget ends before the provider is even asked; B's is the default.
          ...(name === "a" && { redeemTimeoutMs: 300 }),
          redeem: async (context) => {
            calls.presented++;
            // Ignores its abort, as an HTTP client without signal support does, and answers late.
            await new Promise((resolve) => setTimeout(resolve, 600));
            return redeem({ ...context, signal: new AbortController().signal });
          },
          verifyUnredeemed: async (context) => {
            calls.introspections++;
            if (calls.introspections === 1) {
              await lateRedemptionPublished;
              throw new NetworkError("introspection unreachable");
            }
            return introspect(context);
          },
        },
        observed,
      );
    };
    const a = await instance("a");
    const b = await instance("b");

    await expect(a.rotate(initial)).rejects.toMatchObject({
      code: "ERR_TOKENKEEP_ROTATION_IN_DOUBT",
      transient: true,
    });
    clock.offset += SETTLE_MS;
    // B checks; A's answer arrives and is published while the check is out.
    const checked: TokenSet = await b.rotate(initial);
    expect(checked.refreshToken).toEqual(expect.any(String));
    expect(checked.refreshToken).not.toBe(initial.refreshToken);
    expect(calls).toEqual({ presented: 1, introspections: 1 });

    // Past the successor window (Redis expires it) and another settle time: a stale request is late.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    clock.offset += SETTLE_MS;
    await expect(b.rotate(initial)).rejects.toMatchObject({
      code: "ERR_TOKENKEEP_REFRESH_TOKEN_SUPERSEDED",
    });
    expect(calls).toEqual({ presented: 1, introspections: 1 });
    expect(provider.ledger).toEqual({ redeemed: 1, rejected: 0, revokedGrants: 0 });
    // The family is alive: A's pair redeems.
    await expect(
      refreshTokenGrant({ ...grant, refreshToken: checked.refreshToken })(),
    ).resolves.toMatchObject({ accessToken: expect.any(String) });
  }, 30_000);
});
