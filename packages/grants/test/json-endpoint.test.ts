import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectSameSecret } from "../../../test/reliability/src/secret-assert.js";
import { clientCredentialsGrant, tokenExchangeGrant } from "../src/index.js";
import {
  JSON_CLIENT,
  type JsonTokenEndpoint,
  startJsonTokenEndpoint,
} from "./fixtures/json-token-endpoint.js";
import { startScriptedServer, tokenAnswer } from "./fixtures/scripted-server.js";

let endpoint: JsonTokenEndpoint;
beforeAll(async () => {
  endpoint = await startJsonTokenEndpoint();
});
afterAll(() => endpoint.close());

describe("JSON-body token endpoint", () => {
  it("sends client credentials, scope and resources as a JSON object", async () => {
    const before = Date.now();
    const set = await clientCredentialsGrant({
      tokenUrl: endpoint.tokenUrl,
      clientId: JSON_CLIENT.id,
      clientSecret: JSON_CLIENT.secret,
      clientAuthentication: "client_secret_post",
      bodyEncoding: "json",
      scope: ["api:read", "api:write"],
      resource: "https://api.example.test/",
    })();
    const { client_secret: sentSecret, ...sent } = endpoint.lastBody() ?? {};
    expectSameSecret(sentSecret, JSON_CLIENT.secret, "the client_secret of the JSON body");
    expect(sent).toEqual({
      grant_type: "client_credentials",
      client_id: JSON_CLIENT.id,
      scope: "api:read api:write",
      resource: ["https://api.example.test/"],
    });
    expect(set.tokenType).toBe("Bearer");
    expect(set.expiresAt).toBeGreaterThanOrEqual(before + 600_000);
    expect(set.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
  });

  it("is refused as a form, which is what the default encoding sends", async () => {
    const creator = clientCredentialsGrant({
      tokenUrl: endpoint.tokenUrl,
      clientId: JSON_CLIENT.id,
      clientSecret: JSON_CLIENT.secret,
      clientAuthentication: "client_secret_post",
    });
    await expect(creator()).rejects.toMatchObject({ error: "invalid_request", status: 415 });
  });

  it("sends one audience as a string and a list as an array, in token exchange as in client credentials", async () => {
    // Every answer names its issued_token_type, which a token exchange answer must (RFC 8693 2.2.1).
    await using server = await startScriptedServer(() => {
      const answer = tokenAnswer();
      return {
        ...answer,
        body: {
          ...(answer.body as object),
          issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
        },
      };
    });
    const options = {
      tokenUrl: `${server.url}/token`,
      clientAuthentication: "none",
      bodyEncoding: "json",
    } as const;
    for (const audience of [
      "https://orders.example.test",
      ["https://a.example.test", "https://b.example.test"],
    ]) {
      await clientCredentialsGrant({ ...options, audience })();
      await tokenExchangeGrant({ ...options, subjectToken: "subject", audience })();
    }
    const audiences = server.received.map((request) => JSON.parse(request.body).audience);
    expect(audiences).toEqual([
      "https://orders.example.test",
      "https://orders.example.test",
      ["https://a.example.test", "https://b.example.test"],
      ["https://a.example.test", "https://b.example.test"],
    ]);
  });
});
