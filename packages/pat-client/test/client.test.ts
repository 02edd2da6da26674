import { parsePat } from "@tokenkeep/pat-protocol";
import { generateToken } from "@tokenkeep/pat-server";
import { describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { registerSecret } from "../../../test/reliability/src/secret-registry.js";
import { AccessTokensClient, PatAdminClient, type PatRecord } from "../src/index";
import { startTestServer } from "./helpers/pat-server";

const DAY = 86_400;
const nowSeconds = () => Math.floor(Date.now() / 1000);

async function setup() {
  const server = await startTestServer();
  const client = new PatAdminClient({ endpoint: server.url, apiKey: server.adminToken });
  return { server, client };
}

describe("PatAdminClient against a real pat-server on SQLite", () => {
  it("is exported as AccessTokensClient too, taking the original client's options", async () => {
    const server = await startTestServer();
    expect(AccessTokensClient).toBe(PatAdminClient);
    await using client = new AccessTokensClient({
      endpoint: `${server.url}/`,
      apiKey: server.adminToken,
      authPath: "/auth",
      adminPath: "/admin",
      fetch: (input, init) => fetch(input, init),
    });
    expect((await client.list()).map((record) => record.owner)).toEqual(["admin"]);
  });

  it("issues a token, returning it once with its record, and lists it", async () => {
    const { server, client } = await setup();
    const expiresAt = nowSeconds() + 30 * DAY;
    const { token, record } = await client.issue({
      owner: "ci@example.com",
      roles: ["deploy", "read"],
      expiresAt,
    });
    const parsed = parsePat(token);
    expect(parsed.ok && parsed.tokenId).toBe(record.tokenId);
    expect(record).toMatchObject({ owner: "ci@example.com", isAdmin: false, expiresAt });
    expect([...record.roles].sort()).toEqual(["deploy", "read"]);
    expect(record).not.toHaveProperty("secretPhc");
    const listed = await client.list();
    expect(listed.map((r) => r.tokenId)).toContain(record.tokenId);

    // The new token works on its own (and is no admin).
    await using user = new PatAdminClient({ endpoint: server.url, apiKey: token });
    expect((await user.getAccessToken()).accessToken.split(".")).toHaveLength(3);
  });

  it("lists with filters, limit, cursor and secret hashes", async () => {
    const { client } = await setup();
    const a = (await client.issue({ owner: "a", roles: ["ops"] })).record;
    const b = (await client.issue({ owner: "b" })).record;
    const c = (await client.issue({ owner: "c", expiresAt: nowSeconds() - 10 })).record;
    await client.revoke(b.tokenId);

    const ids = (records: PatRecord[]) => records.map((record) => record.tokenId);
    const active = await client.list();
    expect(ids(active)).toContain(a.tokenId);
    expect(ids(active)).not.toContain(b.tokenId);
    expect(ids(active)).not.toContain(c.tokenId);
    expect(ids(await client.list({ includeRevoked: true }))).toContain(b.tokenId);
    expect(ids(await client.list({ includeExpired: true }))).toContain(c.tokenId);
    expect(ids(await client.list({ hasRole: "ops" }))).toEqual([a.tokenId]);

    const all = await client.list({ includeRevoked: true, includeExpired: true });
    expect(all).toHaveLength(4);
    expect(ids(all)).toEqual([...ids(all)].sort());
    const first = await client.listPage({ includeRevoked: true, includeExpired: true, limit: 2 });
    expect(ids(first.records)).toEqual(ids(all).slice(0, 2));
    expect(first.nextAfterTokenId).toBe(all[1]!.tokenId);
    const rest = await client.list({
      includeRevoked: true,
      includeExpired: true,
      afterTokenId: first.nextAfterTokenId!,
    });
    expect(ids(rest)).toEqual(ids(all).slice(2));

    const [withHash] = await client.list({ includeSecretPhc: true, limit: 1 });
    expect(withHash?.secretPhc).toMatch(/^\$scrypt\$ln=\d+,r=8,p=1\$/);
  });

  it("registers a pre-generated token that can then be exchanged", async () => {
    const { server, client } = await setup();
    const generated = await generateToken({ scryptLog2Cost: 10 });
    const record = await client.register({
      tokenId: generated.tokenId,
      secretPhc: generated.secretPhc,
      owner: "robot",
      isAdmin: true,
      roles: ["x"],
    });
    expect(record).toMatchObject({ tokenId: generated.tokenId, owner: "robot", isAdmin: true, roles: ["x"] });
    await using robot = new PatAdminClient({ endpoint: server.url, apiKey: generated.token });
    expect((await robot.list()).map((r) => r.tokenId)).toContain(generated.tokenId);
  });

  it("updates owner, admin flag, roles (replace, add, remove) and expiry (set and remove)", async () => {
    const { client } = await setup();
    const { record } = await client.issue({ owner: "before", roles: ["a"] });
    const get = async () => (await client.batchGet([record.tokenId])).found[0]!;

    await client.update(record.tokenId, { owner: "after", isAdmin: true });
    expect(await get()).toMatchObject({ owner: "after", isAdmin: true });
    await client.update(record.tokenId, { roles: { add: ["b", "c"] } });
    expect([...(await get()).roles].sort()).toEqual(["a", "b", "c"]);
    await client.update(record.tokenId, { roles: { remove: ["a"] } });
    expect([...(await get()).roles].sort()).toEqual(["b", "c"]);
    await client.update(record.tokenId, { roles: ["z"] });
    expect((await get()).roles).toEqual(["z"]);
    const expiresAt = nowSeconds() + DAY;
    await client.update(record.tokenId, { expiresAt });
    expect((await get()).expiresAt).toBe(expiresAt);
    await client.update(record.tokenId, { expiresAt: null });
    expect((await get()).expiresAt ?? null).toBeNull();
  });

  it("revokes and restores, keeping an existing expiry, and sets one on revoke when asked", async () => {
    const { client } = await setup();
    const expiresAt = nowSeconds() + 10 * DAY;
    const { record } = await client.issue({ owner: "x", expiresAt });
    const get = async () => (await client.batchGet([record.tokenId])).found[0]!;

    await client.revoke(record.tokenId);
    expect((await get()).revokedAt).toEqual(expect.any(Number));
    expect((await get()).expiresAt).toBe(expiresAt);
    await client.revoke(record.tokenId); // idempotent
    await client.restore(record.tokenId);
    expect((await get()).revokedAt ?? null).toBeNull();
    expect((await get()).expiresAt).toBe(expiresAt);
    await client.restore(record.tokenId); // idempotent

    const cleanup = nowSeconds() + 30 * DAY;
    await client.revoke(record.tokenId, { expiresAt: cleanup });
    expect(await get()).toMatchObject({ expiresAt: cleanup, revokedAt: expect.any(Number) });
  });

  it("reads several tokens at once with batchGet", async () => {
    const { client } = await setup();
    const one = (await client.issue({ owner: "one" })).record;
    const two = (await client.issue({ owner: "two" })).record;
    const missing = "A".repeat(21);
    const result = await client.batchGet([one.tokenId, two.tokenId, missing], { includeSecretPhc: true });
    expect(result.found.map((r) => r.owner).sort()).toEqual(["one", "two"]);
    expect(result.found[0]?.secretPhc).toMatch(/^\$scrypt\$/);
    expect(result.notFound).toEqual([missing]);
  });

  it("reads several tokens at once with batchLoad, the original client's name and Set argument", async () => {
    const { server, client } = await setup();
    const one = (await client.issue({ owner: "one" })).record;
    const missing = "B".repeat(21);
    const result = await client.batchLoad(new Set([one.tokenId, missing]), { includeSecretPhc: true });
    expect(result.found.map((r) => r.owner)).toEqual(["one"]);
    expect(result.found[0]?.secretPhc).toMatch(/^\$scrypt\$/);
    expect(result.notFound).toEqual([missing]);
    expect((await client.batchLoad([one.tokenId])).found[0]).not.toHaveProperty("secretPhc");
    // Its errors read as the original's ("Failed to batch load tokens").
    const tooMany = new Set(Array.from({ length: 1001 }, (_, n) => String(n).padStart(21, "0")));
    const failed = await client.batchLoad(tooMany).catch((error: unknown) => error);
    expect(failed).toMatchObject({ status: 400, operation: "batchLoad" });
    expect((failed as Error).message).toMatch(/^Failed to batch load tokens: 400/);
    expect([...server.requests.keys()].some((key) => key.includes("/admin/tokens/batch"))).toBe(true);
  });

  it("refuses anything but a token id where one belongs (a pasted PAT, a path), before sending, never repeating it", async () => {
    const { server, client } = await setup();
    const pat = "pat_ABCDEFGHIJKLMNOPQRSTU.c2VjcmV0LXNlY3JldC1zZWNyZXQ=";
    const tokenRoutes = () => [...server.requests.keys()].filter((key) => key.includes("/admin/tokens/"));
    const before = tokenRoutes();
    for (const call of [
      () => client.revoke(pat),
      () => client.restore(pat),
      () => client.update(pat, { owner: "x" }),
      () => client.register({ tokenId: pat, owner: "x", secretPhc: "$scrypt$x" } as never),
      () => client.revoke("../tokens/x?y#z"),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TypeError);
      expect(error).toMatchObject({ code: "ERR_TOKENKEEP_INVALID_ARGUMENT" });
      expectNoSecretIn(String((error as Error).message), /c2Vj/, "the error's message");
      expectNoSecretIn(JSON.stringify(error), /c2Vj/, "the error's JSON");
    }
    expect(tokenRoutes()).toEqual(before);
  });

  it("sends the PAT to the exchange route only, and the JWT to the admin routes", async () => {
    const server = await startTestServer();
    const seen: { url: string; text: string }[] = [];
    const recording: typeof fetch = async (input, init) => {
      const request = new Request(input, init);
      const body = request.body ? await request.clone().text() : "";
      // The form body is URL-encoded: look for the PAT in its decoded values too.
      const decoded = [...new URLSearchParams(body).values()].join(" ");
      seen.push({ url: request.url, text: `${[...request.headers].join(" ")} ${body} ${decoded}` });
      return fetch(request);
    };
    await using client = new PatAdminClient({
      endpoint: server.url,
      apiKey: server.adminToken,
      fetch: recording,
    });
    await client.issue({ owner: "o" });
    await client.list();
    const { accessToken } = await client.getAccessToken();
    const withPat = seen.filter((request) => request.text.includes(server.adminToken));
    expect(withPat.map((request) => new URL(request.url).pathname)).toEqual(["/auth/token"]);
    const admin = seen.filter((request) => new URL(request.url).pathname.startsWith("/admin/"));
    expect(admin).toHaveLength(2);
    for (const request of admin) expect(request.text).toContain(`Bearer ${accessToken}`);
  });

  it("rejects invalid options with a TypeError that never echoes the PAT", () => {
    const attempt = () =>
      new PatAdminClient({
        endpoint: "ftp://x",
        apiKey: registerSecret("pat_secret-value-123", "PAT"),
        timeoutMs: -1,
      });
    expect(attempt).toThrow(TypeError);
    try {
      attempt();
    } catch (error) {
      expect((error as { code?: string }).code).toBe("ERR_TOKENKEEP_INVALID_OPTIONS");
      expect((error as Error).cause).toEqual(
        expect.arrayContaining([expect.stringMatching(/^endpoint: /), expect.stringMatching(/^timeoutMs: /)]),
      );
      expectNoSecretIn(`${(error as Error).message}`, "secret-value", "the error's message");
    }
  });

  it("refuses an endpoint with a user or password, a query or a fragment, without echoing it", async () => {
    // fetch refuses a URL with credentials, and its error quoted the URL, password and all.
    for (const endpoint of [
      "https://ops:hunter2secret@api.example.com",
      "https://api.example.com/?key=hunter2secret",
      "https://api.example.com/#hunter2secret",
    ]) {
      const error = (() => {
        try {
          new PatAdminClient({ endpoint, apiKey: "pat_x" });
        } catch (thrown) {
          return thrown as TypeError & { code?: string };
        }
      })();
      expect(error?.code, endpoint).toBe("ERR_TOKENKEEP_INVALID_OPTIONS");
      expect(error?.cause).toEqual([expect.stringMatching(/^endpoint: /)]);
      expect(`${error?.message} ${String(error?.cause)}`).not.toContain("hunter2secret");
    }
  });
});
