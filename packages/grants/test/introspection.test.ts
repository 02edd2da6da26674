import { inspect } from "node:util";
import {
  isAbortError,
  isInvalidResponseError,
  isNetworkError,
  isOAuthError,
  isTimeoutError,
  type TokenSet,
} from "@tokenkeep/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { registerSecret } from "../../../test/reliability/src/secret-registry.js";
import { clientSecretJwt } from "../src/client-assertion/index.js";
import { clientCredentialsGrant, passwordGrant, refreshTokenGrant } from "../src/index.js";
import { createIntrospection, refreshTokenActive } from "../src/introspection/index.js";
import { listen } from "./fixtures/http.js";
import {
  CLIENTS,
  type OidcProviderServer,
  RESOURCE,
  startOidcProvider,
  USERS,
} from "./fixtures/oidc-provider.js";
import { failure } from "./fixtures/rejection.js";
import { type Answer, type ScriptedServer, startScriptedServer } from "./fixtures/scripted-server.js";

const HMAC_CLIENT = {
  id: "introspecting-hmac",
  secret: registerSecret("a-shared-secret-for-hs256-introspection-0123456789", "client secret"),
};

let op: OidcProviderServer;
let scripted: ScriptedServer;
beforeAll(async () => {
  // The grants fixture: introspection enabled (any client may ask), refresh tokens rotated on every use.
  op = await startOidcProvider({
    clients: [
      {
        client_id: HMAC_CLIENT.id,
        client_secret: HMAC_CLIENT.secret,
        token_endpoint_auth_method: "client_secret_jwt",
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
      },
    ],
  });
  scripted = await startScriptedServer(() => ({ status: 200, body: { active: false } }));
});
afterAll(async () => {
  await op?.close();
  await scripted?.close();
});

const service = () => ({
  issuer: op.issuer,
  clientId: CLIENTS.service.id,
  clientSecret: CLIENTS.service.secret,
});

/** A fetch of its own (so discovery is not served from another test's cache) that records requests. */
function recordingFetch() {
  const requests: { url: string; headers: Headers; body: string }[] = [];
  const fetcher: typeof fetch = (input, init) => {
    requests.push({
      url: String(input),
      headers: new Headers(init?.headers),
      body: String(init?.body ?? ""),
    });
    return fetch(input, init);
  };
  return { requests, fetcher };
}

/** A user session from the password grant: an access and a refresh token, both registered as secrets. */
async function signIn() {
  const set = await passwordGrant({ ...service(), username: "alice", password: USERS.alice! })();
  registerSecret(set.accessToken, "access token");
  registerSecret(set.refreshToken!, "refresh token");
  return set;
}

/** Every way an error is shown or logged, for looking for secrets in it. */
const shown = (error: unknown) =>
  [JSON.stringify(error), String(error), inspect(error, { depth: 5 }), (error as Error).stack].join("\n");

describe("createIntrospection against oidc-provider", () => {
  it("finds the introspection endpoint through discovery and reports a live refresh token active", async () => {
    const { requests, fetcher } = recordingFetch();
    const { introspect } = createIntrospection({ ...service(), fetch: fetcher });
    const session = await signIn();
    const result = await introspect(session.refreshToken!, { tokenTypeHint: "refresh_token" });
    expect(result.active).toBe(true);
    expect(result).toMatchObject({ client_id: CLIENTS.service.id, sub: "alice", iss: op.issuer });
    expect(typeof result.exp).toBe("number");
    expect(result.raw.active).toBe(true);
    expect(requests.map((request) => new URL(request.url).pathname)).toEqual([
      "/.well-known/openid-configuration",
      "/token/introspection",
    ]);
    const sent = new URLSearchParams(requests[1]!.body);
    expect(sent.get("token_type_hint")).toBe("refresh_token");
    // Compared as a boolean: a failing assertion would print the token.
    expect(sent.get("token") === session.refreshToken).toBe(true);
  });

  it("reports a refresh token rotated away inactive, and its successor active", async () => {
    // The rotation coordinator's hook gets { refreshToken, previous, signal }: the verifier fits it.
    const verifyUnredeemed: (context: {
      refreshToken: string;
      previous: TokenSet;
      signal: AbortSignal;
    }) => Promise<boolean> = refreshTokenActive(service());
    const first = await signIn();
    expect(
      await verifyUnredeemed({
        refreshToken: first.refreshToken!,
        previous: first,
        signal: AbortSignal.timeout(5_000),
      }),
    ).toBe(true);
    const second = await refreshTokenGrant(service())({ previous: first });
    registerSecret(second.refreshToken!, "refresh token");
    expect(second.refreshToken === first.refreshToken).toBe(false);
    expect(
      await verifyUnredeemed({
        refreshToken: first.refreshToken!,
        previous: first,
        signal: AbortSignal.timeout(5_000),
      }),
    ).toBe(false);
    expect(
      await verifyUnredeemed({
        refreshToken: second.refreshToken!,
        previous: second,
        signal: AbortSignal.timeout(5_000),
      }),
    ).toBe(true);
    // Asking is not presenting: the successor still redeems (the grant was not revoked as a reuse).
    const third = await refreshTokenGrant(service())({ previous: second });
    expect(third.accessToken).toBeTruthy();
  });

  it("describes an access token with its standard claims", async () => {
    const set = await clientCredentialsGrant({ ...service(), scope: "api:read", resource: RESOURCE })();
    registerSecret(set.accessToken, "access token");
    const result = await createIntrospection(service()).introspect(set.accessToken, {
      tokenTypeHint: "access_token",
    });
    expect(result).toMatchObject({
      active: true,
      client_id: CLIENTS.service.id,
      scope: "api:read",
      token_type: "Bearer",
      aud: RESOURCE,
      iss: op.issuer,
    });
    expect(result.exp! - result.iat!).toBe(300);
  });

  it("reports a string it never issued inactive", async () => {
    const result = await createIntrospection(service()).introspect("never-issued-by-this-server");
    expect(result).toEqual({ active: false, raw: { active: false } });
  });

  it("authenticates with client_secret_basic by default, and with client_secret_post", async () => {
    const session = await signIn();
    for (const clientAuthentication of ["client_secret_basic", "client_secret_post"] as const) {
      const { requests, fetcher } = recordingFetch();
      const { introspect } = createIntrospection({ ...service(), clientAuthentication, fetch: fetcher });
      expect((await introspect(session.accessToken)).active).toBe(true);
      const sent = requests.at(-1)!;
      const body = new URLSearchParams(sent.body);
      if (clientAuthentication === "client_secret_basic") {
        expect(sent.headers.get("authorization")).toMatch(/^Basic /);
        expect(body.has("client_secret")).toBe(false);
      } else {
        expect(sent.headers.has("authorization")).toBe(false);
        expect(body.get("client_secret") === CLIENTS.service.secret).toBe(true);
      }
    }
  });

  it("authenticates with a client assertion whose aud is the introspection endpoint (client_secret_jwt)", async () => {
    const session = await signIn();
    const { requests, fetcher } = recordingFetch();
    const { introspect } = createIntrospection({
      issuer: op.issuer,
      clientId: HMAC_CLIENT.id,
      clientAuthentication: clientSecretJwt({ secret: HMAC_CLIENT.secret }),
      fetch: fetcher,
    });
    // Another client's token: oidc-provider answers inactive unless its allowedPolicy says otherwise
    // (the fixture allows every client), so the answer proves the assertion was accepted.
    expect((await introspect(session.accessToken)).active).toBe(true);
    const assertion = new URLSearchParams(requests.at(-1)!.body).get("client_assertion")!;
    const claims = JSON.parse(atob(assertion.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));
    expect(claims.aud).toBe(`${op.issuer}/token/introspection`);
    const wrong = await failure(
      createIntrospection({
        issuer: op.issuer,
        clientId: HMAC_CLIENT.id,
        clientAuthentication: clientSecretJwt({ secret: `${HMAC_CLIENT.secret}-wrong` }),
      }).introspect(session.accessToken),
    );
    expect(wrong).toMatchObject({ error: "invalid_client", transient: false });
  });

  it("uses introspectionUrl as given, without discovery", async () => {
    const session = await signIn();
    const { requests, fetcher } = recordingFetch();
    const { introspect } = createIntrospection({
      introspectionUrl: `${op.issuer}/token/introspection`,
      clientId: CLIENTS.service.id,
      clientSecret: CLIENTS.service.secret,
      fetch: fetcher,
    });
    expect((await introspect(session.refreshToken!)).active).toBe(true);
    expect(requests.map((request) => new URL(request.url).pathname)).toEqual(["/token/introspection"]);
  });

  it("reports a wrong client secret as a permanent invalid_client, naming no secret or token", async () => {
    const session = await signIn();
    const wrongSecret = registerSecret("wrong-introspection-secret-0001", "client secret");
    const error = await failure(
      createIntrospection({ ...service(), clientSecret: wrongSecret }).introspect(session.refreshToken!),
    );
    expect(isOAuthError(error)).toBe(true);
    expect(error).toMatchObject({ error: "invalid_client", status: 401, transient: false });
    expect(error.message).toContain(`${op.issuer}/token/introspection`);
    expectNoSecretIn(
      shown(error),
      [
        wrongSecret,
        CLIENTS.service.secret,
        session.refreshToken!,
        btoa(`${CLIENTS.service.id}:${wrongSecret}`),
      ],
      "the error's renderings",
    );
  });
});

describe("introspection answers no server gives on purpose", () => {
  const TOKEN = registerSecret("introspected-token-value-0001", "refresh token");
  const SECRET = registerSecret("introspecting-client-secret-0001", "client secret");
  const options = () => ({
    introspectionUrl: `${scripted.url}/introspect`,
    clientId: "rs",
    clientSecret: SECRET,
  });
  const answer = async (reply: Answer, timeoutMs?: number) => {
    scripted.script.push(reply);
    return failure(createIntrospection({ ...options(), timeoutMs }).introspect(TOKEN));
  };

  it("refuses a JSON object without a boolean active, naming the field and not the body", async () => {
    const missing = await answer({ status: 200, body: { client_id: "rs", scope: TOKEN } });
    expect(isInvalidResponseError(missing)).toBe(true);
    expect(missing).toMatchObject({ status: 200, transient: false });
    expect(missing.message).toMatch(/field "active" is missing/);
    const notBoolean = await answer({ status: 200, body: { active: "true" } });
    expect(notBoolean.message).toMatch(/field "active" is not a boolean/);
    const notObject = await answer({ status: 200, body: [true] });
    expect(notObject.message).toMatch(/not a JSON object/);
    for (const error of [missing, notBoolean, notObject])
      expectNoSecretIn(shown(error), TOKEN, "the renderings");
  });

  it("refuses a standard claim of the wrong type, naming it", async () => {
    const error = await answer({ status: 200, body: { active: true, exp: "tomorrow" } });
    expect(isInvalidResponseError(error)).toBe(true);
    expect(error.message).toMatch(/field "exp" is not a number/);
    const audience = await answer({ status: 200, body: { active: true, aud: ["a", 1] } });
    expect(audience.message).toMatch(/field "aud" is not a string or a list of strings/);
  });

  it("answers inactive whatever an inactive token's other claims hold: a malformed one is left out, not an error", async () => {
    // RFC 7662 section 2.2: for an inactive token the server SHOULD NOT send more than `active`; a
    // stray malformed claim must not turn "dead" into "could not find out" (which keeps a rotation in doubt).
    const reply = { status: 200, body: { active: false, exp: "never", aud: ["a", 1], scope: "s" } };
    scripted.script.push(reply);
    expect(await createIntrospection(options()).introspect(TOKEN)).toEqual({
      active: false,
      scope: "s",
      raw: reply.body,
    });
    scripted.script.push(reply);
    expect(await refreshTokenActive(options())({ refreshToken: TOKEN })).toBe(false);
  });

  it("keeps unknown fields in raw only", async () => {
    scripted.script.push({ status: 200, body: { active: true, aud: ["a", "b"], cnf: { jkt: "x" } } });
    const result = await createIntrospection(options()).introspect(TOKEN);
    expect(result).toEqual({
      active: true,
      aud: ["a", "b"],
      raw: { active: true, aud: ["a", "b"], cnf: { jkt: "x" } },
    });
  });

  it("reads error answers as OAuthError, redacting an echoed token", async () => {
    const echoed = await answer({
      status: 400,
      body: { error: "invalid_request", error_description: `cannot read ${TOKEN}` },
    });
    expect(isOAuthError(echoed)).toBe(true);
    expect(echoed).toMatchObject({ error: "invalid_request", status: 400, transient: false });
    expectNoSecretIn(shown(echoed), TOKEN, "the error's renderings");
    expect(shown(echoed)).toContain("[redacted]");
    const inBody = await answer({ status: 200, body: { error: "invalid_client" } });
    expect(inBody).toMatchObject({ error: "invalid_client", status: 200 });
  });

  it("reports 5xx, HTML and broken JSON as transient InvalidResponseError", async () => {
    const unavailable = await answer({ status: 503, headers: { "retry-after": "3" } });
    expect(unavailable).toMatchObject({
      code: "ERR_TOKENKEEP_INVALID_RESPONSE",
      status: 503,
      transient: true,
    });
    expect(unavailable.retryAfterMs).toBe(3000);
    const html = await answer({
      status: 502,
      headers: { "content-type": "text/html" },
      body: "<h1>Bad</h1>",
    });
    expect(html).toMatchObject({ status: 502, transient: true });
    const broken = await answer({ status: 200, headers: { "content-type": "application/json" }, body: "{" });
    expect(broken).toMatchObject({ code: "ERR_TOKENKEEP_INVALID_RESPONSE", status: 200, transient: true });
  });

  it("times out, fails on a closed port, and stops on the caller's signal", async () => {
    const timedOut = await answer({ status: 200, hang: true }, 100);
    expect(isTimeoutError(timedOut)).toBe(true);
    expect(timedOut).toMatchObject({ timeoutMs: 100, transient: true });
    const gone = await listen();
    await gone.close();
    const refused = await failure(
      createIntrospection({ ...options(), introspectionUrl: `${gone.url}/introspect` }).introspect(TOKEN),
    );
    expect(isNetworkError(refused)).toBe(true);
    expect(refused).toMatchObject({ reason: "ECONNREFUSED", transient: true });
    const controller = new AbortController();
    controller.abort();
    const aborted = await failure(
      refreshTokenActive(options())({ refreshToken: TOKEN, signal: controller.signal }),
    );
    expect(isAbortError(aborted)).toBe(true);
    for (const error of [timedOut, refused, aborted]) {
      expectNoSecretIn(shown(error), [TOKEN, SECRET], "the error's renderings");
    }
  });

  it("sends the refresh_token hint from refreshTokenActive and resolves the answer's active", async () => {
    scripted.script.push({ status: 200, body: { active: true } });
    const before = scripted.received.length;
    expect(await refreshTokenActive(options())({ refreshToken: TOKEN })).toBe(true);
    const body = new URLSearchParams(scripted.received[before]!.body);
    expect([...body.keys()]).toEqual(["token", "token_type_hint"]);
    expect(body.get("token") === TOKEN && body.get("token_type_hint") === "refresh_token").toBe(true);
    expect(scripted.received[before]!.headers.authorization).toMatch(/^Basic /);
    expect(await refreshTokenActive(options())({ refreshToken: TOKEN })).toBe(false);
  });
});

describe("createIntrospection options", () => {
  const invalid = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(TypeError);
      expect((error as { code?: string }).code).toBe("ERR_TOKENKEEP_INVALID_OPTIONS");
      return (error as Error).message;
    }
    throw new Error("expected a TypeError");
  };

  it("are validated when the client is made", () => {
    expect(invalid(() => createIntrospection({ clientId: "a", clientSecret: "b" }))).toMatch(
      /introspectionUrl: either introspectionUrl or issuer is required/,
    );
    expect(
      invalid(() =>
        createIntrospection({
          introspectionUrl: "http://auth.example.com/i",
          clientId: "a",
          clientSecret: "b",
        }),
      ),
    ).toMatch(/introspectionUrl: expected https/);
    expect(
      invalid(() => createIntrospection({ introspectionUrl: "https://a.example/i", clientId: "a" })),
    ).toMatch(/clientSecret: required with client_secret_basic/);
    // tokenUrl is not an option here: the introspection endpoint is another URL.
    const tokenUrl = { tokenUrl: "https://a.example/token", clientId: "a", clientSecret: "b" };
    expect(invalid(() => createIntrospection(tokenUrl as never))).toMatch(
      /unknown option `tokenUrl` - did you mean `introspectionUrl`\?/,
    );
    // A spread of grant options with tokenUrl unset fits, as it does for revokeToken.
    const shared = {
      tokenUrl: undefined,
      introspectionUrl: "https://a.example/i",
      clientId: "a",
      clientSecret: "b",
    };
    expect(() => createIntrospection(shared)).not.toThrow();
  });

  it("and each call's token and options are checked before anything is sent", async () => {
    const before = scripted.received.length;
    const { introspect } = createIntrospection({
      introspectionUrl: `${scripted.url}/introspect`,
      clientId: "rs",
      clientSecret: "a-secret",
    });
    for (const call of [
      () => introspect(""),
      () => introspect("token", { tokenTypeHnt: "refresh_token" } as never),
      () => introspect("token", { signal: "soon" } as never),
    ]) {
      const error = await failure(call());
      expect(error).toBeInstanceOf(TypeError);
      expect((error as { code?: string }).code).toBe("ERR_TOKENKEEP_INVALID_OPTIONS");
    }
    expect(scripted.received.length).toBe(before);
  });
});
