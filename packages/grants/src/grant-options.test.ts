import { INVALID_OPTIONS_CODE as INVALID_OPTIONS } from "@tokenkeep/core/options";
import { describe, expect, it } from "vitest";
import { clientCredentialsGrant } from "./client-credentials-grant.js";
import { passwordGrant } from "./password-grant.js";
import { NO_REFRESH_TOKEN, refreshTokenGrant } from "./refresh-token-grant.js";
import { revokeToken } from "./revoke-token.js";
import { robotGrant } from "./robot-grant.js";

function thrown(make: () => unknown): TypeError & { code?: string; cause?: unknown } {
  try {
    make();
  } catch (error) {
    return error as TypeError;
  }
  throw new Error("expected a throw");
}

const base = { tokenUrl: "https://auth.test/token", clientId: "id", clientSecret: "secret" };

describe("options are validated once, when the creator is made", () => {
  it("wants a clientSecret with client_secret_basic (the default) and client_secret_post", () => {
    for (const clientAuthentication of [undefined, "client_secret_basic", "client_secret_post"] as const) {
      const error = thrown(() =>
        clientCredentialsGrant({ tokenUrl: base.tokenUrl, clientId: "id", clientAuthentication }),
      );
      expect(error).toBeInstanceOf(TypeError);
      expect(error.code).toBe(INVALID_OPTIONS);
      expect(error.cause).toEqual([
        `clientSecret: required with ${clientAuthentication ?? "client_secret_basic"}`,
      ]);
    }
    expect(() =>
      clientCredentialsGrant({ tokenUrl: base.tokenUrl, clientAuthentication: "none" }),
    ).not.toThrow();
  });

  it("lists every problem as `path: message`, never a value", () => {
    const error = thrown(() =>
      clientCredentialsGrant({
        tokenUrl: "not a url",
        clientId: "id",
        clientSecret: "super-secret",
        timeoutMs: -1,
        bodyEncoding: "xml" as "json",
      }),
    );
    expect(error.cause).toEqual([
      "tokenUrl: expected an absolute http(s) URL",
      'bodyEncoding: expected one of "form", "json"',
      "timeoutMs: expected a number > 0 and <= 2147483647",
    ]);
    expect(error.message).not.toContain("super-secret");
  });

  it("needs a token URL or an issuer, and one transport", () => {
    expect(thrown(() => clientCredentialsGrant({ clientId: "id", clientSecret: "s" })).cause).toEqual([
      "tokenUrl: either tokenUrl or issuer is required",
    ]);
    expect(
      thrown(() => clientCredentialsGrant({ ...base, fetch, ky: async () => new Response() })).cause,
    ).toEqual(["ky: pass either fetch or ky, not both"]);
  });

  it("checks each grant's own fields", () => {
    expect(thrown(() => passwordGrant({ ...base, username: "", password: "p" })).cause).toEqual([
      "username: must not be empty",
    ]);
    expect(thrown(() => robotGrant({ ...base, id: "r" } as never)).cause).toEqual([
      "secret: expected string",
    ]);
    expect(() => refreshTokenGrant(base)).not.toThrow();
  });

  it("checks revokeToken's options before any request", async () => {
    await expect(revokeToken({ clientId: "id", clientSecret: "s", token: "t" })).rejects.toMatchObject({
      code: INVALID_OPTIONS,
      cause: ["revocationUrl: either revocationUrl or issuer is required"],
    });
  });

  it("refuses to refresh without a refresh token, permanently and without a request", async () => {
    let requests = 0;
    const creator = refreshTokenGrant({
      ...base,
      fetch: async () => {
        requests += 1;
        return new Response();
      },
    });
    await expect(creator()).rejects.toMatchObject({ code: NO_REFRESH_TOKEN, transient: false });
    expect(requests).toBe(0);
  });
});
