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

  it("sends only client_id for the mutual TLS methods (the certificate authenticates)", () => {
    for (const clientAuthentication of ["tls_client_auth", "self_signed_tls_client_auth"] as const) {
      const params: RequestParams = {};
      const headers: Record<string, string> = {};
      const pending = applyClientAuthentication({ clientId: "a", clientAuthentication }, params, headers);
      expect(pending).toBeUndefined();
      expect([params, headers]).toEqual([{ client_id: "a" }, {}]);
    }
  });

  it("hands an authenticator the client id, the endpoint, the issuer, the clock and the request", async () => {
    const seen: unknown[] = [];
    const now = () => 1_000;
    const params: RequestParams = { grant_type: "client_credentials" };
    const headers: Record<string, string> = {};
    await applyClientAuthentication(
      {
        clientId: "a",
        clientSecret: "ignored",
        clientAuthentication: {
          method: "custom",
          async authenticate(request) {
            seen.push({ ...request, params: { ...request.params }, headers: { ...request.headers } });
            request.params.client_assertion = "signed";
            request.headers["x-client"] = "a";
          },
        },
      },
      params,
      headers,
      { endpoint: "https://as.example/token", issuer: "https://as.example", now },
    );
    expect(seen).toEqual([
      {
        clientId: "a",
        endpoint: "https://as.example/token",
        issuer: "https://as.example",
        now,
        params: { grant_type: "client_credentials" },
        headers: {},
      },
    ]);
    expect(params).toEqual({ grant_type: "client_credentials", client_assertion: "signed" });
    expect(headers).toEqual({ "x-client": "a" });
  });

  it("refuses to call an authenticator without an endpoint (no assertion for an empty aud)", async () => {
    let called = 0;
    const credentials = {
      clientId: "a",
      clientAuthentication: {
        method: "private_key_jwt",
        async authenticate() {
          called += 1;
        },
      },
    };
    const now = () => 1;
    for (const request of [undefined, { endpoint: "", issuer: undefined, now }]) {
      await expect(applyClientAuthentication(credentials, {}, {}, request)).rejects.toMatchObject({
        name: "TypeError",
        code: "ERR_TOKENKEEP_INVALID_OPTIONS",
        cause: ["request.endpoint: required with private_key_jwt"],
      });
    }
    expect(called).toBe(0);
  });
});
