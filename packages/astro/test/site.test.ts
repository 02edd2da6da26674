/**
 * The integration in a real built site: the fixture under test/fixtures/site, built once per run with
 * Astro's build(), served from dist/server/entry.mjs on 127.0.0.1, against oidc-provider with
 * rotating, reuse-detecting refresh tokens.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { refreshTokenGrant } from "@tokenkeep/grants";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import {
  CLIENTS,
  type OidcProviderServer,
  startOidcProvider,
} from "../../grants/test/fixtures/oidc-provider.js";
import {
  cookieHeader,
  followUp,
  getSession as getSessionAt,
  refreshTokenIn,
  sha256,
  signIn,
  siteEnv,
} from "./helpers/sessions.js";
import { fixtureRoot, type RunningSite, serveBuilt } from "./helpers/site.js";

const MARKER = "tokenkeep-fixture-secret-marker-5b1f";
let root: string;
let provider: OidcProviderServer;
let site: RunningSite;

beforeAll(async () => {
  root = fixtureRoot("site"); // built by global-setup.ts
  provider = await startOidcProvider({ rotateRefreshToken: true });
  // The server's clock is the test's to move (the default 30 s successor window, no real wait).
  site = await serveBuilt(root, { ...siteEnv(provider), FIXTURE_CLOCK: "1" });
});

/** Whether a test moved the server's clock (then it is put back after that test). */
let clockMoved = false;
/** Sets how far the built server's clock runs ahead of the real one (its rotation store's too). */
async function setClock(offsetMs: number): Promise<void> {
  const response = await fetch(`${site.url}/api/clock?offsetMs=${offsetMs}`);
  expect(response.status).toBe(200);
  clockMoved = offsetMs !== 0;
}

afterEach(async () => {
  if (clockMoved) await setClock(0);
});

afterAll(async () => {
  await site?.close();
  await provider?.close();
});

const tokenHits = () => provider.hits.get("/token") ?? 0;
const getSession = (cookie: string | undefined, headers: Record<string, string> = {}) =>
  getSessionAt(site.url, cookie, headers);

describe("built site", () => {
  it("an anonymous page: 200, signed out, no Set-Cookie", async () => {
    const response = await fetch(`${site.url}/`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("signed out");
    expect(response.headers.getSetCookie()).toEqual([]);
  });

  it("a valid session outside the refresh window: signed in, no Set-Cookie, no token request", async () => {
    const session = await signIn(provider);
    const before = tokenHits();
    const { body, setCookie } = await getSession(await cookieHeader(session));
    expect(body).toMatchObject({
      signedIn: true,
      tokenHash: sha256(session.accessToken),
      sameInStorage: true,
    });
    expect(setCookie).toEqual([]);
    expect(tokenHits()).toBe(before);
  });

  it("a prerendered page sends no Set-Cookie, even for a session due for rotation", async () => {
    const session = { ...(await signIn(provider)), expiresAt: Date.now() + 5_000 };
    const before = tokenHits();
    const response = await fetch(`${site.url}/static`, { headers: { cookie: await cookieHeader(session) } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("prerendered");
    expect(response.headers.getSetCookie()).toEqual([]);
    expect(tokenHits()).toBe(before);
  });

  it("50 parallel requests of one expiring session: 1 refresh; a request with the old refresh token 1 s later is served the successor; the family lives on", async () => {
    const session = { ...(await signIn(provider)), expiresAt: Date.now() + 5_000 };
    const cookie = await cookieHeader(session);
    const before = tokenHits();
    const answers = await Promise.all(Array.from({ length: 50 }, () => getSession(cookie)));
    expect(tokenHits() - before).toBe(1);
    const hashes = new Set(answers.map((answer) => answer.body.tokenHash));
    expect(hashes.size).toBe(1);
    expect([...hashes][0]).not.toBe(sha256(session.accessToken));
    for (const answer of answers) {
      expect(answer.body.signedIn).toBe(true);
      expect(answer.setCookie).toHaveLength(1);
      expect(answer.setCookie[0]).toMatch(
        /^tokenkeep=tk1\.[^;]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax$/,
      );
    }

    // The old cookie again 1 s later (a tab that missed the answer): the successor, no second redemption.
    await setClock(1_000);
    const late = await getSession(cookie);
    expect(late.body.signedIn).toBe(true);
    expect(late.body.tokenHash).toBe([...hashes][0]);
    expect(tokenHits() - before).toBe(1);
    expect(late.body.stats.successorHits).toBeGreaterThanOrEqual(1);
    // The onEvent function option ran in the built server.
    expect(late.body.events.rotated).toBeGreaterThanOrEqual(2);

    // No reuse was detected: the successor's refresh token still rotates.
    const next = await getSession(followUp(answers[0]!.setCookie));
    expect(next.body.signedIn).toBe(true);
    expect(tokenHits() - before).toBe(1); // still valid for minutes: no rotation needed
    const successor = await refreshTokenGrant({
      issuer: provider.issuer,
      clientId: CLIENTS.service.id,
      clientSecret: CLIENTS.service.secret,
    })({
      previous: { ...session, refreshToken: await refreshTokenIn(answers[0]!.setCookie), raw: {} },
    });
    expect(successor.accessToken).toBeTruthy();
  });

  it("a request with the old refresh token 60 s after its rotation (past the 30 s successor window): signed out, cookies untouched, nothing presented upstream, the family alive", async () => {
    const session = { ...(await signIn(provider)), expiresAt: Date.now() + 5_000 };
    const cookie = await cookieHeader(session);
    const before = tokenHits();
    const rotated = await getSession(cookie);
    expect(rotated.body.signedIn).toBe(true);
    expect(tokenHits() - before).toBe(1);
    // A tab that slept through the rotation comes back a minute later.
    await setClock(60_000);
    const late = await getSession(cookie);
    expect(late.response.status).toBe(200);
    expect(late.body.signedIn).toBe(false);
    expect(late.setCookie).toEqual([]); // the browser already holds the newer pair: untouched
    expect(late.body.stats.lateRequests).toBeGreaterThanOrEqual(1);
    expect(tokenHits() - before).toBe(1); // the old refresh token was not presented again
    // No reuse was detected upstream: the newer pair still rotates.
    const next = await refreshTokenGrant({
      issuer: provider.issuer,
      clientId: CLIENTS.service.id,
      clientSecret: CLIENTS.service.secret,
    })({ previous: { ...session, refreshToken: await refreshTokenIn(rotated.setCookie), raw: {} } });
    expect(next.accessToken).toBeTruthy();
  });

  it("a sign-out carrying the old refresh token after the successor window revokes it, which ends the newer pair too", async () => {
    const session = { ...(await signIn(provider)), expiresAt: Date.now() + 5_000 };
    const cookie = await cookieHeader(session);
    const rotated = await getSession(cookie);
    expect(rotated.body.signedIn).toBe(true);
    const newer = await refreshTokenIn(rotated.setCookie);
    // A tab that slept through the rotation signs out a minute later, with the old cookie.
    await setClock(60_000);
    const response = await fetch(`${site.url}/_tokenkeep/logout`, {
      method: "POST",
      headers: { "content-type": "application/json", "sec-fetch-site": "same-origin", cookie },
      body: "{}",
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ signedOut: true, revoked: true });
    expect(response.headers.getSetCookie()[0]).toMatch(/^tokenkeep=deleted;/);
    // oidc-provider revokes the grant with any of its refresh tokens: the newer pair is dead too.
    const refresh = refreshTokenGrant({
      issuer: provider.issuer,
      clientId: CLIENTS.service.id,
      clientSecret: CLIENTS.service.secret,
    });
    await expect(refresh({ previous: { ...session, refreshToken: newer, raw: {} } })).rejects.toMatchObject({
      error: "invalid_grant",
    });
  });

  it("X-Forwarded-Proto: https from a trusted proxy gives Secure and the __Host- prefix", async () => {
    const session = { ...(await signIn(provider)), expiresAt: Date.now() + 5_000 };
    const cookie = await cookieHeader(session, true);
    const { body, setCookie } = await getSession(cookie, { "x-forwarded-proto": "https" });
    expect(body.signedIn).toBe(true);
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(
      /^__Host-tokenkeep=tk1\.[^;]+; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    );
    // The same cookie over plain http is not read: a __Host- cookie belongs to https only.
    expect((await getSession(cookie)).body.signedIn).toBe(false);
  });

  it("route protection in the built server: a page redirects with returnTo", async () => {
    const response = await fetch(`${site.url}/account/orders`, {
      headers: { accept: "text/html" },
      redirect: "manual",
    });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/login?returnTo=%2Faccount%2Forders");
  });

  it("a page that rewrites to a protected path (Astro.rewrite) is protected like that path; returnTo is the page asked for", async () => {
    const signedOut = await fetch(`${site.url}/go`, { headers: { accept: "text/html" }, redirect: "manual" });
    expect(signedOut.status).toBe(302);
    expect(signedOut.headers.get("location")).toBe("/login?returnTo=%2Fgo");
    const session = await signIn(provider);
    const signedIn = await fetch(`${site.url}/go`, {
      headers: { accept: "text/html", cookie: await cookieHeader(session) },
      redirect: "manual",
    });
    expect(signedIn.status).toBe(200);
    expect(await signedIn.text()).toContain("account");
    expect(signedIn.headers.get("cache-control")).toBe("private, no-store");
  });

  it('a later middleware\'s next("/account") rewrite is protected like /account, with returnTo the page asked for', async () => {
    const html = { accept: "text/html" };
    const signedOut = await fetch(`${site.url}/via-next?tab=2`, { headers: html, redirect: "manual" });
    expect(signedOut.status).toBe(302);
    expect(signedOut.headers.get("location")).toBe("/login?returnTo=%2Fvia-next%3Ftab%3D2");
    expect(await signedOut.text()).not.toContain("account");
    const json = await fetch(`${site.url}/via-next`, { redirect: "manual" });
    expect(json.status).toBe(401);
    const signedIn = await fetch(`${site.url}/via-next`, {
      headers: { ...html, cookie: await cookieHeader(await signIn(provider)) },
      redirect: "manual",
    });
    expect(signedIn.status).toBe(200);
    expect(await signedIn.text()).toContain("account");
    expect(signedIn.headers.get("cache-control")).toBe("private, no-store");
  });

  it("no configuration value reaches a client asset (the marker is in the server bundle only)", () => {
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? files(path) : [path];
      });
    const client = files(join(root, "dist/client"));
    expect(client.some((path) => path.endsWith(".js"))).toBe(true);
    for (const path of client) expectNoSecretIn(readFileSync(path, "utf8"), MARKER, path);
    expect(files(join(root, "dist/server")).some((path) => readFileSync(path, "utf8").includes(MARKER))).toBe(
      true,
    );
  });

  it("App.Locals['tokenkeep'] is typed by the injected types, without an env.d.ts", () => {
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    expect(() =>
      execFileSync(process.execPath, [tsc, "--noEmit", "-p", root], { encoding: "utf8" }),
    ).not.toThrow();
  }, 30_000);
});
