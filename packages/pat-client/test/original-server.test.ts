import { describe, expect, it } from "vitest";
import { mintSecret } from "../../../test/reliability/src/secret-registry.js";
import { PatAdminClient } from "../src/index";
import { type OriginalRecord, startOriginalLikeServer } from "./helpers/original-like-server";

/** The admin PAT the client sends (the server here takes any): minted and registered. */
const PAT = mintSecret("PAT", { prefix: `pat_${"A".repeat(21)}.` });

// Storage order, deliberately not sorted; the second and third are revoked.
const ids = ["Zq", "Ab", "Mm", "Cc", "Xy", "Bb", "Qq"].map((head) => head.padEnd(21, "0"));
const records: OriginalRecord[] = ids.map((tokenId, n) => ({
  tokenId,
  owner: `owner-${n}`,
  isAdmin: false,
  createdAt: 1_700_000_000,
  expiresAt: null,
  revokedAt: n === 2 || n === 3 ? 1_700_000_100 : null,
  ...(n % 2 === 0 ? { roles: ["r"] } : {}),
}));

describe("against a server answering like the original @access-tokens/express", () => {
  it("accepts absent and null optional fields and a charset in the media type", async () => {
    const server = await startOriginalLikeServer(records);
    await using client = new PatAdminClient({ endpoint: server.url, apiKey: PAT });
    const [first, second] = await client.list({ limit: 2 });
    expect(first).toMatchObject({ tokenId: ids[0], roles: ["r"], expiresAt: null, revokedAt: null });
    expect(first?.lastUsedAt).toBeUndefined();
    expect(second?.roles).toEqual([]);
  });

  it("listAll reads every record although the server sends no cursor and filters after its limit", async () => {
    const server = await startOriginalLikeServer(records);
    await using client = new PatAdminClient({ endpoint: server.url, apiKey: PAT });
    const seen: string[] = [];
    for await (const page of client.listAll({ limit: 3 })) seen.push(...page.map((record) => record.tokenId));
    expect(seen).toEqual([ids[0], ids[1], ids[4], ids[5], ids[6]]);
  });
});
