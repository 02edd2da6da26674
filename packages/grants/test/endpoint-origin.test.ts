import type { IncomingHttpHeaders } from "node:http";
import { inspect } from "node:util";
import { isInvalidResponseError } from "@tokenkeep/core";
import ky from "ky";
import { describe, expect, it, onTestFinished } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { type ClientAuthenticator, clientCredentialsGrant, revokeToken } from "../src/index.js";
import { createIntrospection } from "../src/introspection/index.js";
import { listen, readBody, sendJson } from "./fixtures/http.js";

const SECRET = "idp-client-secret";
const API_KEY = "api-key-value";

interface Seen {
  readonly method: string;
  /** Path and query string, as the request line had them. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/**
 * A server on 127.0.0.1 recording every request. As an authorization server it answers discovery
 * (its metadata names `issuer()` and the endpoints under `endpoints()`, both itself unless told
 * otherwise; `redirectDiscoveryTo()` sends discovery elsewhere), token, revocation and introspection
 * requests.
 */
async function startServer(
  options: { issuer?: () => string; endpoints?: () => string; redirectDiscoveryTo?: () => string } = {},
) {
  const seen: Seen[] = [];
  let url = "";
  const running = await listen(async (request, response) => {
    await readBody(request);
    const path = request.url ?? "/";
    seen.push({ method: request.method ?? "GET", url: path, headers: request.headers });
    if (path === "/.well-known/openid-configuration") {
      const elsewhere = options.redirectDiscoveryTo?.();
      if (elsewhere) {
        response.writeHead(302, { location: `${elsewhere}${path}` }).end();
        return;
      }
      const base = options.endpoints?.() ?? url;
      sendJson(response, 200, {
        issuer: options.issuer?.() ?? url,
        token_endpoint: `${base}/token`,
        revocation_endpoint: `${base}/revoke`,
      });
    } else if (path === "/token") {
      sendJson(response, 200, { access_token: "at-1", token_type: "Bearer", expires_in: 60 });
    } else if (path === "/introspect") {
      sendJson(response, 200, { active: false });
    } else {
      response.writeHead(200).end();
    }
  });
  url = running.url;
  onTestFinished(() => running.close());
  return Object.assign(running, { seen });
}

const renderings = (error: unknown) =>
  `${String(error)}\n${JSON.stringify(error)}\n${inspect(error, { showHidden: true, depth: 8 })}`;

describe("a ky instance made for an API never takes a request to the API", () => {
  it("ignores the instance's prefix and baseUrl (and unsets its searchParams) for every request", async () => {
    const idp = await startServer();
    const api = await startServer();
    const instances = {
      // The shape of core's README example: the API's base, and an API key for it.
      prefix: ky.create({ prefix: `${api.url}/v1`, headers: { "x-api-key": API_KEY } }),
      baseUrl: ky.create({
        baseUrl: `${api.url}/v1/`,
        headers: { "x-api-key": API_KEY },
        searchParams: { tenant: "t1" },
      }),
    };
    for (const [name, client] of Object.entries(instances)) {
      const client_ = { clientId: "svc", clientSecret: SECRET, ky: client };
      idp.seen.length = 0;
      await clientCredentialsGrant({ ...client_, tokenUrl: `${idp.url}/token` })();
      // Discovery, then the token endpoint it names; revocation and introspection alike.
      await clientCredentialsGrant({ ...client_, issuer: idp.url })();
      await revokeToken({ ...client_, issuer: idp.url, token: "at-1" });
      await createIntrospection({ ...client_, introspectionUrl: `${idp.url}/introspect` }).introspect("at-1");
      expect(api.seen, name).toEqual([]);
      expect(
        idp.seen.map((request) => `${request.method} ${request.url}`),
        name,
      ).toEqual([
        "POST /token",
        "GET /.well-known/openid-configuration",
        "POST /token",
        "POST /revoke",
        "POST /introspect",
      ]);
      // What the README says: the instance's headers (and hooks) do apply to these requests.
      expect(idp.seen.every((request) => request.headers["x-api-key"] === API_KEY)).toBe(true);
      expect(idp.seen.filter((request) => request.headers.authorization).length).toBe(4);
    }
  });
});

describe("an answer from another origin than the endpoint's is refused", () => {
  it("refuses discovery metadata that a redirect brought from another origin", async () => {
    const idp = await startServer({ redirectDiscoveryTo: () => other.url });
    // Another origin serving metadata that would pass every other check (it names the IdP's issuer).
    const other = await startServer({ issuer: () => idp.url, endpoints: () => idp.url });
    const error = await clientCredentialsGrant({
      issuer: idp.url,
      clientId: "svc",
      clientSecret: SECRET,
    })().catch((reason: unknown) => reason);
    expect(isInvalidResponseError(error)).toBe(true);
    expect(error).toMatchObject({
      transient: false,
      endpoint: `${idp.url}/.well-known/openid-configuration`,
    });
    expect(String(error)).toContain(`: the answer came from another origin (${other.url}): not used`);
    expect(other.seen.filter((request) => request.method === "POST")).toEqual([]);
    expect(idp.seen.filter((request) => request.method === "POST")).toEqual([]);
  });

  it("refuses a token answer a ky hook took from another origin, and says so with no secret", async () => {
    const idp = await startServer();
    const other = await startServer();
    // What a prefix not bypassed would do: the request goes to another server, which answers.
    const elsewhere = ky.create({
      hooks: { beforeRequest: [({ request }) => new Request(`${other.url}/token`, request)] },
    });
    const error = await clientCredentialsGrant({
      tokenUrl: `${idp.url}/token`,
      clientId: "svc",
      clientSecret: SECRET,
      ky: elsewhere,
    })().catch((reason: unknown) => reason);
    expect(isInvalidResponseError(error)).toBe(true);
    expect(error).toMatchObject({ transient: false, endpoint: `${idp.url}/token` });
    expect(String(error)).toContain(
      `token request to ${idp.url}/token: the answer came from another origin (${other.url}): not used`,
    );
    expectNoSecretIn(renderings(error), [SECRET, btoa(`svc:${SECRET}`)], "the error's renderings");
  });
});

describe("a request that cannot be built fails for good, quoting neither URL credentials nor header values", () => {
  it("refuses a token endpoint the metadata names with credentials in it, sending nothing", async () => {
    const PASSWORD = "hunter2pw";
    // The metadata names its endpoints with a user name and password (the issuer itself is clean).
    const idp = await startServer({ endpoints: () => idp.url.replace("//", `//svc:${PASSWORD}@`) });
    const creator = clientCredentialsGrant({ issuer: idp.url, clientId: "svc", clientSecret: SECRET });
    const error = await creator().catch((reason: unknown) => reason);
    expect(isInvalidResponseError(error)).toBe(true);
    expect(error).toMatchObject({ transient: false, endpoint: `${idp.url}/token` });
    expect(String(error)).toContain("cannot be built: credentials in the URL or a bad header");
    expect((error as Error).cause).toBeUndefined();
    expectNoSecretIn(renderings(error), [PASSWORD, "svc:hunter2pw", SECRET], "the error's renderings");
    expect(idp.seen.map((request) => request.url)).toEqual(["/.well-known/openid-configuration"]);
  });

  it("refuses a header an authenticator set with a line break, through fetch and through ky", async () => {
    const idp = await startServer();
    const VALUE = "line\nhunter2pw";
    const broken: ClientAuthenticator = {
      method: "custom",
      async authenticate({ headers }) {
        headers["x-client"] = VALUE;
      },
    };
    for (const ky_ of [undefined, ky.create({})]) {
      const error = await clientCredentialsGrant({
        tokenUrl: `${idp.url}/token`,
        clientId: "svc",
        clientAuthentication: broken,
        ky: ky_,
      })().catch((reason: unknown) => reason);
      expect(isInvalidResponseError(error)).toBe(true);
      expect(error).toMatchObject({ transient: false, endpoint: `${idp.url}/token` });
      expectNoSecretIn(renderings(error), ["hunter2pw"], "the error's renderings");
    }
    expect(idp.seen).toEqual([]);
  });
});
