import { createServer } from "node:http";
import { generateToken, generateTokenId } from "@tokenkeep/pat-server";
import { describe, expect, it } from "vitest";
import { runCli } from "../src/cli/program";
import { PatAdminClient } from "../src/index";
import { listenForTest } from "./helpers/listen";
import { startTestServer } from "./helpers/pat-server";

/**
 * A server that exchanges any PAT and answers the n-th list request (from 1) with `pageOf(n)`: for
 * the broken cursors a walk must survive.
 */
async function startPagingServer(
  pageOf: (n: number) => { records: unknown[]; nextAfterTokenId: string | null },
) {
  let pages = 0;
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "application/json" });
    if (req.url?.startsWith("/auth/token")) {
      res.end(JSON.stringify({ access_token: "h.p.s", token_type: "Bearer", expires_in: 3600 }));
      return;
    }
    res.end(JSON.stringify(pageOf(++pages)));
  });
  const url = await listenForTest(server);
  return { url, pages: () => pages };
}

const recordOf = (tokenId: string) => ({ tokenId, owner: "o", isAdmin: false, roles: [], createdAt: 1 });

/**
 * A broken (or hostile) server whose cursor is new on every page, so no cursor ever comes back: each
 * page holds `perPage` records (0 for empty pages). After `giveUpAfter` pages it sends no cursor, so a
 * walk without a bound ends there instead of running for ever.
 */
function startInventingServer(perPage: number, giveUpAfter = 5_000) {
  return startPagingServer((n) => ({
    records: Array.from({ length: perPage }, () => recordOf(generateTokenId())),
    nextAfterTokenId: n >= giveUpAfter ? null : generateTokenId(),
  }));
}

describe("listAll", () => {
  it("walks 2,500 tokens page by page, in tokenId order, each exactly once", async () => {
    const server = await startTestServer();
    // Registering records in the store directly with one precomputed hash: 2,500 scrypt runs through
    // the issue route would measure scrypt, not paging.
    const { secretPhc } = await generateToken({ scryptLog2Cost: 10 });
    const createdAt = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 2_500; i++) {
      await server.store.insert({
        tokenId: generateTokenId(),
        secretPhc,
        owner: `owner-${i}`,
        isAdmin: false,
        roles: i % 2 === 0 ? ["even"] : [],
        createdAt,
        lastUsedAt: null,
        expiresAt: null,
        revokedAt: i % 10 === 0 ? createdAt : null,
      });
    }
    await using client = new PatAdminClient({ endpoint: server.url, apiKey: server.adminToken });

    const sizes: number[] = [];
    const ids: string[] = [];
    for await (const page of client.listAll({ includeRevoked: true })) {
      sizes.push(page.length);
      ids.push(...page.map((record) => record.tokenId));
    }
    expect(sizes).toEqual([1000, 1000, 501]);
    expect(new Set(ids).size).toBe(2_501);
    expect(ids).toEqual([...ids].sort());

    // Filters apply before the page size: 250 revoked tokens are left out, pages of 700.
    const active: number[] = [];
    for await (const page of client.listAll({ limit: 700 })) active.push(page.length);
    expect(active).toEqual([700, 700, 700, 151]);

    let even = 0;
    for await (const page of client.listAll({ hasRole: "even", includeRevoked: true })) even += page.length;
    expect(even).toBe(1_250);
  });

  it("yields nothing for an empty result", async () => {
    const server = await startTestServer();
    await using client = new PatAdminClient({ endpoint: server.url, apiKey: server.adminToken });
    const pages = [];
    for await (const page of client.listAll({ hasRole: "nobody" })) pages.push(page);
    expect(pages).toEqual([]);
  });

  it("stops after maxPages pages (default 1000) with an error naming the limit, against new cursors for ever", async () => {
    for (const perPage of [1, 0]) {
      const server = await startInventingServer(perPage);
      await using client = new PatAdminClient({ endpoint: server.url, apiKey: "pat_x", retry: false });
      let yielded = 0;
      const walk = async (options = {}) => {
        for await (const page of client.listAll(options)) yielded += page.length;
      };
      await expect(walk()).rejects.toMatchObject({
        code: "ERR_PAT_CLIENT_PAGE_LIMIT",
        operation: "list",
        transient: false,
        message: expect.stringContaining("stopped after 1000 pages (maxPages)"),
      });
      expect(server.pages()).toBe(1000);
      expect(yielded).toBe(1000 * perPage);
      // Raised (or lowered) by the caller.
      await expect(walk({ maxPages: 1500 })).rejects.toMatchObject({
        code: "ERR_PAT_CLIENT_PAGE_LIMIT",
        message: expect.stringContaining("stopped after 1500 pages (maxPages)"),
      });
      expect(server.pages()).toBe(2500);
    }
  });

  it("refuses a maxPages that is not a positive integer, before sending anything", async () => {
    const server = await startInventingServer(1);
    await using client = new PatAdminClient({ endpoint: server.url, apiKey: "pat_x", retry: false });
    for (const maxPages of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "10"]) {
      const walk = async () => {
        for await (const _ of client.listAll({ maxPages } as never)) break;
      };
      await expect(walk(), String(maxPages)).rejects.toMatchObject({
        name: "TypeError",
        code: "ERR_TOKENKEEP_INVALID_OPTIONS",
      });
    }
    expect(server.pages()).toBe(0);
  });

  it("tokenkeep-pat list --all stops at --max-pages and says how to raise it", async () => {
    const server = await startInventingServer(2);
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (text: string) => out.push(text), stderr: (text: string) => err.push(text) };
    const token = `pat_${"A".repeat(21)}.${"B".repeat(43)}=`;
    const global = ["--endpoint", server.url, "--token", token, "--retries", "0"];
    const code = await runCli([...global, "list", "--all", "--max-pages", "3"], io);
    expect(code).toBe(1);
    expect(server.pages()).toBe(3);
    expect(err.join("")).toContain("stopped after 3 pages (maxPages)");
    expect(err.join("")).toContain("--max-pages");
    expect(await runCli([...global, "list", "--all", "--max-pages", "0"], io)).toBe(2);
    expect(await runCli([...global, "list", "--max-pages", "3"], io)).toBe(2); // only with --all
    expect(server.pages()).toBe(3);
  });

  it("fails when a server's cursor comes back to an earlier one, instead of walking in a circle", async () => {
    // A broken server: its cursor goes A -> B -> A -> B ... and a page never ends the walk.
    const ids = ["AAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBB"];
    const { url, pages } = await startPagingServer((n) => {
      const id = ids[(n - 1) % 2]!;
      return { records: [recordOf(id)], nextAfterTokenId: id };
    });
    await using client = new PatAdminClient({ endpoint: url, apiKey: "pat_x", retry: false });
    const walk = async () => {
      for await (const _ of client.listAll())
        if (pages() > 10) throw new Error("still walking after 10 pages");
    };
    await expect(walk()).rejects.toMatchObject({
      code: "ERR_PAT_CLIENT_INVALID_RESPONSE",
      operation: "list",
      cause: ["nextAfterTokenId: a cursor of an earlier page; the pages would never end"],
    });
    expect(pages()).toBe(3);
  });
});
