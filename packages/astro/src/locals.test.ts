import { describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { createLocals, isOwnLocals } from "./locals.js";
import { isSignInError } from "./sign-in-error.js";

describe("locals.tokenkeep", () => {
  const session = {
    accessToken: "access-token-of-the-session",
    expiresAt: 2_000,
    sessionPayload: { name: "alice" },
  };
  const source = {
    session: () => session as never,
    now: () => 1_000,
    login: async () => ({ ok: true }) as never,
    logout: async () => ({ revoked: true }),
  };

  it("a spread copies the values and the functions; destructured functions work", async () => {
    const locals = createLocals(source as never);
    const copy = { ...locals };
    expect(copy).toMatchObject({ signedIn: true, expiresAt: 2_000, sessionPayload: { name: "alice" } });
    const { getAccessToken, logout } = locals;
    await expect(getAccessToken()).resolves.toBe("access-token-of-the-session");
    await expect(logout()).resolves.toEqual({ revoked: true });
    expectNoSecretIn(JSON.stringify(locals), /access-token/, "the locals' JSON");
  });

  it("is recognised as this middleware's (a second registration passes the request on)", () => {
    expect(isOwnLocals(createLocals(undefined))).toBe(true);
    expect(isOwnLocals({ signedIn: false })).toBe(false);
    expect(isOwnLocals(undefined)).toBe(false);
    expect(createLocals(undefined).signedIn).toBe(false);
  });

  it("on a prerendered page (no source), login() rejects with a SignInError coded ERR_TOKENKEEP_SIGN_IN_PRERENDERED", async () => {
    const failure = await createLocals(undefined)
      .login({ username: "u", password: "p" })
      .catch((error: unknown) => error);
    expect(isSignInError(failure)).toBe(true);
    expect(failure).toMatchObject({
      name: "SignInError",
      code: "ERR_TOKENKEEP_SIGN_IN_PRERENDERED",
      transient: false,
    });
    expect((failure as Error).message).toContain("prerendered page");
  });
});
