import { decodeJwt } from "jose";
import { describe, expect, it, onTestFinished } from "vitest";
import type { PatErrorState, PatHandlerOptions } from "../src/handler-options";
import { createMemoryStore } from "../src/memory-store";
import { createPatHandler, type PatHandler } from "../src/pat-handler";
import type { PatStore } from "../src/store";
import { generateToken } from "../src/token-generator";
import { issueToken } from "../src/token-service";

const fast = { scryptLog2Cost: 10 } as const;

/** Resolvers waiting for the store to be asked for a token id. */
const lookups = new Map<string, () => void>();

/** A handler on a memory store; exchanges are called directly, the way a host calls it. */
function setup(options: Omit<PatHandlerOptions, "store"> = {}): { handler: PatHandler; store: PatStore } {
  const memory = createMemoryStore();
  // The same store, telling the test when an id is looked up (the step right before scrypt).
  const store: PatStore = {
    ...memory,
    get: (tokenId) => {
      lookups.get(tokenId)?.();
      return memory.get(tokenId);
    },
  };
  const handler = createPatHandler({ ...fast, lastUsedFlushMs: 0, ...options, store });
  onTestFinished(() => handler.close());
  return { handler, store };
}

function exchange(handler: PatHandler, pat: string, clientAddress?: string): Promise<Response> {
  return handler(
    new Request("http://pat.test/auth/token", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ client_secret: pat }),
    }),
    { clientAddress },
  );
}

/** A well-formed PAT whose id no store holds. */
const unknownPat = `pat_${"U".repeat(21)}.${"A".repeat(43)}=`;

/**
 * Occupies one verification slot for a few hundred milliseconds: the handler's own scrypt cost is 16,
 * so the unmatchable PHC an unknown id verifies against is slow, while issued tokens use cost 10.
 * Resolves once the blocking exchange is inside scrypt, with its answer.
 */
async function occupySlot(handler: PatHandler): Promise<{ answer: Promise<Response> }> {
  const looked = new Promise<void>((resolve) => lookups.set("U".repeat(21), resolve));
  const blocker = exchange(handler, unknownPat, "198.51.100.99");
  await looked;
  lookups.delete("U".repeat(21));
  // From the lookup to scrypt only promise callbacks run: one macrotask turn lets them all through.
  await new Promise<void>((resolve) => setImmediate(resolve));
  return { answer: blocker }; // wrapped: awaiting occupySlot must not await the answer
}

describe("rate limit keys", () => {
  it("limits IPv6 clients per /64, and an IPv4-mapped address as its IPv4 address", async () => {
    const { handler } = setup({ rateLimit: { maxRequests: 1, windowMs: 60_000 } });
    const status = async (address: string) => (await exchange(handler, "pat_x", address)).status;
    expect(await status("2001:db8:1:2::1")).toBe(401);
    expect(await status("2001:db8:1:2:ffff:ffff:ffff:ffff")).toBe(429); // same /64
    expect(await status("2001:db8:1:3::1")).toBe(401); // the next /64
    expect(await status("192.0.2.7")).toBe(401);
    expect(await status("::ffff:192.0.2.7")).toBe(429);
  });

  it("refuses exchanges when no client address can be learned, unless rate limiting is off", async () => {
    const errors: PatErrorState[] = [];
    const { handler } = setup({ onError: (state) => errors.push(state) });
    const refused = await exchange(handler, "pat_x");
    expect(refused.status).toBe(500);
    expect(errors).toHaveLength(1);
    expect(String((errors[0]!.error as Error).message)).toMatch(
      /clientAddress.*getClientAddress.*rateLimit: false/,
    );
    expect(errors[0]!.error).toMatchObject({ code: "ERR_PAT_NO_CLIENT_ADDRESS" });
    // Before: every such client shared one "unknown" bucket, so the second one was limited.
    const off = setup({ rateLimit: false }).handler;
    expect((await exchange(off, "pat_x")).status).toBe(401);
  });

  it("falls back to the host's address when getClientAddress finds none", async () => {
    const { handler } = setup({
      rateLimit: { maxRequests: 1, windowMs: 60_000 },
      getClientAddress: (request) => request.headers.get("x-client") ?? undefined,
    });
    expect((await exchange(handler, "pat_x", "203.0.113.5")).status).toBe(401);
    expect((await exchange(handler, "pat_x", "203.0.113.5")).status).toBe(429);
  });
});

describe("the scrypt queue", () => {
  it("is bounded: one exchange too many answers 503 with Retry-After", async () => {
    const { handler, store } = setup({ scryptLog2Cost: 16, maxPendingVerifications: 1, rateLimit: false });
    const { token } = (await issueToken(store, { owner: "o" }, fast))!;
    const blocker = (await occupySlot(handler)).answer;
    const busy = await exchange(handler, token);
    expect(busy.status).toBe(503);
    expect(busy.headers.get("retry-after")).toBe("1");
    expect(await busy.json()).toMatchObject({ error: { code: "ERR_BUSY" } });
    expect((await blocker).status).toBe(401);
    expect((await exchange(handler, token)).status).toBe(200);
  });

  it("makes an unknown token id pay one verification, like a wrong secret", async () => {
    const { handler } = setup({ scryptLog2Cost: 16, maxPendingVerifications: 1, rateLimit: false });
    const blocker = (await occupySlot(handler)).answer;
    // The slot is taken by the first unknown id: a second one needs scrypt too, so it is turned away.
    // (Before, an unknown id answered 401 at once, faster than any real token.)
    expect((await exchange(handler, `pat_${"V".repeat(21)}.${"A".repeat(43)}=`)).status).toBe(503);
    expect((await blocker).status).toBe(401);
  });
});

describe("timing does not tell an unknown id from a wrong secret", () => {
  it("makes the same store calls for both, in bootstrap mode with an admin already active", async () => {
    const memory = createMemoryStore();
    const calls: string[] = [];
    const store = new Proxy(memory, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        return typeof value === "function"
          ? (...args: unknown[]) => {
              calls.push(String(name));
              return value.apply(target, args);
            }
          : value;
      },
    }) as PatStore;
    const bootstrap = await generateToken(fast);
    const handler = createPatHandler({
      ...fast,
      lastUsedFlushMs: 0,
      rateLimit: false,
      store,
      bootstrapSecretPhc: bootstrap.secretPhc,
    });
    onTestFinished(() => handler.close());
    const { token } = (await issueToken(store, { owner: "admin", isAdmin: true }, fast))!;
    const wrongSecret = `${token.slice(0, -4)}AAA=`;
    calls.length = 0;
    expect((await exchange(handler, wrongSecret)).status).toBe(401);
    const known = [...calls];
    calls.length = 0;
    expect((await exchange(handler, unknownPat)).status).toBe(401);
    expect(calls).toEqual(known);
  });
});

describe("the verifier cache of returning clients", () => {
  it("serves a returning client without scrypt, even while the queue is full", async () => {
    const { handler, store } = setup({ scryptLog2Cost: 16, maxPendingVerifications: 1, rateLimit: false });
    const { token } = (await issueToken(store, { owner: "o" }, fast))!;
    const other = (await issueToken(store, { owner: "p" }, fast))!.token;
    expect((await exchange(handler, token)).status).toBe(200); // first exchange: scrypt
    const blocker = (await occupySlot(handler)).answer;
    expect((await exchange(handler, token)).status).toBe(200); // returning: no scrypt needed
    expect((await exchange(handler, other)).status).toBe(503); // first time: needs the queue
    const wrong = `${token.slice(0, -4)}AAA=`;
    expect((await exchange(handler, wrong)).status).toBe(503); // a wrong secret always pays scrypt
    await blocker;
  });

  it("refuses a rotated secret and a revoked or expired token at once", async () => {
    let now = 1_800_000_000_000;
    const { handler, store } = setup({ rateLimit: false, now: () => now });
    const { token, record } = (await issueToken(store, { owner: "o" }, { ...fast, now: () => now }))!;
    expect((await exchange(handler, token)).status).toBe(200);
    expect((await exchange(handler, token)).status).toBe(200); // cached now

    await store.revoke(record.tokenId, { revokedAt: now / 1000 });
    expect((await exchange(handler, token)).status).toBe(401);
    await store.restore(record.tokenId);
    expect((await exchange(handler, token)).status).toBe(200);

    await store.update(record.tokenId, { expiresAt: Math.floor(now / 1000) });
    expect((await exchange(handler, token)).status).toBe(401);
    await store.update(record.tokenId, { expiresAt: null });
    expect((await exchange(handler, token)).status).toBe(200);

    const rotated = await generateToken({ tokenId: record.tokenId, ...fast });
    await store.update(record.tokenId, { secretPhc: rotated.secretPhc });
    expect((await exchange(handler, token)).status).toBe(401);
    expect((await exchange(handler, rotated.token)).status).toBe(200);
    now += 1;
  });

  it("forgets a verification after ttlMs, and can be turned off", async () => {
    let now = 1_800_000_000_000;
    const options = {
      scryptLog2Cost: 16,
      maxPendingVerifications: 1,
      rateLimit: false,
      now: () => now,
    } as const;
    const { handler, store } = setup({ ...options, verifierCache: { ttlMs: 60_000 } });
    const { token } = (await issueToken(store, { owner: "o" }, fast))!;
    expect((await exchange(handler, token)).status).toBe(200);
    now += 60_000;
    const blocker = (await occupySlot(handler)).answer;
    expect((await exchange(handler, token)).status).toBe(503); // expired entry: scrypt again
    await blocker;

    const uncached = setup({ ...options, verifierCache: false });
    const issued = (await issueToken(uncached.store, { owner: "o" }, fast))!;
    expect((await exchange(uncached.handler, issued.token)).status).toBe(200);
    const second = (await occupySlot(uncached.handler)).answer;
    expect((await exchange(uncached.handler, issued.token)).status).toBe(503);
    await second;
  });
});

/** The claims of a JWT (no verification: the handler signed it in this test). */
const claimsOf = (jwt: string) => decodeJwt(jwt);

describe("the JWT an exchange issues", () => {
  it("never outlives its token: exp is the token's expiry when that comes first", async () => {
    const now = 1_800_000_000_000;
    const nowSeconds = now / 1000;
    const { handler, store } = setup({ rateLimit: false, now: () => now, jwtLifetimeSeconds: 3600 });
    const issue = async (expiresAt?: number) =>
      (await issueToken(
        store,
        { owner: "o", ...(expiresAt && { expiresAt }) },
        { ...fast, now: () => now },
      ))!;
    for (const [expiresAt, expected] of [
      [nowSeconds + 60, 60],
      [nowSeconds + 1, 1],
      [nowSeconds + 3599, 3599],
      [nowSeconds + 3601, 3600],
      [undefined, 3600],
    ] as const) {
      const { token } = await issue(expiresAt);
      const answer = await exchange(handler, token);
      expect(answer.status).toBe(200);
      const body = (await answer.json()) as { access_token: string; expires_in: number };
      expect(body.expires_in, `expiresAt ${expiresAt}`).toBe(expected);
      expect(claimsOf(body.access_token).exp).toBe(nowSeconds + expected);
      // Returning clients (verifier cache) get the same clamp.
      const again = (await (await exchange(handler, token)).json()) as { expires_in: number };
      expect(again.expires_in).toBe(expected);
    }
  });
});

describe("a change that lands while the verification runs", () => {
  /**
   * A memory store that applies `change` right after the exchange's first read of `tokenId`: the
   * exchange holds the copy read before the change while it verifies the secret, as when a
   * revocation lands during a queued scrypt run.
   */
  function changedDuringVerification(change: (store: PatStore, tokenId: string) => Promise<unknown>) {
    const memory = createMemoryStore();
    let armed: string | undefined;
    const store: PatStore = {
      ...memory,
      get: async (tokenId) => {
        const record = await memory.get(tokenId);
        if (tokenId === armed) {
          armed = undefined;
          await change(memory, tokenId);
        }
        return record;
      },
    };
    const handler = createPatHandler({ ...fast, lastUsedFlushMs: 0, rateLimit: false, store });
    onTestFinished(() => handler.close());
    return {
      handler,
      issue: async (input: { owner: string; isAdmin?: boolean }) => {
        const issued = (await issueToken(memory, input, fast))!;
        armed = issued.record.tokenId;
        return issued.token;
      },
    };
  }

  it("refuses a token revoked meanwhile, with the same 401 as any bad PAT", async () => {
    const { handler, issue } = changedDuringVerification((store, id) =>
      store.revoke(id, { revokedAt: Math.floor(Date.now() / 1000) }),
    );
    const answer = await exchange(handler, await issue({ owner: "o" }));
    expect(answer.status).toBe(401);
    expect(await answer.json()).toEqual({ error: { message: "Invalid Authorization token" } });
  });

  it("refuses a token whose secret was rotated or that expired meanwhile", async () => {
    const rotated = changedDuringVerification(async (store, id) => {
      await store.update(id, { secretPhc: (await generateToken({ tokenId: id, ...fast })).secretPhc });
    });
    expect((await exchange(rotated.handler, await rotated.issue({ owner: "o" }))).status).toBe(401);
    const expired = changedDuringVerification((store, id) => store.update(id, { expiresAt: 1 }));
    expect((await exchange(expired.handler, await expired.issue({ owner: "o" }))).status).toBe(401);
  });

  it("signs what the store holds after the verification (a demotion meanwhile is in the JWT)", async () => {
    const { handler, issue } = changedDuringVerification((store, id) => store.update(id, { isAdmin: false }));
    const answer = await exchange(handler, await issue({ owner: "o", isAdmin: true }));
    expect(answer.status).toBe(200);
    const { access_token } = (await answer.json()) as { access_token: string };
    expect(claimsOf(access_token)).toMatchObject({ admin: false });
  });
});
