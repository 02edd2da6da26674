import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { generateToken, generateTokenId } from "@tokenkeep/pat-server";
import { describe, expect, it, onTestFinished } from "vitest";
import { PatAdminClient } from "../src/index";
import { startTestServer } from "./helpers/pat-server";

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

  it("fails when a server's cursor comes back to an earlier one, instead of walking in a circle", async () => {
    // A broken server: its cursor goes A -> B -> A -> B ... and a page never ends the walk.
    const ids = ["AAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBB"];
    let pages = 0;
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/json" });
      if (req.url?.startsWith("/auth/token")) {
        res.end(JSON.stringify({ access_token: "h.p.s", token_type: "Bearer", expires_in: 3600 }));
        return;
      }
      const id = ids[pages++ % 2]!;
      const record = { tokenId: id, owner: "o", isAdmin: false, roles: [], createdAt: 1 };
      res.end(JSON.stringify({ records: [record], nextAfterTokenId: id }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await using client = new PatAdminClient({ endpoint: url, apiKey: "pat_x", retry: false });
    const walk = async () => {
      for await (const _ of client.listAll()) if (pages > 10) throw new Error("still walking after 10 pages");
    };
    await expect(walk()).rejects.toMatchObject({
      code: "ERR_PAT_CLIENT_INVALID_RESPONSE",
      operation: "list",
      cause: ["nextAfterTokenId: a cursor of an earlier page; the pages would never end"],
    });
    expect(pages).toBe(3);
  });
});
