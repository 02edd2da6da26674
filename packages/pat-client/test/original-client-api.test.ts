// `AccessTokensClient` is a drop-in for `@access-tokens/client`'s class of that name: every public
// method of the original must exist here, with a compatible signature. A method the original gains
// and we lack fails this file (at type-check time and at run time).
import { describe, expect, expectTypeOf, it } from "vitest";
import { AccessTokensClient } from "../src/index";

/**
 * The public methods of `AccessTokensClient` in `@access-tokens/client`, from loancrate/access-tokens
 * `packages/client/src/client.ts` (commit d458c800a9643ae4efe1217664696cb081539341, the newest
 * read; `authenticate` is private there). Update this list when the original's class changes.
 */
const ORIGINAL_METHODS = ["list", "batchLoad", "issue", "register", "update", "revoke", "restore"] as const;

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
});
