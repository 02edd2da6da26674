import { MAX_ROLES_COUNT } from "@tokenkeep/pat-protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { type StoreKind, snapshot, startTestServer, storeKindsFor, type TestServer } from "./helpers/server";

/** One bad request: what to send, and the 4xx it must get. */
interface BadCase {
  name: string;
  status: number;
  send(s: TestServer, ids: { existing: string; full: string; existingToken: string }): Promise<Response>;
}

const json = { "content-type": "application/json" };
const raw = (s: TestServer, path: string, init: RequestInit) => s.admin(path, init);
const exchangeWith = (s: TestServer, init: RequestInit) =>
  fetch(`${s.url}/auth/token`, { method: "POST", ...init });
const secretOf = (token: string) => token.slice(token.indexOf(".") + 1);
const idOf = (token: string) => token.slice(4, token.indexOf("."));
const VALID_PHC = "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
const NEW_ID = "NewIdNewIdNewIdNewId0";

const cases: BadCase[] = [
  // The exchange: every malformed PAT is the same 401.
  {
    name: "oversized token",
    status: 401,
    send: (s, i) =>
      exchangeWith(s, { headers: { authorization: `Bearer ${i.existingToken}${"A".repeat(140)}` } }),
  },
  {
    name: "PAT without a dot",
    status: 401,
    send: (s, i) =>
      exchangeWith(s, { headers: { authorization: `Bearer ${i.existingToken.replace(".", "")}` } }),
  },
  {
    name: "PAT with two dots",
    status: 401,
    send: (s, i) => exchangeWith(s, { headers: { authorization: `Bearer ${i.existingToken}.x` } }),
  },
  {
    name: "wrong prefix",
    status: 401,
    send: (s, i) => exchangeWith(s, { headers: { authorization: `Bearer ghp_${i.existingToken.slice(4)}` } }),
  },
  {
    name: "bad base64 (characters the original let through)",
    status: 401,
    send: (s, i) =>
      exchangeWith(s, {
        headers: { authorization: `Bearer pat_${idOf(i.existingToken)}.${",.:<@[\\".repeat(6)}A=` },
      }),
  },
  {
    name: "url-safe base64 secret",
    status: 401,
    send: (s, i) =>
      exchangeWith(s, {
        headers: {
          authorization: `Bearer pat_${idOf(i.existingToken)}.${secretOf(i.existingToken).replaceAll("+", "-").replaceAll("/", "_").replace(/^./, "-")}`,
        },
      }),
  },
  {
    name: "odd characters in the PAT id",
    status: 401,
    send: (s, i) =>
      exchangeWith(s, {
        headers: { authorization: `Bearer pat_${"../".repeat(7)}.${secretOf(i.existingToken)}` },
      }),
  },
  {
    name: "exchange body that is not JSON",
    status: 400,
    send: (s) => exchangeWith(s, { headers: json, body: "{client_secret:" }),
  },
  {
    name: "exchange body as text/plain",
    status: 415,
    send: (s, i) => exchangeWith(s, { headers: { "content-type": "text/plain" }, body: i.existingToken }),
  },
  {
    name: "exchange body too large",
    status: 413,
    send: (s) => exchangeWith(s, { headers: json, body: JSON.stringify({ state: "x".repeat(70_000) }) }),
  },
  {
    name: "exchange client_secret of the wrong type",
    status: 400,
    send: (s) => exchangeWith(s, { headers: json, body: JSON.stringify({ client_secret: 42 }) }),
  },
  {
    name: "exchange with another grant_type",
    status: 400,
    send: (s, i) =>
      exchangeWith(s, {
        headers: json,
        body: JSON.stringify({ grant_type: "password", client_secret: i.existingToken }),
      }),
  },

  // Issue.
  {
    name: "issue with an unknown field",
    status: 400,
    send: (s) => s.admin("/admin/tokens", { method: "POST", json: { owner: "o", scope: "all" } }),
  },
  {
    name: "issue with an empty owner",
    status: 400,
    send: (s) => s.admin("/admin/tokens", { method: "POST", json: { owner: "" } }),
  },
  {
    name: "issue with a negative expiresAt",
    status: 400,
    send: (s) => s.admin("/admin/tokens", { method: "POST", json: { owner: "o", expiresAt: -5 } }),
  },
  {
    name: "issue with a fractional expiresAt",
    status: 400,
    send: (s) => s.admin("/admin/tokens", { method: "POST", json: { owner: "o", expiresAt: 1.5 } }),
  },
  {
    name: "issue with expiresAt as a string",
    status: 400,
    send: (s) => s.admin("/admin/tokens", { method: "POST", json: { owner: "o", expiresAt: "2030" } }),
  },
  {
    name: "issue with an odd tokenId",
    status: 400,
    send: (s) =>
      s.admin("/admin/tokens", { method: "POST", json: { owner: "o", tokenId: "../../etc/passwd00000" } }),
  },
  {
    name: "issue with a duplicate tokenId",
    status: 409,
    send: (s, i) => s.admin("/admin/tokens", { method: "POST", json: { owner: "o", tokenId: i.existing } }),
  },
  {
    name: "issue with too many roles",
    status: 400,
    send: (s) =>
      s.admin("/admin/tokens", {
        method: "POST",
        json: { owner: "o", roles: Array.from({ length: MAX_ROLES_COUNT + 1 }, (_, n) => `r${n}`) },
      }),
  },
  {
    name: "issue with an empty role",
    status: 400,
    send: (s) => s.admin("/admin/tokens", { method: "POST", json: { owner: "o", roles: [""] } }),
  },
  // NUL (`\u0000`): PostgreSQL's text cannot hold it, so both stores refuse it up front.
  ...(
    [
      ["issue with a NUL in the owner", "POST", "/admin/tokens", { owner: "a\u0000b" }],
      ["issue with a NUL in a role", "POST", "/admin/tokens", { owner: "o", roles: ["ok", "\u0000"] }],
      [
        "register with a NUL in the owner",
        "PUT",
        `/admin/tokens/${NEW_ID}`,
        { secretPhc: VALID_PHC, owner: "\u0000" },
      ],
      ["update with a NUL in the owner", "PATCH", "/admin/tokens/:existing", { owner: "x\u0000" }],
      [
        "update adding a role with a NUL",
        "PATCH",
        "/admin/tokens/:existing",
        { roles: { add: ["r\u0000"] } },
      ],
      // An unpaired surrogate (JSON's `\ud800`): UTF-8 cannot carry it, so a store would keep U+FFFD.
      ["issue with an unpaired surrogate in the owner", "POST", "/admin/tokens", { owner: "ops\ud800" }],
      [
        "issue with an unpaired surrogate in a role",
        "POST",
        "/admin/tokens",
        { owner: "o", roles: ["\udc00"] },
      ],
      [
        "register with an unpaired surrogate in the owner",
        "PUT",
        `/admin/tokens/${NEW_ID}`,
        { secretPhc: VALID_PHC, owner: "\udbff" },
      ],
      [
        "update with an unpaired surrogate in the owner",
        "PATCH",
        "/admin/tokens/:existing",
        { owner: "\ud83d" },
      ],
      [
        "update adding a role with an unpaired surrogate",
        "PATCH",
        "/admin/tokens/:existing",
        { roles: { add: ["r\ud800"] } },
      ],
    ] as const
  ).map(
    ([name, method, path, body]): BadCase => ({
      name,
      status: 400,
      send: (s, i) => s.admin(path.replace(":existing", i.existing), { method, json: body }),
    }),
  ),
  {
    name: "issue with a non-JSON body",
    status: 400,
    send: (s) => raw(s, "/admin/tokens", { method: "POST", headers: json, body: "owner=o" }),
  },
  {
    name: "issue with a JSON array",
    status: 400,
    send: (s) => s.admin("/admin/tokens", { method: "POST", json: [{ owner: "o" }] }),
  },
  {
    name: "issue with JSON null",
    status: 400,
    send: (s) => s.admin("/admin/tokens", { method: "POST", json: null }),
  },
  {
    name: "issue as form data",
    status: 415,
    send: (s) =>
      raw(s, "/admin/tokens", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "owner=o",
      }),
  },
  { name: "issue without a body", status: 400, send: (s) => raw(s, "/admin/tokens", { method: "POST" }) },
  {
    name: "issue with a body too large",
    status: 413,
    send: (s) => s.admin("/admin/tokens", { method: "POST", json: { owner: "o".repeat(70_000) } }),
  },
  {
    name: "issue with invalid UTF-8",
    status: 400,
    send: (s) =>
      raw(s, "/admin/tokens", {
        method: "POST",
        headers: json,
        body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
      }),
  },

  // Register.
  {
    name: "register with an unparseable PHC",
    status: 400,
    send: (s) =>
      s.admin(`/admin/tokens/${NEW_ID}`, { method: "PUT", json: { secretPhc: "$scrypt$oops", owner: "o" } }),
  },
  {
    name: "register with another algorithm",
    status: 400,
    send: (s) =>
      s.admin(`/admin/tokens/${NEW_ID}`, {
        method: "PUT",
        json: { secretPhc: VALID_PHC.replace("scrypt", "argon2id"), owner: "o" },
      }),
  },
  {
    name: "register with an absurd scrypt cost",
    status: 400,
    send: (s) =>
      s.admin(`/admin/tokens/${NEW_ID}`, {
        method: "PUT",
        json: { secretPhc: VALID_PHC.replace("ln=14", "ln=40"), owner: "o" },
      }),
  },
  {
    name: "register with 16 times the default scrypt work (each exchange would burn its CPU)",
    status: 400,
    send: (s) =>
      s.admin(`/admin/tokens/${NEW_ID}`, {
        method: "PUT",
        json: { secretPhc: VALID_PHC.replace("p=1", "p=16"), owner: "o" },
      }),
  },
  {
    name: "update to a PHC of 16 times the default scrypt work",
    status: 400,
    send: (s, i) =>
      s.admin(`/admin/tokens/${i.existing}`, {
        method: "PATCH",
        json: { secretPhc: VALID_PHC.replace("ln=14", "ln=18") },
      }),
  },
  {
    name: "register a duplicate id",
    status: 409,
    send: (s, i) =>
      s.admin(`/admin/tokens/${i.existing}`, { method: "PUT", json: { secretPhc: VALID_PHC, owner: "o" } }),
  },
  {
    name: "register with an encoded slash in the path id",
    status: 400,
    send: (s) =>
      s.admin("/admin/tokens/abc%2F..%2F..%2Fxyzxyzxyzxy", {
        method: "PUT",
        json: { secretPhc: VALID_PHC, owner: "o" },
      }),
  },
  {
    name: "register with a too long path id",
    status: 400,
    send: (s) =>
      s.admin(`/admin/tokens/${NEW_ID}X`, { method: "PUT", json: { secretPhc: VALID_PHC, owner: "o" } }),
  },
  {
    name: "register with a non-ASCII path id",
    status: 400,
    send: (s) =>
      s.admin(`/admin/tokens/${encodeURIComponent("ä".repeat(21))}`, {
        method: "PUT",
        json: { secretPhc: VALID_PHC, owner: "o" },
      }),
  },
  {
    name: "register with a broken percent-encoding",
    status: 400,
    send: (s) =>
      s.admin("/admin/tokens/%E0%A4%A", { method: "PUT", json: { secretPhc: VALID_PHC, owner: "o" } }),
  },
  {
    name: "register with tokenId in the body",
    status: 400,
    send: (s) =>
      s.admin(`/admin/tokens/${NEW_ID}`, {
        method: "PUT",
        json: { tokenId: NEW_ID, secretPhc: VALID_PHC, owner: "o" },
      }),
  },

  // Update.
  {
    name: "update with a negative expiresAt",
    status: 400,
    send: (s, i) => s.admin(`/admin/tokens/${i.existing}`, { method: "PATCH", json: { expiresAt: -1 } }),
  },
  {
    name: "update with a fractional expiresAt",
    status: 400,
    send: (s, i) => s.admin(`/admin/tokens/${i.existing}`, { method: "PATCH", json: { expiresAt: 10.25 } }),
  },
  {
    name: "update with an empty owner",
    status: 400,
    send: (s, i) => s.admin(`/admin/tokens/${i.existing}`, { method: "PATCH", json: { owner: "" } }),
  },
  {
    name: "update with add and remove at once",
    status: 400,
    send: (s, i) =>
      s.admin(`/admin/tokens/${i.existing}`, {
        method: "PATCH",
        json: { roles: { add: ["a"], remove: ["b"] } },
      }),
  },
  {
    name: "update adding roles beyond the limit",
    status: 400,
    send: (s, i) =>
      s.admin(`/admin/tokens/${i.full}`, {
        method: "PATCH",
        json: { owner: "changed", roles: { add: ["extra"] } },
      }),
  },
  {
    name: "update with an unknown field",
    status: 400,
    send: (s, i) =>
      s.admin(`/admin/tokens/${i.existing}`, { method: "PATCH", json: { owner: "x", revokedAt: 1 } }),
  },
  {
    name: "update with an invalid PHC",
    status: 400,
    send: (s, i) =>
      s.admin(`/admin/tokens/${i.existing}`, { method: "PATCH", json: { secretPhc: "plaintext" } }),
  },
  {
    name: "update of an unknown id",
    status: 404,
    send: (s) => s.admin(`/admin/tokens/${NEW_ID}`, { method: "PATCH", json: { owner: "x" } }),
  },

  // Revoke and restore.
  {
    name: "revoke with a negative expiresAt",
    status: 400,
    send: (s, i) => s.admin(`/admin/tokens/${i.existing}/revoke`, { method: "PUT", json: { expiresAt: -1 } }),
  },
  {
    name: "revoke with expiresAt null",
    status: 400,
    send: (s, i) =>
      s.admin(`/admin/tokens/${i.existing}/revoke`, { method: "PUT", json: { expiresAt: null } }),
  },
  {
    name: "revoke with an unknown field",
    status: 400,
    send: (s, i) => s.admin(`/admin/tokens/${i.existing}/revoke`, { method: "PUT", json: { reason: "x" } }),
  },
  {
    name: "revoke with a non-JSON body",
    status: 400,
    send: (s, i) =>
      raw(s, `/admin/tokens/${i.existing}/revoke`, { method: "PUT", headers: json, body: "yes" }),
  },
  {
    name: "revoke with an odd path id",
    status: 400,
    send: (s) => s.admin("/admin/tokens/%3Cscript%3E/revoke", { method: "PUT", json: {} }),
  },
  {
    name: "revoke of an unknown id",
    status: 404,
    send: (s) => s.admin(`/admin/tokens/${NEW_ID}/revoke`, { method: "PUT", json: {} }),
  },
  {
    name: "restore of an unknown id",
    status: 404,
    send: (s) => s.admin(`/admin/tokens/${NEW_ID}/restore`, { method: "PUT" }),
  },

  // List and batch.
  ...["100000", "1001", "1.5", "10abc", "1e3", "0", "-1", ""].map(
    (limit): BadCase => ({
      name: `list with limit=${JSON.stringify(limit)}`,
      status: 400,
      send: (s) => s.admin(`/admin/tokens?limit=${encodeURIComponent(limit)}`),
    }),
  ),
  {
    name: "list with includeRevoked=yes",
    status: 400,
    send: (s) => s.admin("/admin/tokens?includeRevoked=yes"),
  },
  {
    name: "list with hasRole=%00",
    status: 400,
    send: (s) => s.admin("/admin/tokens?hasRole=%00"),
  },
  {
    name: "list with an odd afterTokenId",
    status: 400,
    send: (s) => s.admin("/admin/tokens?afterTokenId=%27%20OR%201%3D1"),
  },
  {
    name: "batch with tokenIds not an array",
    status: 400,
    send: (s, i) => s.admin("/admin/tokens/batch", { method: "POST", json: { tokenIds: i.existing } }),
  },
  {
    name: "batch with too many ids",
    status: 400,
    send: (s) =>
      s.admin("/admin/tokens/batch", {
        method: "POST",
        json: { tokenIds: Array.from({ length: 1001 }, (_, n) => `id${n}`) },
      }),
  },
  {
    name: "batch with an unknown field",
    status: 400,
    send: (s, i) =>
      s.admin("/admin/tokens/batch", { method: "POST", json: { tokenIds: [i.existing], all: true } }),
  },
];

describe.each(storeKindsFor("bad-input tests on PostgreSQL"))("bad input (%s)", (kind: StoreKind) => {
  let server: TestServer;
  let ids: { existing: string; full: string; existingToken: string };

  beforeAll(async () => {
    server = await startTestServer(kind, { maxBodyBytes: 64 * 1024, lastUsedFlushMs: 0 });
    const existing = await server.issue({ owner: "existing", expiresAt: 4_000_000_000 });
    const full = await server.issue({
      owner: "full",
      roles: Array.from({ length: MAX_ROLES_COUNT }, (_, n) => `role${n}`),
    });
    await server.admin("/admin/tokens"); // obtain the admin JWT before any snapshot
    await server.handler.flush();
    ids = { existing: existing.record.tokenId, full: full.record.tokenId, existingToken: existing.token };
  });
  afterAll(async () => {
    await server.close();
  });

  it.each(cases)("$name: $status, store unchanged", async ({ send, status }) => {
    const before = await snapshot(server.store);
    const response = await send(server, ids);
    expect(response.status).toBe(status);
    expect(response.headers.get("content-type")).toBe("application/json");
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message.length).toBeGreaterThan(0);
    expectNoSecretIn(JSON.stringify(body), ids.existingToken.slice(26), "the answer");
    await server.handler.flush();
    expect(await snapshot(server.store)).toEqual(before);
  });
});
