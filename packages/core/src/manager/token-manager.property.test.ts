/**
 * Property tests (fast-check) of the manager's invariants, on fake time with random operations,
 * latencies, lifetimes and failures.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createFakeTime } from "../../test/support/fake-time.js";
import { NetworkError } from "../errors/errors.js";
import { createMemoryStore } from "../memory-store/memory-store.js";
import { shareStore } from "../shared/index.js";
import { effectiveSkewMs } from "./skew.js";
import { createTokenManager } from "./token-manager.js";

const operation = fc.oneof(
  fc.record({ kind: fc.constant("get" as const), user: fc.integer({ min: 0, max: 5 }), force: fc.boolean() }),
  fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 90_000 }) }),
  fc.record({ kind: fc.constant("invalidate" as const), user: fc.integer({ min: 0, max: 5 }) }),
);

const answer = fc.record({
  lifetimeS: fc.integer({ min: 1, max: 600 }),
  latencyMs: fc.integer({ min: 0, max: 5_000 }),
  fails: fc.boolean(),
});

describe("token manager invariants", () => {
  it("never hands out a token the clock says is past expiresAt - skew; at most one creator call in flight per identity", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(operation, { minLength: 1, maxLength: 40 }),
        fc.infiniteStream(answer),
        fc.integer({ min: 0, max: 60_000 }),
        async (operations, answers, skewMs) => {
          const time = createFakeTime(undefined, { crypto: false });
          const lifetimes = new Map<string, number>();
          const inFlight = new Map<string, number>();
          let maxInFlight = 0;
          let n = 0;
          const violations: string[] = [];
          const manager = createTokenManager<{ user: string }>({
            skewMs,
            now: time.now,
            timers: time.timers,
            retry: { retries: 1, baseDelayMs: 10 },
            creator: async ({ identity }) => {
              const { lifetimeS, latencyMs, fails } = answers.next().value;
              const user = identity.user;
              const running = (inFlight.get(user) ?? 0) + 1;
              inFlight.set(user, running);
              maxInFlight = Math.max(maxInFlight, running);
              try {
                await new Promise<void>((resolve) => time.timers.setTimeout(resolve, latencyMs));
                if (fails) throw new NetworkError("connection reset");
                const token = `at-${++n}`;
                lifetimes.set(token, lifetimeS * 1000);
                return { access_token: token, expires_in: lifetimeS };
              } finally {
                inFlight.set(user, (inFlight.get(user) ?? 1) - 1);
              }
            },
          });
          const check = (set: { accessToken: string; expiresAt: number }) => {
            const lifetime = lifetimes.get(set.accessToken) ?? 0;
            const limit = set.expiresAt - effectiveSkewMs(lifetime, skewMs, 0.2);
            if (!(time.now() < limit))
              violations.push(`${set.accessToken} handed out at ${time.now()} >= ${limit}`);
          };
          const pending: Promise<unknown>[] = [];
          for (const op of operations) {
            if (op.kind === "advance") await time.advance(op.ms);
            else if (op.kind === "invalidate") {
              const current = manager.peek({ user: String(op.user) });
              if (current) await manager.invalidate(current, { identity: { user: String(op.user) } });
            } else {
              pending.push(
                manager
                  .getToken({ identity: { user: String(op.user) }, forceRefresh: op.force })
                  .then(check, () => {}),
              );
              const peeked = manager.peek({ user: String(op.user) });
              if (peeked) check(peeked);
            }
          }
          await time.advance(60_000);
          await Promise.all(pending);
          await manager.dispose();
          expect(violations).toEqual([]);
          expect(maxInFlight).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 300 },
    );
  }, 60_000);

  it("instances sharing a store never run two creator calls for one identity at once", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            instance: fc.integer({ min: 0, max: 2 }),
            user: fc.integer({ min: 0, max: 2 }),
            force: fc.boolean(),
            advanceMs: fc.integer({ min: 0, max: 30_000 }),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        fc.infiniteStream(answer),
        async (operations, answers) => {
          const time = createFakeTime();
          const store = createMemoryStore({ now: time.now });
          const inFlight = new Map<string, number>();
          let maxInFlight = 0;
          let n = 0;
          const managers = [0, 1, 2].map(() =>
            createTokenManager<{ user: string }>({
              shared: shareStore(store),
              now: time.now,
              timers: time.timers,
              retry: { retries: 1, baseDelayMs: 10 },
              creator: async ({ identity }) => {
                const { lifetimeS, latencyMs, fails } = answers.next().value;
                const running = (inFlight.get(identity.user) ?? 0) + 1;
                inFlight.set(identity.user, running);
                maxInFlight = Math.max(maxInFlight, running);
                try {
                  await new Promise<void>((resolve) => time.timers.setTimeout(resolve, latencyMs));
                  if (fails) throw new NetworkError("connection reset");
                  return { access_token: `at-${++n}`, expires_in: lifetimeS };
                } finally {
                  inFlight.set(identity.user, (inFlight.get(identity.user) ?? 1) - 1);
                }
              },
            }),
          );
          const pending: Promise<unknown>[] = [];
          for (const op of operations) {
            const identity = { user: String(op.user) };
            pending.push(
              managers[op.instance]!.getToken({ identity, forceRefresh: op.force }).catch(() => {}),
            );
            await time.advance(op.advanceMs);
          }
          await time.advance(60_000);
          await Promise.all(pending);
          await Promise.all(managers.map((manager) => manager.dispose()));
          expect(maxInFlight).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 100 },
    );
  }, 60_000);

  it("never holds more identities than maxEntries", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 200 }),
        async (maxEntries, users) => {
          const manager = createTokenManager<{ user: number }>({
            maxEntries,
            creator: async ({ identity }) => ({ access_token: `at-${identity.user}`, expires_in: 3600 }),
          });
          for (const user of users) {
            await manager.getToken({ identity: { user } });
            expect(manager.stats().entries).toBeLessThanOrEqual(maxEntries);
          }
          // The most recent identity is always still cached.
          expect(manager.peek({ user: users.at(-1)! })?.accessToken).toBe(`at-${users.at(-1)}`);
          await manager.dispose();
        },
      ),
      { numRuns: 100 },
    );
  });
});
