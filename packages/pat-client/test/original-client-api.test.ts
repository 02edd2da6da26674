// `AccessTokensClient` is a drop-in for `@access-tokens/client`'s class of that name: every public
// method of the original must exist here, with a compatible signature. A method the original gains
// and we lack fails this file (at type-check time and at run time).
import { describe, expect, expectTypeOf, it } from "vitest";
import type * as z from "zod";
import * as entry from "../src/index";
import {
  AccessTokensClient,
  type AccessTokensClientConfig,
  type ApiError,
  type AuthTokenResponse,
  authTokenResponseSchema,
  type BatchLoadOptions,
  type BatchLoadResult,
  batchLoadResultSchema,
  type IssueConfig,
  type IssueResult,
  issueResultSchema,
  type ListOptions,
  type ListResponse,
  listResponseSchema,
  type RegisterConfig,
  type RegisterResult,
  type RevokeOptions,
  type RolesUpdate,
  registerResultSchema,
  type TokenRecord,
  tokenRecordSchema,
  type UpdateConfig,
} from "../src/index";

/**
 * The public methods of `AccessTokensClient` in `@access-tokens/client`, from loancrate/access-tokens
 * `packages/client/src/client.ts` (commit d458c800a9643ae4efe1217664696cb081539341, the newest
 * read; `authenticate` is private there). Update this list when the original's class changes.
 */
const ORIGINAL_METHODS = ["list", "batchLoad", "issue", "register", "update", "revoke", "restore"] as const;

/**
 * The values `@access-tokens/client`'s entry exports (its `index.ts`, `apiError.ts`, `client.ts` and
 * `schemas.ts` at the commit above). Its types are imported by name at the top of this file, so a
 * missing one fails the type check: `AccessTokensClientConfig`, `ApiError`, `AuthTokenResponse`,
 * `BatchLoadOptions`, `BatchLoadResult`, `IssueConfig`, `IssueResult`, `ListOptions`, `ListResponse`,
 * `RegisterConfig`, `RegisterResult`, `RevokeOptions`, `RolesUpdate`, `TokenRecord`, `UpdateConfig`.
 */
const ORIGINAL_VALUES = [
  "AccessTokensClient",
  "isApiError",
  "authTokenResponseSchema",
  "tokenRecordSchema",
  "listResponseSchema",
  "issueResultSchema",
  "registerResultSchema",
  "batchLoadResultSchema",
] as const;

/** A record as a server sends it, `null` where the original's server writes null. */
const WIRE_RECORD = {
  tokenId: "34NwRzvnBbgI3uedkrQ3Q",
  owner: "ci@example.com",
  isAdmin: false,
  roles: ["deploy"],
  createdAt: 1_700_000_000,
  lastUsedAt: null,
  expiresAt: 1_800_000_000,
  revokedAt: null,
};

describe("AccessTokensClient keeps the original client's API", () => {
  it("has every public method of the original", () => {
    const missing = ORIGINAL_METHODS.filter(
      (name) =>
        typeof (AccessTokensClient.prototype as unknown as Record<string, unknown>)[name] !== "function",
    );
    expect(missing).toEqual([]);
  });

  it("accepts the original's arguments and returns its shapes (checked by the type checker)", () => {
    type Client = InstanceType<typeof AccessTokensClient>;
    expectTypeOf<Client>().toHaveProperty("batchLoad");
    // The original: batchLoad(tokenIds: Set<string>, options?: { includeSecretPhc?: boolean })
    //   : Promise<{ found: TokenRecord[]; notFound: string[] }>
    expectTypeOf<Client["batchLoad"]>().toBeCallableWith(new Set<string>(), { includeSecretPhc: true });
    expectTypeOf<Client["batchLoad"]>().toBeCallableWith(new Set<string>());
    expectTypeOf<Awaited<ReturnType<Client["batchLoad"]>>>().toHaveProperty("found");
    expectTypeOf<Awaited<ReturnType<Client["batchLoad"]>>>().toHaveProperty("notFound");
    expectTypeOf<Client["list"]>().toBeCallableWith({ afterTokenId: "x", limit: 1, hasRole: "r" });
    expectTypeOf<Client["list"]>().toBeCallableWith();
    expectTypeOf<Client["issue"]>().toBeCallableWith({ owner: "o", isAdmin: true, roles: [], expiresAt: 1 });
    expectTypeOf<Client["register"]>().toBeCallableWith({ tokenId: "t", secretPhc: "p", owner: "o" });
    expectTypeOf<Client["update"]>().toBeCallableWith("t", { roles: { add: ["r"] }, expiresAt: null });
    expectTypeOf<Client["revoke"]>().toBeCallableWith("t", { expiresAt: 1 });
    expectTypeOf<Client["revoke"]>().toBeCallableWith("t");
    expectTypeOf<Client["restore"]>().toBeCallableWith("t");
    // Every name of the list is a method of ours (a compile error names the one missing).
    expectTypeOf<Pick<Client, (typeof ORIGINAL_METHODS)[number]>>().not.toBeNever();
  });

  it("exports every value of the original's entry", () => {
    const missing = ORIGINAL_VALUES.filter((name) => !(name in entry));
    expect(missing).toEqual([]);
  });

  it("exports the original's schemas, which parse what a server answers", () => {
    expect(tokenRecordSchema.parse(WIRE_RECORD)).toMatchObject({
      tokenId: WIRE_RECORD.tokenId,
      roles: ["deploy"],
    });
    expect(listResponseSchema.parse({ records: [WIRE_RECORD] }).records).toHaveLength(1);
    expect(issueResultSchema.parse({ token: "t", record: WIRE_RECORD }).record.owner).toBe("ci@example.com");
    expect(registerResultSchema.parse({ record: WIRE_RECORD }).record.expiresAt).toBe(1_800_000_000);
    expect(batchLoadResultSchema.parse({ found: [WIRE_RECORD], notFound: ["x"] }).notFound).toEqual(["x"]);
    const exchange = { access_token: "a.b.c", token_type: "Bearer", expires_in: 3600 };
    expect(authTokenResponseSchema.parse(exchange)).toEqual(exchange);
    expect(authTokenResponseSchema.safeParse({ token_type: "Bearer", expires_in: 1 }).success).toBe(false);
  });

  it("keeps the original's type names, as code written against the original uses them", () => {
    type Client = InstanceType<typeof AccessTokensClient>;
    // Each schema's output is the type of the same name, as with the original's `z.infer`.
    expectTypeOf<z.infer<typeof tokenRecordSchema>>().toEqualTypeOf<TokenRecord>();
    expectTypeOf<z.infer<typeof authTokenResponseSchema>>().toEqualTypeOf<AuthTokenResponse>();
    expectTypeOf<z.infer<typeof listResponseSchema>>().toEqualTypeOf<ListResponse>();
    expectTypeOf<z.infer<typeof issueResultSchema>>().toEqualTypeOf<IssueResult>();
    expectTypeOf<z.infer<typeof registerResultSchema>>().toEqualTypeOf<RegisterResult>();
    expectTypeOf<z.infer<typeof batchLoadResultSchema>>().toEqualTypeOf<BatchLoadResult>();
    // The methods' results under the original's names.
    expectTypeOf<Awaited<ReturnType<Client["list"]>>>().toEqualTypeOf<TokenRecord[]>();
    expectTypeOf<Awaited<ReturnType<Client["issue"]>>>().toEqualTypeOf<IssueResult>();
    expectTypeOf<Awaited<ReturnType<Client["register"]>>>().toEqualTypeOf<TokenRecord>();
    expectTypeOf<Awaited<ReturnType<Client["batchLoad"]>>>().toEqualTypeOf<BatchLoadResult>();
    expectTypeOf<RegisterResult["record"]>().toEqualTypeOf<TokenRecord>();
    expectTypeOf<ListResponse["records"]>().toEqualTypeOf<TokenRecord[]>();
    expectTypeOf<ApiError["error"]["message"]>().toEqualTypeOf<string>();
    // Parameters built step by step, as the original's mutable types allowed, then passed on.
    const config: AccessTokensClientConfig = { endpoint: "https://pat.example.com", apiKey: "k" };
    config.authPath = "/auth";
    config.adminPath = "/admin";
    config.fetch = globalThis.fetch;
    expectTypeOf(AccessTokensClient).toBeConstructibleWith(config);
    const issue: IssueConfig = { owner: "o" };
    issue.isAdmin = true;
    issue.roles = ["deploy"];
    issue.expiresAt = 1;
    issue.tokenId = WIRE_RECORD.tokenId;
    expectTypeOf<Client["issue"]>().toBeCallableWith(issue);
    const register: RegisterConfig = { tokenId: "t", secretPhc: "p", owner: "o" };
    register.roles = [];
    expectTypeOf<Client["register"]>().toBeCallableWith(register);
    // The original's arrays are mutable too: a role pushed on, the roles passed on as a string[].
    issue.roles.push("ops");
    register.roles.push("ops");
    const issueRoles: string[] | undefined = issue.roles;
    expectTypeOf<IssueConfig["roles"]>().toEqualTypeOf<string[] | undefined>();
    expectTypeOf<RegisterConfig["roles"]>().toEqualTypeOf<string[] | undefined>();
    expect(issueRoles).toEqual(["deploy", "ops"]);
    const roles: RolesUpdate = { remove: ["deploy"] };
    const update: UpdateConfig = {};
    update.owner = "o";
    update.secretPhc = "p";
    update.roles = roles;
    update.expiresAt = null;
    expectTypeOf<Client["update"]>().toBeCallableWith("t", update);
    const list: ListOptions = {};
    list.includeRevoked = true;
    list.hasRole = "deploy";
    expectTypeOf<Client["list"]>().toBeCallableWith(list);
    const revoke: RevokeOptions = {};
    revoke.expiresAt = 1;
    expectTypeOf<Client["revoke"]>().toBeCallableWith("t", revoke);
    const batch: BatchLoadOptions = {};
    batch.includeSecretPhc = true;
    expectTypeOf<Client["batchLoad"]>().toBeCallableWith(new Set(["t"]), batch);
  });
});
