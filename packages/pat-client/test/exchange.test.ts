import { describe, expect, it } from "vitest";
import { expectOtherSecret, expectSameSecret } from "../../../test/reliability/src/secret-assert.js";
import { PatAdminClient } from "../src/index";
import { startFaultProxy } from "./helpers/fault-proxy";
import { startTestServer } from "./helpers/pat-server";

describe("the PAT-to-JWT exchange through core's token manager", () => {
  it("100 concurrent calls cause exactly one exchange", async () => {
    const server = await startTestServer();
    await using client = new PatAdminClient({ endpoint: server.url, apiKey: server.adminToken });
    const results = await Promise.all(Array.from({ length: 100 }, () => client.list()));
    expect(results.every((records) => records.length === 1)).toBe(true);
    expect(server.exchanges()).toBe(1);
    expect(server.requests.get("GET /admin/tokens")).toBe(100);
  });

  it("a JWT expiring mid-run causes one renewal and no failed call", async () => {
    const server = await startTestServer({ jwtLifetimeSeconds: 3 });
    await using client = new PatAdminClient({ endpoint: server.url, apiKey: server.adminToken });
    const started = Date.now();
    const failures: unknown[] = [];
    let calls = 0;
    // Five workers call without pause for 3.5 s: past the first JWT's expiry (3 s), before the second
    // one's renewal point (about 2 s + 2.25 s).
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        while (Date.now() - started < 3_500) {
          calls++;
          await client.list().catch((error: unknown) => failures.push(error));
        }
      }),
    );
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(20);
    expect(server.exchanges()).toBe(2);
  });

  it("a 401 for an expired JWT drops that JWT and replays the call once, for every caller together", async () => {
    const server = await startTestServer();
    await using client = new PatAdminClient({ endpoint: server.url, apiKey: server.adminToken });
    const before = await client.getAccessToken();
    await client.list();
    expect(server.exchanges()).toBe(1);

    // The server's clock jumps past the JWT's expiry; the client still believes it valid.
    server.advanceClock(2 * 3_600_000);
    const results = await Promise.all(Array.from({ length: 20 }, () => client.list()));
    expect(results).toHaveLength(20);
    expect(server.exchanges()).toBe(2);
    expect(server.requests.get("GET /admin/tokens")).toBe(1 + 20 + 20);
    expectOtherSecret((await client.getAccessToken()).accessToken, before.accessToken, "the renewed JWT");
  });

  it("a second 401 after the replay is returned, not replayed again", async () => {
    const server = await startTestServer({ recheckAdminTokens: true });
    const admin = await server.issue({ owner: "short", isAdmin: true });
    await using client = new PatAdminClient({ endpoint: server.url, apiKey: admin.token });
    await client.list();
    // Revoke the admin token behind the client's back: its JWT is refused (recheck), and so is the PAT.
    await server.store.revoke(admin.tokenId, { revokedAt: Math.floor(Date.now() / 1000) });
    const error = await client.list().catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 401, operation: "exchange" });
    expect(server.exchanges()).toBe(2);
    expect(server.requests.get("GET /admin/tokens")).toBe(2);
  });

  it("an API refusing every JWT: a 401 right after a renewal is returned, not replayed with that JWT", async () => {
    const server = await startTestServer();
    // The admin routes answer 401 to everything; the exchange works.
    const proxy = await startFaultProxy(server.url, ({ path }) =>
      path.startsWith("/admin/")
        ? { status: 401, headers: { "content-type": "application/json" }, body: '{"error":{"message":"no"}}' }
        : "pass",
    );
    await using client = new PatAdminClient({ endpoint: proxy.url, apiKey: server.adminToken });
    for (let call = 0; call < 3; call++) {
      expect(await client.list().catch((e: unknown) => e)).toMatchObject({ status: 401 });
    }
    // The first call: one request, its 401 drops the JWT, one replay with a new JWT. Within core's
    // unauthorizedCooldownMs that new JWT is kept: each later call sends one request, never a replay
    // with the JWT just refused.
    expect(server.exchanges()).toBe(2);
    expect(proxy.seen.get("GET /admin/tokens")).toBe(2 + 1 + 1);
  });

  it("getAccessToken returns the JWT the admin calls use, renewed only when needed", async () => {
    const server = await startTestServer();
    await using client = new PatAdminClient({ endpoint: server.url, apiKey: server.adminToken });
    const first = await client.getAccessToken();
    const second = await client.getAccessToken();
    expectSameSecret(second.accessToken, first.accessToken, "the cached JWT");
    expect(first.tokenType).toBe("Bearer");
    expect(first.expiresAt).toBeGreaterThan(Date.now() + 3_000_000);
    expect(server.exchanges()).toBe(1);
  });
});
