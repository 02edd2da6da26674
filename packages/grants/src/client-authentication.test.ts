import { describe, expect, it } from "vitest";
import type { RequestParams } from "./body-encoding.js";
import { applyClientAuthentication, basicAuthorization } from "./client-authentication.js";

describe("client authentication", () => {
  it("form-url-encodes id and secret before Base64 (RFC 6749 section 2.3.1)", () => {
    const decoded = atob(basicAuthorization("id:1", "%+: é/").slice("Basic ".length));
    expect(decoded).toBe("id%3A1:%25%2B%3A+%C3%A9%2F");
    const [id, secret] = decoded.split(":").map((part) => decodeURIComponent(part.replaceAll("+", " ")));
    expect([id, secret]).toEqual(["id:1", "%+: é/"]);
  });

  it("puts credentials in the header, the body, or only client_id", () => {
    const cases = [
      ["client_secret_basic", { authorization: basicAuthorization("a", "b") }, {}],
      ["client_secret_post", {}, { client_id: "a", client_secret: "b" }],
      ["none", {}, { client_id: "a" }],
    ] as const;
    for (const [clientAuthentication, headers, params] of cases) {
      const actualParams: RequestParams = {};
      const actualHeaders: Record<string, string> = {};
      applyClientAuthentication(
        { clientId: "a", clientSecret: "b", clientAuthentication },
        actualParams,
        actualHeaders,
      );
      expect(actualHeaders).toEqual(headers);
      expect(actualParams).toEqual(params);
    }
  });
});
