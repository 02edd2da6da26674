import { inspect } from "node:util";
import { INVALID_OPTIONS_CODE as INVALID_OPTIONS } from "@tokenkeep/core/options";
import { describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { clientSecretJwt } from "./client-assertion/index.js";
import { clientCredentialsGrant } from "./client-credentials-grant.js";
import { discover } from "./discovery.js";
import { createIntrospection } from "./introspection/index.js";
import { passwordGrant } from "./password-grant.js";
import { NO_REFRESH_TOKEN, refreshTokenGrant } from "./refresh-token-grant.js";
import { createRevocation, revokeToken } from "./revoke-token.js";
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
    expectNoSecretIn(error.message, "super-secret", "the error's message");
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

  it("refuses tokenUrl and defaultLifetimeMs in revokeToken, which would ignore them, naming revocationUrl", async () => {
    let requests = 0;
    const fetch = async () => {
      requests += 1;
      return new Response();
    };
    const options = {
      revocationUrl: "https://auth.test/revoke",
      clientId: "id",
      clientSecret: "s",
      token: "t",
      fetch,
    };
    await expect(
      revokeToken({ ...options, tokenUrl: "https://auth.test/token" } as never),
    ).rejects.toMatchObject({
      code: INVALID_OPTIONS,
      cause: ["(options): unknown option `tokenUrl` - did you mean `revocationUrl`?"],
    });
    await expect(revokeToken({ ...options, defaultLifetimeMs: 60_000 } as never)).rejects.toMatchObject({
      code: INVALID_OPTIONS,
      cause: ["(options): unknown option `defaultLifetimeMs`"],
    });
    expect(requests).toBe(0);
    // An absent key spelt out (a spread of grant options) is not a value that would be ignored.
    await revokeToken({ ...options, tokenUrl: undefined } as never);
    expect(requests).toBe(1);
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

describe("credentials never travel in clear text", () => {
  const insecure =
    "expected https (http only to localhost, 127.0.0.0/8 or ::1, or with allowInsecureRequests: true)";

  it("refuses an http tokenUrl, issuer or revocationUrl to a host that is not loopback", async () => {
    const error = thrown(() => clientCredentialsGrant({ ...base, tokenUrl: "http://192.0.2.2/token" }));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe(INVALID_OPTIONS);
    expect(error.cause).toEqual([`tokenUrl: ${insecure}`]);
    expect(
      thrown(() =>
        passwordGrant({
          ...base,
          tokenUrl: undefined,
          issuer: "http://auth.example",
          username: "u",
          password: "p",
        }),
      ).cause,
    ).toEqual([`issuer: ${insecure}`]);
    await expect(
      revokeToken({ clientId: "id", clientSecret: "s", token: "t", revocationUrl: "http://10.0.0.1/revoke" }),
    ).rejects.toMatchObject({ code: INVALID_OPTIONS, cause: [`revocationUrl: ${insecure}`] });
  });

  it("accepts http to loopback hosts, and anywhere with allowInsecureRequests: true", () => {
    for (const tokenUrl of [
      "http://localhost:8080/token",
      "http://127.0.0.1/token",
      "http://127.42.0.9:1/token",
      "http://[::1]:9000/token",
      "https://192.0.2.2/token",
    ]) {
      expect(() => clientCredentialsGrant({ ...base, tokenUrl }), tokenUrl).not.toThrow();
    }
    expect(() =>
      clientCredentialsGrant({ ...base, tokenUrl: "http://192.0.2.2/token", allowInsecureRequests: true }),
    ).not.toThrow();
    expect(
      thrown(() => clientCredentialsGrant({ ...base, allowInsecureRequests: "yes" as unknown as boolean }))
        .cause,
    ).toEqual(["allowInsecureRequests: expected a boolean"]);
  });

  it("refuses an http issuer in discover() itself", async () => {
    await expect(discover("http://auth.example")).rejects.toMatchObject({
      name: "TypeError",
      code: INVALID_OPTIONS,
      cause: [`issuer: ${insecure}`],
    });
  });

  it("rejects a misspelt option in every creator and in discover(), naming the nearest known one", async () => {
    expect(thrown(() => clientCredentialsGrant({ ...base, timeout: 300 } as never)).cause).toEqual([
      "(options): unknown option `timeout` - did you mean `timeoutMs`?",
    ]);
    expect(
      thrown(() => passwordGrant({ ...base, username: "u", password: "p", pasword: "x" } as never)).cause,
    ).toEqual(["(options): unknown option `pasword` - did you mean `password`?"]);
    const error = await discover("https://auth.example", { timout: 5 } as never).catch(
      (caught: Error) => caught,
    );
    expect(error).toMatchObject({ name: "TypeError", code: INVALID_OPTIONS });
    expect((error as Error).cause).toEqual([
      "(options): unknown option `timout` - did you mean `timeoutMs`?",
    ]);
  });
});

describe("no credentials in a URL option, no header fetch would refuse", () => {
  const PASSWORD = "hunter2pw";
  const credentials = "credentials in the URL are not allowed: use clientId/clientSecret";
  const withUser = "https://svc:hunter2pw@auth.test";
  /** The error as a log would show it: message, JSON, and util.inspect with hidden fields. */
  const renderings = (error: unknown) =>
    `${String(error)}\n${JSON.stringify(error)}\n${inspect(error, { showHidden: true, depth: 8 })}`;

  it("refuses a user name or password in every URL option, quoting no part of it", async () => {
    const refusals: [string, unknown][] = [
      ["tokenUrl", thrown(() => clientCredentialsGrant({ ...base, tokenUrl: `${withUser}/token` }))],
      ["tokenUrl", thrown(() => clientCredentialsGrant({ ...base, tokenUrl: new URL(`${withUser}/token`) }))],
      [
        "issuer",
        thrown(() => clientCredentialsGrant({ ...base, tokenUrl: undefined, issuer: `${withUser}/realm` })),
      ],
      [
        "issuer",
        thrown(() => clientCredentialsGrant({ ...base, tokenUrl: undefined, issuer: new URL(withUser) })),
      ],
      // A user name alone, or a password alone, is as unwelcome.
      [
        "tokenUrl",
        thrown(() => clientCredentialsGrant({ ...base, tokenUrl: "https://hunter2pw@auth.test/t" })),
      ],
      [
        "tokenUrl",
        thrown(() => clientCredentialsGrant({ ...base, tokenUrl: "https://:hunter2pw@auth.test/t" })),
      ],
      [
        "revocationUrl",
        await revokeToken({
          clientId: "id",
          clientSecret: "s",
          token: "t",
          revocationUrl: `${withUser}/r`,
        }).catch((error: unknown) => error),
      ],
      [
        "revocationUrl",
        thrown(() => createRevocation({ clientId: "id", clientSecret: "s", revocationUrl: `${withUser}/r` })),
      ],
      [
        "introspectionUrl",
        thrown(() =>
          createIntrospection({ clientId: "id", clientSecret: "s", introspectionUrl: `${withUser}/i` }),
        ),
      ],
      ["issuer", await discover(withUser).catch((error: unknown) => error)],
      ["audience", thrown(() => clientSecretJwt({ secret: "s".repeat(32), audience: `${withUser}/token` }))],
    ];
    for (const [option, error] of refusals) {
      expect(error).toMatchObject({
        name: "TypeError",
        code: INVALID_OPTIONS,
        cause: [`${option}: ${credentials}`],
      });
      expectNoSecretIn(renderings(error), [PASSWORD, "svc:"], `the ${option} error`);
    }
    expect(() => clientCredentialsGrant({ ...base, tokenUrl: "https://@auth.test/token" })).not.toThrow();
  });

  it("refuses a header name or value that new Headers() refuses, naming the header, never the value", () => {
    const value = "tenant\nhunter2pw";
    const error = thrown(() =>
      clientCredentialsGrant({ ...base, headers: { "x-ok": "1", "x-tenant": value } }),
    );
    expect(error).toMatchObject({
      code: INVALID_OPTIONS,
      cause: ["headers.x-tenant: invalid header name or value"],
    });
    expectNoSecretIn(renderings(error), [PASSWORD], "the headers error");
    expect(thrown(() => clientCredentialsGrant({ ...base, headers: { "x tenant": "t" } })).cause).toEqual([
      "headers.x tenant: invalid header name or value",
    ]);
    expect(
      thrown(() => clientCredentialsGrant({ ...base, headers: { "x-name": "caf\u20ac" } })).cause,
    ).toEqual(["headers.x-name: invalid header name or value"]);
    // Whitespace around a value is trimmed by fetch, not refused.
    expect(() => clientCredentialsGrant({ ...base, headers: { "x-tenant": " t1\n" } })).not.toThrow();
  });

  it("refuses an Authorization header, in any case, beside a method that writes one, naming no value", () => {
    const value = "Bearer hunter2pw-gateway";
    const jwt = clientSecretJwt({ secret: "s".repeat(32) });
    const server = { clientId: "id", clientSecret: "secret" };
    const refusals: [unknown, string, string][] = [];
    for (const key of ["authorization", "Authorization", "AUTHORIZATION"]) {
      const headers = { "x-ok": "1", [key]: value };
      refusals.push(
        [thrown(() => clientCredentialsGrant({ ...base, headers })), key, "client_secret_basic"],
        [
          thrown(() => createRevocation({ ...server, revocationUrl: base.tokenUrl, headers })),
          key,
          "client_secret_basic",
        ],
        [
          thrown(() => createIntrospection({ ...server, introspectionUrl: base.tokenUrl, headers })),
          key,
          "client_secret_basic",
        ],
      );
    }
    for (const [error, key, method] of refusals) {
      expect(error).toMatchObject({
        name: "TypeError",
        code: INVALID_OPTIONS,
        cause: [`headers.${key}: not with ${method}`],
      });
      expectNoSecretIn(renderings(error), ["hunter2pw-gateway"], "the Authorization header error");
    }
    // Methods that send no header leave it to the caller (an introspection endpoint may want a
    // bearer token of the resource server's, RFC 7662 section 2.1).
    for (const clientAuthentication of ["none", "client_secret_post", "tls_client_auth"] as const) {
      expect(() =>
        clientCredentialsGrant({ ...base, clientAuthentication, headers: { Authorization: value } }),
      ).not.toThrow();
    }
    // A JWT assertion goes in the body: a gateway's Authorization header may go beside it.
    expect(() =>
      clientCredentialsGrant({
        ...base,
        clientSecret: undefined,
        clientAuthentication: jwt,
        headers: { Authorization: value },
      }),
    ).not.toThrow();
  });
});
