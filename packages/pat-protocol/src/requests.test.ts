import { describe, expect, it } from "vitest";
import type * as z from "zod";
import { isApiError } from "./api-error";
import { listTokensQuerySchema } from "./list-query";
import { patRecordSchema } from "./pat-record";
import {
  issueTokenRequestSchema,
  registerTokenRequestSchema,
  revokeTokenRequestSchema,
  updateTokenRequestSchema,
} from "./requests";
import { formatScryptPhc, parseScryptPhc, scryptPhcSchema } from "./scrypt-phc";

const phc = "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

describe("request schemas", () => {
  it("rejects unknown keys in strict bodies", () => {
    expect(issueTokenRequestSchema.safeParse({ owner: "a", extra: 1 }).success).toBe(false);
    expect(revokeTokenRequestSchema.safeParse({ expiresAt: 1, why: "x" }).success).toBe(false);
  });

  it("rejects negative or fractional times and an empty owner", () => {
    expect(updateTokenRequestSchema.safeParse({ expiresAt: -1 }).success).toBe(false);
    expect(updateTokenRequestSchema.safeParse({ expiresAt: 1.5 }).success).toBe(false);
    expect(updateTokenRequestSchema.safeParse({ owner: "" }).success).toBe(false);
    expect(updateTokenRequestSchema.parse({ expiresAt: null })).toEqual({ expiresAt: null });
  });

  it("refuses a NUL character in an owner or a role, wherever one is sent (PostgreSQL cannot store it)", () => {
    const nul = "a\u0000b";
    const bodies: [z.ZodType, unknown][] = [
      [issueTokenRequestSchema, { owner: nul }],
      [issueTokenRequestSchema, { owner: "o", roles: ["ok", nul] }],
      [registerTokenRequestSchema, { secretPhc: phc, owner: nul }],
      [updateTokenRequestSchema, { owner: nul }],
      [updateTokenRequestSchema, { roles: { add: [nul] } }],
      [updateTokenRequestSchema, { roles: { remove: [nul] } }],
      [listTokensQuerySchema, { hasRole: "\u0000" }],
    ];
    for (const [schema, body] of bodies) {
      const result = schema.safeParse(body);
      expect(result.success, JSON.stringify(body)).toBe(false);
      expect(result.error?.issues.map((issue) => issue.message)).toContain(
        "Expected no NUL character (\\u0000)",
      );
    }
    // Other control characters and any other text stay accepted, as before.
    expect(issueTokenRequestSchema.safeParse({ owner: "a\tb\u0001ü😀", roles: ["r\u007f"] }).success).toBe(
      true,
    );
  });

  it("refuses an unpaired surrogate in an owner or a role, wherever one is sent (UTF-8 cannot carry it)", () => {
    // Stored through UTF-8 (SQLite, PostgreSQL), each would come back as U+FFFD: two owners sent as
    // different strings would be stored, and shown, as the same one.
    const bodies: [z.ZodType, unknown][] = [
      [issueTokenRequestSchema, { owner: "ops\ud800" }],
      [issueTokenRequestSchema, { owner: "\udfffops" }],
      [issueTokenRequestSchema, { owner: "o", roles: ["ok", "r\udc00\ud800"] }],
      [registerTokenRequestSchema, { secretPhc: phc, owner: "\ud83d" }],
      [updateTokenRequestSchema, { owner: "x\udbff" }],
      [updateTokenRequestSchema, { roles: ["\ud800"] }],
      [updateTokenRequestSchema, { roles: { add: ["\ud800"] } }],
      [updateTokenRequestSchema, { roles: { remove: ["\udc00"] } }],
      [listTokensQuerySchema, { hasRole: "\ud800" }],
    ];
    for (const [schema, body] of bodies) {
      const result = schema.safeParse(body);
      expect(result.success, JSON.stringify(body)).toBe(false);
      expect(result.error?.issues.map((issue) => issue.message)).toContain(
        "Expected well-formed Unicode: no unpaired surrogate (\\ud800-\\udfff)",
      );
    }
    // A pair is one character beyond U+FFFF, and accepted.
    expect(
      issueTokenRequestSchema.safeParse({ owner: "ops \ud83d\ude80", roles: ["\u{1f600}"] }).success,
    ).toBe(true);
  });

  it("accepts the three roles update shapes and nothing mixed", () => {
    expect(updateTokenRequestSchema.safeParse({ roles: ["a"] }).success).toBe(true);
    expect(updateTokenRequestSchema.safeParse({ roles: { add: ["a"] } }).success).toBe(true);
    expect(updateTokenRequestSchema.safeParse({ roles: { remove: ["a"] } }).success).toBe(true);
    expect(updateTokenRequestSchema.safeParse({ roles: { add: ["a"], remove: ["b"] } }).success).toBe(false);
    expect(updateTokenRequestSchema.safeParse({ roles: [""] }).success).toBe(false);
  });
});

describe("scrypt PHC", () => {
  it("round-trips a PHC string", () => {
    const parsed = parseScryptPhc(phc);
    expect(parsed).toMatchObject({ log2Cost: 14, blockSize: 8, parallelization: 1 });
    expect(parsed && formatScryptPhc(parsed)).toBe(phc);
    expect(scryptPhcSchema.safeParse(phc).success).toBe(true);
  });

  it("accepts parameters up to 8 times the default work and 64 MiB", () => {
    expect(parseScryptPhc(phc.replace("ln=14,r=8,p=1", "ln=16,r=8,p=2"))).toMatchObject({
      log2Cost: 16,
      blockSize: 8,
      parallelization: 2,
    });
    expect(parseScryptPhc(phc.replace("ln=14,r=8,p=1", "ln=19,r=1,p=2"))).toMatchObject({
      log2Cost: 19,
      blockSize: 1,
      parallelization: 2,
    });
  });

  it.each([
    ["another algorithm", phc.replace("scrypt", "argon2id")],
    ["padding", `${phc}=`],
    ["a huge cost", phc.replace("ln=14", "ln=30")],
    ["more than 8 times the default work (p)", phc.replace("p=1", "p=16")],
    ["more than 8 times the default work (ln and p)", phc.replace("ln=14,r=8,p=1", "ln=18,r=1,p=8")],
    ["more than 64 MiB of memory", phc.replace("ln=14", "ln=17")],
    ["no hash", phc.slice(0, phc.lastIndexOf("$"))],
    ["garbage", "not a phc"],
  ])("rejects %s", (_name, value) => {
    expect(parseScryptPhc(value)).toBeUndefined();
  });
});

describe("listTokensQuerySchema", () => {
  it("applies defaults", () => {
    expect(listTokensQuerySchema.parse({})).toEqual({
      limit: 100,
      includeRevoked: false,
      includeExpired: false,
      includeSecretPhc: false,
    });
  });

  it.each(["1.5", "10abc", "1e3", "0", "-1", "1001", "99999999"])("rejects limit %s", (limit) => {
    expect(listTokensQuerySchema.safeParse({ limit }).success).toBe(false);
  });

  it("rejects booleans other than true/1/false/0", () => {
    expect(listTokensQuerySchema.safeParse({ includeRevoked: "yes" }).success).toBe(false);
    expect(listTokensQuerySchema.parse({ includeRevoked: "1" }).includeRevoked).toBe(true);
  });
});

describe("tolerant schemas", () => {
  it("accepts absent or null optional record fields", () => {
    const record = patRecordSchema.parse({
      tokenId: "x",
      owner: "o",
      isAdmin: false,
      createdAt: 1,
      expiresAt: null,
      revokedAt: null,
      roles: null,
    });
    expect(record.roles).toEqual([]);
    expect(record.lastUsedAt).toBeUndefined();
  });

  it("recognises the error body", () => {
    expect(isApiError({ error: { message: "m", code: "c", details: { a: 1 } } })).toBe(true);
    expect(isApiError({ error: { code: "c" } })).toBe(false);
    expect(isApiError("Not Found")).toBe(false);
  });
});
