import { describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../../test/reliability/src/secret-assert.js";
import { registerSecret } from "../../../../test/reliability/src/secret-registry.js";
import { DEFAULT_LIFETIME_MS } from "../defaults.js";
import { isInvalidResponseError, isOAuthError, type OAuthError } from "../errors/errors.js";
import { isTransientError } from "../errors/failure-classification.js";
import { readTokenResponse } from "../http/read-token-response.js";
import { isTokenSet, parseTokenResponse } from "./token-response.js";
import type { TokenSet } from "./token-set.js";

const sentAt = 1_700_000_000_000;

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

async function rejected(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("parseTokenResponse", () => {
  it("refuses an expiry past what a Date can hold: a token is never kept forever", () => {
    expect(() => parseTokenResponse({ access_token: "a", expires_in: 1e306 }, { sentAt: 0 })).toThrow(
      'field "expires_in" is invalid',
    );
    expect(() => parseTokenResponse({ access_token: "a", expires_in: "1e400" }, { sentAt: 0 })).toThrow(
      'field "expires_in" is invalid',
    );
  });

  it("normalizes a minimal answer: Bearer, default lifetime from the send time", () => {
    const set = parseTokenResponse({ access_token: "at-1" }, { sentAt });
    expect(set).toEqual({
      accessToken: "at-1",
      tokenType: "Bearer",
      expiresAt: sentAt + DEFAULT_LIFETIME_MS,
      refreshAt: undefined,
      refreshToken: undefined,
      refreshTokenExpiresAt: undefined,
      scope: undefined,
      idToken: undefined,
      raw: { access_token: "at-1" },
    });
    expect(parseTokenResponse({ access_token: "a" }, { sentAt, defaultLifetimeMs: 5000 }).expiresAt).toBe(
      sentAt + 5000,
    );
  });

  it("anchors expires_in (number or numeric string) at sentAt", () => {
    expect(parseTokenResponse({ access_token: "a", expires_in: 300 }, { sentAt }).expiresAt).toBe(
      sentAt + 300_000,
    );
    expect(parseTokenResponse({ access_token: "a", expires_in: "60" }, { sentAt }).expiresAt).toBe(
      sentAt + 60_000,
    );
    expect(parseTokenResponse({ access_token: "a", expires_in: 0 }, { sentAt }).expiresAt).toBe(sentAt);
  });

  it("compares token_type case-insensitively", () => {
    const type = (token_type: string) =>
      parseTokenResponse({ access_token: "a", token_type }, { sentAt }).tokenType;
    expect(type("bearer")).toBe("Bearer");
    expect(type("BEARER")).toBe("Bearer");
    expect(type("dpop")).toBe("DPoP");
    expect(type("N_A")).toBe("N_A");
  });

  it("maps every optional field and keeps unknown ones in raw", () => {
    const body = {
      access_token: "a",
      token_type: "Bearer",
      expires_in: 100,
      refresh_token: "r",
      refresh_token_expires_in: "1000",
      refresh_in: 50,
      scope: "read write",
      id_token: "id",
      issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
      nested: { a: [1, 2] },
    };
    const set = parseTokenResponse(body, { sentAt });
    expect(set.refreshToken).toBe("r");
    expect(set.refreshTokenExpiresAt).toBe(sentAt + 1_000_000);
    expect(set.refreshAt).toBe(sentAt + 50_000);
    expect(set.scope).toBe("read write");
    expect(set.idToken).toBe("id");
    expect(set.raw).toEqual(body);
    expect(JSON.parse(JSON.stringify(set))).toEqual(set);
  });

  it("treats null optional fields as absent", () => {
    const set = parseTokenResponse(
      { access_token: "a", expires_in: null, refresh_token: null, scope: null },
      { sentAt },
    );
    expect(set.expiresAt).toBe(sentAt + DEFAULT_LIFETIME_MS);
    expect(set.refreshToken).toBeUndefined();
    expect(set.scope).toBeUndefined();
  });

  it("keeps the previous refresh token when the answer carries none, and replaces it otherwise", () => {
    const previous: TokenSet = {
      accessToken: "old",
      tokenType: "Bearer",
      expiresAt: sentAt,
      refreshToken: "rt-old",
      refreshTokenExpiresAt: sentAt + 9,
      raw: {},
    };
    const kept = parseTokenResponse({ access_token: "new" }, { sentAt, previous });
    expect(kept.refreshToken).toBe("rt-old");
    expect(kept.refreshTokenExpiresAt).toBe(sentAt + 9);
    expect(kept.raw).toEqual({ access_token: "new" });
    const rotated = parseTokenResponse(
      { access_token: "new", refresh_token: "rt-new" },
      { sentAt, previous },
    );
    expect(rotated.refreshToken).toBe("rt-new");
    expect(rotated.refreshTokenExpiresAt).toBeUndefined();
  });

  it("turns a 200 body with error into an OAuthError, even next to an access token", () => {
    const error = thrown(() =>
      parseTokenResponse(
        { error: "invalid_grant", error_description: "expired", error_uri: "https://e", access_token: "a" },
        { sentAt },
      ),
    ) as OAuthError;
    expect(isOAuthError(error)).toBe(true);
    expect(error.status).toBe(200);
    expect(error.error).toBe("invalid_grant");
    expect(error.errorDescription).toBe("expired");
    expect(error.errorUri).toBe("https://e");
    expect(error.transient).toBe(false);
    const withStatus = thrown(() => parseTokenResponse({ error: "slow_down" }, { sentAt, status: 400 }));
    expect((withStatus as OAuthError).status).toBe(400);
  });

  it("names the failing field but never a value", () => {
    const refreshToken = registerSecret("secret-refresh", "refresh token"); // fixed, registered
    const accessToken = registerSecret("secret-access", "access token");
    const missing = thrown(() => parseTokenResponse({ refresh_token: refreshToken }, { sentAt }));
    expect(isInvalidResponseError(missing)).toBe(true);
    expect((missing as Error).message).toContain('"access_token" is missing');
    expectNoSecretIn((missing as Error).message, refreshToken, "the error's message");

    const invalid = thrown(() =>
      parseTokenResponse({ access_token: accessToken, expires_in: "soon-ish" }, { sentAt }),
    ) as Error;
    expect(invalid.message).toContain('"expires_in" is invalid');
    expectNoSecretIn(invalid.message, accessToken, "the error's message");
    expect(invalid.message).not.toContain("soon-ish");
    expectNoSecretIn(JSON.stringify(invalid), accessToken, "the error's JSON");
    expect(isTransientError(invalid)).toBe(false);

    for (const body of [{ access_token: "" }, { access_token: 42 }, { access_token: "a", expires_in: -1 }]) {
      expect(isInvalidResponseError(thrown(() => parseTokenResponse(body, { sentAt })))).toBe(true);
    }
    for (const body of [null, "at", [], 3]) {
      expect((thrown(() => parseTokenResponse(body, { sentAt })) as Error).message).toContain(
        "not a JSON object",
      );
    }
  });
});

describe("isTokenSet", () => {
  it("tells a token set from a wire answer", () => {
    expect(isTokenSet(parseTokenResponse({ access_token: "a" }, { sentAt }))).toBe(true);
    expect(isTokenSet({ access_token: "a", token_type: "Bearer", expires_in: 3 })).toBe(false);
    expect(isTokenSet({ accessToken: "a", tokenType: "Bearer", expiresAt: "3", raw: {} })).toBe(false);
    expect(isTokenSet(null)).toBe(false);
  });
});

describe("readTokenResponse", () => {
  const json = (body: unknown, init: ResponseInit = {}) =>
    new Response(JSON.stringify(body), {
      ...init,
      headers: { "content-type": "application/json; charset=utf-8", ...init.headers },
    });

  it("parses a 200 JSON answer", async () => {
    const set = await readTokenResponse(json({ access_token: "a", expires_in: 10 }), { sentAt });
    expect(set.accessToken).toBe("a");
    expect(set.expiresAt).toBe(sentAt + 10_000);
    const vendor = new Response('{"access_token":"b"}', {
      headers: { "content-type": "application/vnd.example+json" },
    });
    expect((await readTokenResponse(vendor, { sentAt })).accessToken).toBe("b");
  });

  it("turns an RFC 6749 error body into an OAuthError with status, WWW-Authenticate and Retry-After", async () => {
    const response = json(
      { error: "invalid_client", error_description: "bad secret", error_uri: "https://docs" },
      { status: 401, headers: { "www-authenticate": 'Basic realm="token"', "retry-after": "3" } },
    );
    const error = (await rejected(readTokenResponse(response, { sentAt }))) as OAuthError;
    expect(isOAuthError(error)).toBe(true);
    expect(error.status).toBe(401);
    expect(error.errorUri).toBe("https://docs");
    expect(error.wwwAuthenticate).toBe('Basic realm="token"');
    expect(error.retryAfterMs).toBe(3000);
    expect(error.transient).toBe(false);
    expect(error.response).toBe(response);
    expect(Object.keys(error)).not.toContain("response");

    const busy = json({ error: "temporarily_unavailable" }, { status: 503 });
    expect(isTransientError(await rejected(readTokenResponse(busy, { sentAt })))).toBe(true);
  });

  it("parses a Retry-After date against the injected clock", async () => {
    const now = Date.parse("Mon, 30 Nov 2026 10:00:00 GMT");
    const response = json(
      { error: "slow_down" },
      { status: 429, headers: { "retry-after": "Mon, 30 Nov 2026 10:00:07 GMT" } },
    );
    const error = (await rejected(readTokenResponse(response, { sentAt, now: () => now }))) as OAuthError;
    expect(error.retryAfterMs).toBe(7000);
    expect(error.transient).toBe(true);
  });

  it("classifies HTML, empty and broken bodies as invalid responses carrying the status", async () => {
    const cases: [Response, boolean][] = [
      [
        new Response("<html>bad gateway</html>", { status: 502, headers: { "content-type": "text/html" } }),
        true,
      ],
      [new Response("<html>ok?</html>", { status: 200, headers: { "content-type": "text/html" } }), true],
      [new Response("", { status: 200, headers: { "content-type": "application/json" } }), true],
      [new Response("{not json", { status: 200, headers: { "content-type": "application/json" } }), true],
      [new Response(null, { status: 429 }), true],
      [new Response("nope", { status: 404, headers: { "content-type": "text/plain" } }), false],
      [json({ message: "no error field" }, { status: 400 }), false],
      [json({ message: "no error field" }, { status: 500 }), true],
    ];
    for (const [response, transient] of cases) {
      const error = (await rejected(readTokenResponse(response, { sentAt }))) as InvalidResponseErrorLike;
      expect(isInvalidResponseError(error), `${response.status}`).toBe(true);
      expect(error.status).toBe(response.status);
      expect(error.transient, `${response.status} ${error.message}`).toBe(transient);
    }
  });

  it("marks a 200 JSON body that fails validation permanent, without its value", async () => {
    const error = (await rejected(
      readTokenResponse(json({ access_token: "secret-xyz", expires_in: "never" }), { sentAt }),
    )) as InvalidResponseErrorLike;
    expect(isInvalidResponseError(error)).toBe(true);
    expect(error.status).toBe(200);
    expect(error.transient).toBe(false);
    expectNoSecretIn(error.message, "secret-xyz", "the error's message");
  });

  it("keeps a body that is not JSON out of the error and its cause", async () => {
    // No content type, so the body is parsed: JSON.parse quotes the text it rejects in its message.
    const body = new TextEncoder().encode("t=secret-form-token");
    const error = (await rejected(readTokenResponse(new Response(body), { sentAt }))) as Error;
    expect(isInvalidResponseError(error)).toBe(true);
    const messages: string[] = [];
    for (let link: unknown = error; link instanceof Error; link = link.cause) messages.push(link.message);
    expect(messages.length).toBeGreaterThan(0);
    expectNoSecretIn(messages.join(" "), /secret/, "the messages of the error and its causes");
  });
});

interface InvalidResponseErrorLike extends Error {
  status: number | undefined;
  transient: boolean;
}
