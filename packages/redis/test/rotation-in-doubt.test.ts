/**
 * A refresh token in doubt, checked with the server: two coordinators (each its own Redis client and
 * store, as two instances) share one Redis and redeem against oidc-provider, whose refresh tokens
 * rotate and whose reuse detection revokes the grant. The first redemption fails the way a gateway
 * does (a 502 the provider never saw) or the way a reset does (the provider rotated, the answer was
 * lost); `verifyUnredeemed` asks the provider's introspection endpoint (RFC 7662) after the settle time.
 * A verifier configured with a wrong client secret fails permanently (401 `invalid_client`): it is
 * asked once, and the token is then refused for good in both instances, as without a verifier.
 */
import { NetworkError, OAuthError } from "@tokenkeep/core";
import type { RotationCoordinator, RotationEvent } from "@tokenkeep/core/rotation";
import { passwordGrant, refreshTokenGrant } from "@tokenkeep/grants";
import { refreshTokenActive } from "@tokenkeep/grants/introspection";
import { afterEach, describe, expect, it } from "vitest";
import { coordinatorOnRedis } from "./support/coordinator-on-redis.js";
import { CLIENT, type RunningProvider, startOidcProvider, USER } from "./support/oidc-provider.js";
import { redisUrlOrSkip, uniquePrefix } from "./support/redis-url.js";

const url = redisUrlOrSkip("rotation-in-doubt.test.ts");
const SETTLE_MS = 5_000;

describe.skipIf(!url)(
  "a refresh token in doubt, two instances on one Redis, checked by introspection",
  () => {
    let provider: RunningProvider | undefined;
    const closers: Array<() => Promise<unknown>> = [];
    afterEach(async () => {
      for (const close of closers.splice(0)) await close();
      await provider?.close();
    });

    async function setUp(fault: "gateway" | "reset", verifierSecret = CLIENT.secret) {
      provider = await startOidcProvider();
      const grant = { tokenUrl: provider.tokenUrl, clientId: CLIENT.id, clientSecret: CLIENT.secret };
      const initial = await passwordGrant({ ...grant, username: USER.name, password: USER.password })();
      const redeem = refreshTokenGrant(grant);
      const calls = { presented: 0, introspections: 0 };
      const events: RotationEvent[] = [];
      let failed = false;
      const verify = refreshTokenActive({
        clientId: CLIENT.id,
        clientSecret: verifierSecret,
        introspectionUrl: provider.introspectionUrl,
      });
      // One clock for both instances, moved past the settle time instead of sleeping through it.
      const clock = { offset: 0 };
      const now = () => Date.now() + clock.offset;
      const prefix = uniquePrefix("in-doubt");
      const instances: RotationCoordinator[] = [];
      for (let index = 0; index < 2; index++) {
        const coordinator = await coordinatorOnRedis(url!, prefix, closers, {
          now,
          inDoubtSettleMs: SETTLE_MS,
          onEvent: (event) => events.push(event),
          redeem: async (context) => {
            calls.presented++;
            if (!failed) {
              failed = true;
              if (fault === "gateway") throw new OAuthError({ error: "server_error", status: 502 });
              await redeem(context);
              throw new NetworkError("connection reset after the provider answered");
            }
            return redeem(context);
          },
          // grants' RFC 7662 client, as a deployment would pass it.
          verifyUnredeemed: (context) => {
            calls.introspections++;
            return verify(context);
          },
        });
        instances.push(coordinator);
      }
      const rotateAll = (callers: number) =>
        Promise.allSettled(
          instances.flatMap((instance) =>
            Array.from({ length: callers }, () => instance.rotate(initial.refreshToken!)),
          ),
        );
      return { grant, calls, events, clock, rotateAll, ledger: provider.ledger };
    }

    it("a 502 the provider never saw: transient until the settle time, then one check and one redemption for both", async () => {
      const { grant, calls, clock, rotateAll, ledger } = await setUp("gateway");
      const first = await rotateAll(10);
      for (const outcome of first) {
        expect(outcome.status).toBe("rejected");
        expect((outcome as PromiseRejectedResult).reason).toMatchObject({
          code: "ERR_TOKENKEEP_ROTATION_IN_DOUBT",
          transient: true,
        });
      }
      expect(calls).toEqual({ presented: 1, introspections: 0 });
      clock.offset += SETTLE_MS;
      const after = await rotateAll(10);
      const pairs = new Set(
        after.map((outcome) => {
          expect(outcome.status).toBe("fulfilled");
          const set = (outcome as PromiseFulfilledResult<{ refreshToken?: string }>).value;
          return set.refreshToken;
        }),
      );
      expect(pairs.size).toBe(1);
      expect(calls).toEqual({ presented: 2, introspections: 1 });
      expect(ledger).toEqual({ redeemed: 1, rejected: 0, revokedGrants: 0 });
      // The family is alive: the new refresh token redeems.
      await expect(refreshTokenGrant({ ...grant, refreshToken: [...pairs][0] })()).resolves.toMatchObject({
        accessToken: expect.any(String),
      });
    }, 30_000);

    it("a reset after the provider rotated: the check says inactive, invalid_grant for both, never presented again", async () => {
      const { calls, clock, rotateAll, ledger } = await setUp("reset");
      await rotateAll(5);
      expect(ledger.redeemed).toBe(1);
      clock.offset += SETTLE_MS;
      const after = await rotateAll(10);
      for (const outcome of after) {
        expect(outcome.status).toBe("rejected");
        expect((outcome as PromiseRejectedResult).reason).toMatchObject({
          error: "invalid_grant",
          transient: false,
        });
      }
      expect(calls).toEqual({ presented: 1, introspections: 1 });
      expect(ledger).toEqual({ redeemed: 1, rejected: 0, revokedGrants: 0 });
    }, 30_000);

    it("a verifier with a wrong client secret (401 invalid_client): asked once, then in doubt for good in both instances", async () => {
      const { calls, events, clock, rotateAll, ledger } = await setUp("gateway", "not-the-secret");
      await rotateAll(5);
      clock.offset += SETTLE_MS;
      const checked = await rotateAll(10);
      expect(calls).toEqual({ presented: 1, introspections: 1 });
      const reasons = checked.map((outcome) => {
        expect(outcome.status).toBe("rejected");
        return (outcome as PromiseRejectedResult).reason as { cause?: unknown };
      });
      for (const reason of reasons) {
        expect(reason).toMatchObject({ code: "ERR_TOKENKEEP_ROTATION_IN_DOUBT", transient: false });
      }
      const failure = expect.objectContaining({ error: "invalid_client", status: 401, transient: false });
      expect(reasons.map((reason) => reason.cause)).toContainEqual(failure);
      expect(events.filter((event) => event.type === "in-doubt" && event.error !== undefined)).toEqual([
        expect.objectContaining({ error: failure }),
      ]);
      // Settle periods later, in both instances: refused as without a verifier, the provider not asked.
      clock.offset += SETTLE_MS * 3;
      const later = await rotateAll(10);
      for (const outcome of later) {
        expect((outcome as PromiseRejectedResult).reason).toMatchObject({
          code: "ERR_TOKENKEEP_ROTATION_IN_DOUBT",
          transient: false,
        });
      }
      expect(calls).toEqual({ presented: 1, introspections: 1 });
      expect(ledger).toEqual({ redeemed: 0, rejected: 0, revokedGrants: 0 });
    }, 30_000);
  },
);
