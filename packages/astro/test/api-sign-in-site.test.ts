/**
 * The API client, login/logout, the injected routes and the Action example in the built fixture,
 * against a custom-endpoint API on 127.0.0.1 (login, single-use refresh tokens, logout, and a
 * resource that accepts only the current access tokens).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { mintSecret } from "../../../test/reliability/src/secret-registry.js";
import { listen, type RunningServer, readBody, sendJson } from "../../grants/test/fixtures/http.js";
import { cookieHeader, followUp, SECRET } from "./helpers/sessions.js";
import { fixtureRoot, type RunningSite, serveBuilt } from "./helpers/site.js";

let api: RunningServer;
let site: RunningSite;
const liveRefresh = new Set<string>();
const liveAccess = new Set<string>();
const revoked: string[] = [];
const resourceAuth: (string | undefined)[] = [];
let refreshes = 0;
let generation = 0;
let logoutDown = false;
/** Alice's password and every token the API issues: minted and registered (secret-registry.ts). */
const PASSWORD = mintSecret("password", { prefix: "alice-" });
let last = { token: "", renew: "" };

function issue(): { token: string; renew: string } {
  generation++;
  const token = mintSecret("access token", { prefix: `token-${generation}-` });
  const renew = mintSecret("refresh token", { prefix: `renew-${generation}-` });
  liveAccess.add(token);
  liveRefresh.add(renew);
  last = { token, renew };
  return last;
}

beforeAll(async () => {
  api = await listen(async (request: IncomingMessage, response: ServerResponse) => {
    const text = await readBody(request);
    const body = (text === "" ? {} : JSON.parse(text)) as Record<string, string>;
    switch (request.url) {
      case "/auth/login": {
        if (!["alice", "alice-large"].includes(body.username ?? "") || body.password !== PASSWORD) {
          return sendJson(response, 401, { error: "invalid_credentials" });
        }
        const { token, renew } = issue();
        return sendJson(response, 200, {
          accessToken: token,
          refreshToken: renew,
          expiresIn: 600,
          // alice-large's profile is too large for a cookie (about 21 KB sealed).
          user: body.username === "alice" ? { name: "alice" } : { name: "alice", notes: "n".repeat(16_000) },
        });
      }
      case "/auth/refresh": {
        refreshes++;
        if (!liveRefresh.delete(body.refreshToken ?? "")) return sendJson(response, 401, {});
        const { token, renew } = issue();
        return sendJson(response, 200, { result: { token, renew, ttl: 600 } });
      }
      case "/auth/logout": {
        if (logoutDown) return sendJson(response, 503, {});
        revoked.push(body.refreshToken ?? "");
        liveRefresh.delete(body.refreshToken ?? "");
        return sendJson(response, 200, {});
      }
      case "/resource/broken":
        // A resource server whose configuration rejects every token (a wrong audience, say).
        return sendJson(response, 401, { error: "invalid_token" });
      case "/public/hello":
        return sendJson(response, 200, { hello: "world" });
      case "/resource/me": {
        resourceAuth.push(request.headers.authorization);
        const token = request.headers.authorization?.replace(/^Bearer /, "") ?? "";
        if (!liveAccess.has(token)) return sendJson(response, 401, { error: "invalid_token" });
        return sendJson(response, 200, { name: "alice" });
      }
      default:
        return sendJson(response, 404, {});
    }
  });
  site = await serveBuilt(fixtureRoot("site"), {
    TOKENKEEP_SECRET: SECRET,
    FIXTURE_UPSTREAM: "endpoints",
    FIXTURE_API_URL: api.url,
  });
});

afterAll(async () => {
  await site?.close();
  await api?.close();
});

beforeEach(() => {
  resourceAuth.length = 0;
  revoked.length = 0;
  logoutDown = false;
});

const postJson = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${site.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
    redirect: "manual",
  });

const postForm = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(`${site.url}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "sec-fetch-site": "same-origin",
      ...headers,
    },
    body: new URLSearchParams(fields),
    redirect: "manual",
  });

async function signedInCookie(): Promise<string> {
  const response = await postJson("/_tokenkeep/login", { username: "alice", password: PASSWORD });
  expect(response.status).toBe(200);
  return followUp(response.headers.getSetCookie());
}

describe("built site: sign-in routes", () => {
  it("JSON sign-in sets the sealed HttpOnly cookie and returns the session", async () => {
    const response = await postJson("/_tokenkeep/login", { username: "alice", password: PASSWORD });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("private, no-store");
    expect(await response.json()).toMatchObject({ signedIn: true, sessionPayload: { name: "alice" } });
    const [cookie] = response.headers.getSetCookie();
    expect(cookie).toMatch(/^tokenkeep=/);
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Lax");
    expectNoSecretIn(cookie, last.token, "the session cookie");
  });

  it("wrong credentials: 401 JSON, or a form redirected back with ?error=rejected; no cookie either way", async () => {
    const json = await postJson("/_tokenkeep/login", { username: "alice", password: "nope" });
    expect(json.status).toBe(401);
    expect(await json.json()).toMatchObject({ error: "invalid_credentials" });
    expect(json.headers.getSetCookie()).toEqual([]);
    const form = await postForm(
      "/_tokenkeep/login",
      { username: "alice", password: "nope", returnTo: "/account" },
      { referer: `${site.url}/signin` },
    );
    expect(form.status).toBe(303);
    expect(form.headers.get("location")).toBe("/signin?error=rejected&returnTo=%2Faccount");
    expect(form.headers.getSetCookie()).toEqual([]);
  });

  it("a form sign-in redirects to a same-origin returnTo only", async () => {
    const good = await postForm("/_tokenkeep/login", {
      username: "alice",
      password: PASSWORD,
      returnTo: "/account?tab=1",
    });
    expect(good.status).toBe(303);
    expect(good.headers.get("location")).toBe("/account?tab=1");
    expect(good.headers.getSetCookie()[0]).toMatch(/^tokenkeep=/);
    for (const returnTo of ["//evil.test/x", "https://evil.test/", "/\\evil.test", "/.//evil.test/phish"]) {
      const response = await postForm("/_tokenkeep/login", {
        username: "alice",
        password: PASSWORD,
        returnTo,
      });
      expect(response.headers.get("location")).toBe("/");
    }
  });

  it("refuses cross-site posts (Sec-Fetch-Site or Origin) and answers 400 to a malformed body", async () => {
    const credentials = { username: "alice", password: PASSWORD };
    const crossSite = await postJson("/_tokenkeep/login", credentials, { "sec-fetch-site": "cross-site" });
    expect(crossSite.status).toBe(403);
    const otherOrigin = await postJson("/_tokenkeep/login", credentials, { origin: "http://evil.test" });
    expect(otherOrigin.status).toBe(403);
    expect(otherOrigin.headers.getSetCookie()).toEqual([]);
    const malformed = await postJson("/_tokenkeep/login", "{not json");
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({
      error: "malformed sign-in request: the body is not valid JSON",
    });
    const wrongType = await postJson("/_tokenkeep/login", { username: 1 });
    expect(wrongType.status).toBe(400);
    // Over 64 KiB: refused unread, whatever the adapter would accept.
    const huge = await postJson("/_tokenkeep/login", { username: "alice", password: "p".repeat(1 << 20) });
    expect(huge.status).toBe(413);
    expect(await huge.json()).toEqual({ error: "the request body is over 65536 bytes" });
  });

  it("a session over cookie.maxBytes: 500 server_error, no cookie (it would lock the user out), the issued tokens revoked", async () => {
    const response = await postJson("/_tokenkeep/login", { username: "alice-large", password: PASSWORD });
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ error: "server_error" });
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(revoked).toEqual([last.renew]);
    // The site still answers that browser (it carries no 21 KB of cookies).
    expect((await fetch(`${site.url}/api/session`)).status).toBe(200);
  });

  it("sign-out revokes upstream and clears the cookie", async () => {
    const cookie = await signedInCookie();
    const response = await postJson("/_tokenkeep/logout", {}, { cookie });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ signedOut: true, revoked: true });
    expect(revoked).toEqual([last.renew]);
    const cleared = response.headers.getSetCookie();
    expect(cleared).toHaveLength(1);
    expect(cleared[0]).toMatch(/^tokenkeep=deleted;.*Expires=Thu, 01 Jan 1970/);
  });

  it("sign-out with the upstream down still ends the local session and reports it", async () => {
    const cookie = await signedInCookie();
    logoutDown = true;
    const response = await postJson("/_tokenkeep/logout", {}, { cookie });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ signedOut: true, revoked: false });
    expect(response.headers.getSetCookie()[0]).toMatch(/^tokenkeep=deleted;/);
  });

  it("the Action example maps a rejected sign-in to its message, and signs in otherwise", async () => {
    const bad = await postForm(
      "/_actions/login",
      { username: "alice", password: "nope" },
      { accept: "application/json" },
    );
    expect(bad.status).toBe(401);
    expect(await bad.json()).toMatchObject({ code: "UNAUTHORIZED", message: "Wrong username or password." });
    const good = await postForm(
      "/_actions/login",
      { username: "alice", password: PASSWORD },
      { accept: "application/json" },
    );
    expect(good.status).toBe(200);
    expect(good.headers.getSetCookie()[0]).toMatch(/^tokenkeep=/);
  });
});

describe("built site: API client", () => {
  it("locals.api and the api import send the session's token to the API", async () => {
    const cookie = await signedInCookie();
    const response = await fetch(`${site.url}/api/profile`, { headers: { cookie } });
    expect(await response.json()).toEqual({ status: 200, data: { name: "alice" }, same: true });
    expect(resourceAuth).toEqual([`Bearer ${last.token}`, `Bearer ${last.token}`]);
    expect(response.headers.getSetCookie()).toEqual([]);
  });

  it("a 401 from the API in an endpoint renews the session once, replays, and sends the new cookie", async () => {
    liveRefresh.add("renew-old");
    const cookie = await cookieHeader({
      accessToken: "token-revoked",
      tokenType: "Bearer",
      expiresAt: Date.now() + 300_000,
      refreshToken: "renew-old",
    });
    const before = refreshes;
    const response = await fetch(`${site.url}/api/profile`, { headers: { cookie } });
    expect(await response.json()).toEqual({ status: 200, data: { name: "alice" }, same: true });
    expect(refreshes - before).toBe(1);
    expect(resourceAuth).toEqual(["Bearer token-revoked", `Bearer ${last.token}`, `Bearer ${last.token}`]);
    expect(response.headers.getSetCookie()[0]).toMatch(/^tokenkeep=/);
  });
});

describe("built site: an API answering 401 to every token", () => {
  it("renews once, then within api.unauthorizedCooldownMs renews nothing for that session (no refresh, no cookie), counting the refusals", async () => {
    const cookie = await signedInCookie();
    const before = refreshes;
    const broken = async (cookies: string) => {
      const response = await fetch(`${site.url}/api/broken`, { headers: { cookie: cookies } });
      const body = (await response.json()) as { statuses: unknown[]; invalidationsRefused: number };
      return { ...body, setCookie: response.headers.getSetCookie() };
    };
    // The first 401 renews the session and replays; the replay is refused too, and the second call
    // of that request renews nothing.
    const first = await broken(cookie);
    expect(first.statuses).toEqual([401, 401]);
    expect(refreshes - before).toBe(1);
    expect(first.setCookie[0]).toMatch(/^tokenkeep=/);
    const renewed = followUp(first.setCookie);
    // The next requests carry the renewed session: no refresh, no cookie, each call's 401 counted.
    let refused = first.invalidationsRefused;
    for (let request = 0; request < 3; request++) {
      const next = await broken(renewed);
      expect(next.statuses).toEqual([401, 401]);
      expect(next.setCookie).toEqual([]);
      expect(next.invalidationsRefused - refused).toBe(2);
      refused = next.invalidationsRefused;
    }
    expect(refreshes - before).toBe(1);
    // The session itself is fine: a route that accepts its token answers.
    const profile = await fetch(`${site.url}/api/profile`, { headers: { cookie: renewed } });
    expect(await profile.json()).toMatchObject({ status: 200, data: { name: "alice" } });
  });
});

describe("built site: responses with immutable headers (fetch(), Response.redirect())", () => {
  it("an endpoint returning a fetched response while the session rotates: 200, the new cookie, no-store", async () => {
    liveRefresh.add("renew-proxy");
    const cookie = await cookieHeader({
      accessToken: "token-proxy",
      tokenType: "Bearer",
      expiresAt: Date.now() + 5_000,
      refreshToken: "renew-proxy",
    });
    const before = refreshes;
    const response = await fetch(`${site.url}/api/proxy?cookie=1`, { headers: { cookie } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ hello: "world" });
    expect(refreshes - before).toBe(1);
    expect(response.headers.get("cache-control")).toBe("private, no-store");
    const setCookie = response.headers.getSetCookie();
    // The page's own cookie is sent too.
    expect(setCookie.map((header) => header.split("=")[0])).toEqual(["tokenkeep", "fixture-theme"]);
    // The new pair reached the browser: the next request is signed in without another refresh.
    const next = await fetch(`${site.url}/api/profile`, { headers: { cookie: followUp(setCookie) } });
    expect(await next.json()).toMatchObject({ status: 200, data: { name: "alice" } });
    expect(refreshes - before).toBe(1);
  });

  it("a fetched response without cookies to set is passed on as it is", async () => {
    const response = await fetch(`${site.url}/api/proxy`);
    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(response.headers.get("cache-control")).toBe("no-store"); // the test API's own
  });

  it("login() then Response.redirect(): 303 to the Location, with the session cookie", async () => {
    const response = await postJson("/api/sign-in-redirect", { username: "alice", password: PASSWORD });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe(`${site.url}/account`);
    expect(response.headers.get("cache-control")).toBe("private, no-store");
    const setCookie = response.headers.getSetCookie();
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(/^tokenkeep=/);
    const account = await fetch(`${site.url}/api/profile`, { headers: { cookie: followUp(setCookie) } });
    expect(await account.json()).toMatchObject({ status: 200, data: { name: "alice" } });
  });
});
