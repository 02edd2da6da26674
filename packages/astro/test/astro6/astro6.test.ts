/**
 * Astro 6 still works: the latest astro 6.x with @astrojs/node 10.x, installed from the npm registry
 * into a temp project beside the packed @tokenkeep packages, builds the fixture, refuses to start
 * without a cookie secret (or with protection covering the routes only its second entry asks
 * for), signs in, serves a request with the session and rotates it, and protects a page the last
 * middleware rewrote to with next("/account").
 * Not part of the package's `pnpm test` (it installs a second Astro): `pnpm --filter @tokenkeep/astro
 * test:astro6`, which the workspace's `npm test` runs after its turbo stage.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listen, type RunningServer, readBody, sendJson } from "../../../grants/test/fixtures/http.js";
import { packWorkspacePackages } from "../helpers/registry.js";
import { cookieHeader, SECRET } from "../helpers/sessions.js";
import { fixtureRoot, runBuiltUntilExit, serveBuilt } from "../helpers/site.js";

const run = promisify(execFile);

describe("Astro 6 (latest 6.x, @astrojs/node 10.x)", () => {
  let dir: string;
  let site: string;
  let api: RunningServer;
  let astroVersion = "";
  let issued = 0;
  const live = new Set<string>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokenkeep-astro6-"));
    site = join(dir, "site");
    await mkdir(site, { recursive: true });
    await packWorkspacePackages(["astro", "core", "grants"], join(dir, "tarballs"));
    await cp(fixtureRoot("astro6"), site, { recursive: true });
    const tarball = (name: string) => `file:../tarballs/tokenkeep-${name}-0.0.0.tgz`;
    await writeFile(
      join(site, "package.json"),
      JSON.stringify({
        name: "astro6-site",
        private: true,
        type: "module",
        dependencies: { astro: "^6.4.0", "@astrojs/node": "^10.1.0", "@tokenkeep/astro": tarball("astro") },
        pnpm: { overrides: { "@tokenkeep/core": tarball("core"), "@tokenkeep/grants": tarball("grants") } },
      }),
    );
    const { stdout: store } = await run("pnpm", ["store", "path"]);
    const env = { ...process.env, ASTRO_TELEMETRY_DISABLED: "1", npm_config_store_dir: store.trim() };
    await run("pnpm", ["install", "--reporter=append-only"], { cwd: site, env });
    astroVersion = JSON.parse(await readFile(join(site, "node_modules/astro/package.json"), "utf8")).version;
    await run(process.execPath, ["node_modules/astro/bin/astro.mjs", "build"], { cwd: site, env });

    api = await listen(async (request: IncomingMessage, response: ServerResponse) => {
      const body = JSON.parse(await readBody(request)) as { username?: string; refreshToken?: string };
      if (request.url === "/auth/login" && body.username === "ada") {
        issued++;
        live.add(`rt-${issued}`);
        return sendJson(response, 200, {
          accessToken: `at-${issued}`,
          refreshToken: `rt-${issued}`,
          expiresIn: 600,
          user: { name: "ada" },
        });
      }
      if (request.url === "/auth/refresh" && live.delete(body.refreshToken ?? "")) {
        issued++;
        live.add(`rt-${issued}`);
        return sendJson(response, 200, {
          accessToken: `at-${issued}`,
          refreshToken: `rt-${issued}`,
          expiresIn: 600,
        });
      }
      sendJson(response, 401, {});
    });
  }, 240_000);

  afterAll(async () => {
    await api?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("installed astro 6", () => {
    expect(astroVersion).toMatch(/^6\./);
  });

  it("without TOKENKEEP_SECRET the built server exits at once, naming the variable", async () => {
    const exited = await runBuiltUntilExit(site, { NODE_ENV: "production" });
    expect(exited.code, exited.output).not.toBeNull();
    expect(exited.code).not.toBe(0);
    expect(exited.output).toContain("no cookie secret. Set TOKENKEEP_SECRET");
    expect(exited.listened).toBe(false);
  });

  it("listed twice, routes on the second entry only: protection covering them stops the server as it starts", async () => {
    const exited = await runBuiltUntilExit(site, { TOKENKEEP_SECRET: SECRET, FIXTURE_PROTECT_ALL: "1" });
    expect(exited.code, exited.output).not.toBeNull();
    expect(exited.code).not.toBe(0);
    expect(exited.output).toContain(
      "protect.paths.0: /* covers /_tokenkeep/login, a route the integration injects",
    );
    expect(exited.listened).toBe(false);
  });

  it("signs in, serves a request with the session, rotates an expiring one", async () => {
    const server = await serveBuilt(site, { TOKENKEEP_SECRET: SECRET, FIXTURE_API_URL: api.url });
    try {
      const login = await fetch(`${server.url}/_tokenkeep/login`, {
        method: "POST",
        headers: { "content-type": "application/json", "sec-fetch-site": "same-origin" },
        body: JSON.stringify({ username: "ada", password: "pw" }),
      });
      expect(await login.json()).toMatchObject({ signedIn: true, sessionPayload: { name: "ada" } });
      const cookie = login.headers
        .getSetCookie()
        .map((line) => line.split(";")[0])
        .join("; ");
      expect(cookie).toMatch(/^tokenkeep=tk1\./);

      const page = await fetch(`${server.url}/`, { headers: { cookie } });
      expect(await page.text()).toContain("in at-1");
      expect(page.headers.getSetCookie()).toEqual([]);

      live.add("rt-old");
      const expiring = await cookieHeader({
        accessToken: "at-old",
        tokenType: "Bearer",
        expiresAt: Date.now() + 5_000,
        refreshToken: "rt-old",
      });
      const rotated = await fetch(`${server.url}/`, { headers: { cookie: expiring } });
      expect(await rotated.text()).toContain(`in at-${issued}`);
      expect(live.has("rt-old")).toBe(false);
      expect(rotated.headers.getSetCookie()[0]).toMatch(/^tokenkeep=tk1\./);
    } finally {
      await server.close();
    }
  });

  it("the last middleware's next(\"/account\") is protected like /account (read from Astro 6's request state)", async () => {
    const server = await serveBuilt(site, { TOKENKEEP_SECRET: SECRET, FIXTURE_API_URL: api.url });
    try {
      const html = { accept: "text/html" };
      const direct = await fetch(`${server.url}/account`, { headers: html, redirect: "manual" });
      expect(direct.status).toBe(302);
      const rewritten = await fetch(`${server.url}/via-next?tab=2`, { headers: html, redirect: "manual" });
      expect(rewritten.status).toBe(302);
      expect(rewritten.headers.get("location")).toBe("/login?returnTo=%2Fvia-next%3Ftab%3D2");
      expect(await rewritten.text()).not.toContain("account page");
      live.add("rt-via");
      const cookie = await cookieHeader({
        accessToken: "at-via",
        tokenType: "Bearer",
        expiresAt: Date.now() + 600_000,
        refreshToken: "rt-via",
      });
      const signedIn = await fetch(`${server.url}/via-next`, {
        headers: { ...html, cookie },
        redirect: "manual",
      });
      expect(signedIn.status).toBe(200);
      expect(await signedIn.text()).toContain("account page");
      expect(signedIn.headers.get("cache-control")).toBe("private, no-store");
    } finally {
      await server.close();
    }
  });
});
