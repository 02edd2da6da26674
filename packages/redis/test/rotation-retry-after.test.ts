/**
 * A refusal with `Retry-After`, two instances on one Redis: the window one instance's refused
 * redemption opens holds the refresh token back in the other too, and ends when the window does
 * (here on the instances' clock, ahead of Redis's expiry of the marker).
 */
import { OAuthError, type TokenResponse } from "@tokenkeep/core";
import type { RotationCoordinator } from "@tokenkeep/core/rotation";
import { afterEach, describe, expect, it } from "vitest";
import { coordinatorOnRedis } from "./support/coordinator-on-redis.js";
import { redisUrlOrSkip, uniquePrefix } from "./support/redis-url.js";

const url = redisUrlOrSkip("rotation-retry-after.test.ts");

describe.skipIf(!url)("a refusal with Retry-After, two instances on one Redis", () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  it("neither instance presents the token again inside the window; the first after it does, once", async () => {
    const clock = { offset: 0 };
    const now = () => Date.now() + clock.offset;
    const prefix = uniquePrefix("retry-after");
    let presented = 0;
    const redeem = async (): Promise<TokenResponse> => {
      presented++;
      if (presented === 1) throw new OAuthError({ error: "slow_down", status: 429, retryAfterMs: 60_000 });
      return { access_token: "at", expires_in: 60, refresh_token: "rt-next" };
    };
    const instances: RotationCoordinator[] = [];
    for (let index = 0; index < 2; index++) {
      instances.push(await coordinatorOnRedis(url!, prefix, closers, { now, redeem }));
    }
    const [a, b] = instances as [RotationCoordinator, RotationCoordinator];
    await expect(a.rotate("rt")).rejects.toMatchObject({ status: 429, transient: true });
    for (const instance of [b, a]) {
      await expect(instance.rotate("rt")).rejects.toMatchObject({
        code: "ERR_TOKENKEEP_THROTTLED",
        transient: true,
        retryAfterMs: expect.any(Number),
      });
    }
    expect(presented).toBe(1);
    clock.offset += 60_000;
    const after = await Promise.all([b.rotate("rt"), a.rotate("rt"), b.rotate("rt")]);
    expect(after.map((set) => set.refreshToken)).toEqual(["rt-next", "rt-next", "rt-next"]);
    expect(presented).toBe(2);
  }, 30_000);

  it("an instance whose clock is an hour behind is told to wait at most the window, and presents once Redis dropped it", async () => {
    const prefix = uniquePrefix("retry-after-skew");
    let presented = 0;
    const redeem = async (): Promise<TokenResponse> => {
      presented++;
      if (presented === 1) throw new OAuthError({ error: "slow_down", status: 429, retryAfterMs: 1_000 });
      return { access_token: "at", expires_in: 60, refresh_token: "rt-next" };
    };
    const instances: RotationCoordinator[] = [];
    for (const offset of [0, -3_600_000]) {
      instances.push(
        await coordinatorOnRedis(url!, prefix, closers, { now: () => Date.now() + offset, redeem }),
      );
    }
    const [a, behind] = instances as [RotationCoordinator, RotationCoordinator];
    await expect(a.rotate("rt")).rejects.toMatchObject({ status: 429 });
    const error = await behind.rotate("rt").catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: "ERR_TOKENKEEP_THROTTLED", transient: true });
    expect((error as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(1_000);
    expect(presented).toBe(1);
    // Its hint, honoured: the window has ended on Redis's clock, and the token is presented once.
    await new Promise((resolve) =>
      setTimeout(resolve, (error as { retryAfterMs: number }).retryAfterMs + 50),
    );
    expect((await behind.rotate("rt")).refreshToken).toBe("rt-next");
    expect(presented).toBe(2);
  }, 30_000);
});
