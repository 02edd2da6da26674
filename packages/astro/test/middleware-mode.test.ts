/**
 * @astrojs/node in middleware mode (test/fixtures/middleware-mode): the built entry exports a handler
 * that the fixture's serve.mjs mounts in a plain node:http server, as an Express or Fastify app would.
 * Importing that handler without a cookie secret stops the process; with one, an expiring session's
 * parallel requests cause one refresh at a single-use, reuse-detecting custom-endpoint API.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintSecret } from "../../../test/reliability/src/secret-registry.js";
import { listen, type RunningServer, readBody, sendJson } from "../../grants/test/fixtures/http.js";
import { cookieHeader, SECRET, sha256 } from "./helpers/sessions.js";
import { buildFixture, type RunningSite, runBuiltUntilExit, serveBuilt } from "./helpers/site.js";

const SERVE = "serve.mjs";

describe("@astrojs/node middleware mode", () => {
  let root: string;
  let api: RunningServer;
  let site: RunningSite;
  const live = new Set<string>();
  let refreshes = 0;
  let reuses = 0;
  const minted = new Map<string, string>();
  const named = (name: string, label: string): string => {
    if (!minted.has(name)) minted.set(name, mintSecret(label, { prefix: `${name}-` }));
    return minted.get(name)!;
  };

  beforeAll(async () => {
    root = await buildFixture("middleware-mode");
    api = await listen(async (request: IncomingMessage, response: ServerResponse) => {
      const body = JSON.parse(await readBody(request)) as { refreshToken?: string };
      if (request.url !== "/auth/refresh") return sendJson(response, 404, {});
      refreshes++;
      if (!live.delete(body.refreshToken ?? "")) {
        reuses++;
        live.clear();
        return sendJson(response, 401, { message: "refresh token reused or unknown" });
      }
      const refreshToken = named(`renew-${refreshes}`, "refresh token");
      live.add(refreshToken);
      sendJson(response, 200, {
        accessToken: named(`token-${refreshes}`, "access token"),
        refreshToken,
        expiresIn: 600,
      });
    });
    site = await serveBuilt(root, { TOKENKEEP_SECRET: SECRET, FIXTURE_API_URL: api.url }, SERVE);
  }, 90_000);

  afterAll(async () => {
    await site?.close();
    await api?.close();
  });

  it("importing the built handler without TOKENKEEP_SECRET throws, naming the variable; nothing listens", async () => {
    const exited = await runBuiltUntilExit(root, { FIXTURE_API_URL: api.url }, { script: SERVE });
    expect(exited.code, exited.output).not.toBeNull();
    expect(exited.code).not.toBe(0);
    expect(exited.output).toContain("no cookie secret. Set TOKENKEEP_SECRET");
    expect(exited.listened).toBe(false);
  });

  it("20 parallel requests of one expiring session: one refresh, one sealed cookie each, the context bound", async () => {
    live.add(named("renew-0", "refresh token"));
    const cookie = await cookieHeader({
      accessToken: named("token-0", "access token"),
      tokenType: "Bearer",
      expiresAt: Date.now() + 5_000,
      refreshToken: named("renew-0", "refresh token"),
    });
    const answers = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const response = await fetch(`${site.url}/api/session`, { headers: { cookie } });
        return {
          body: (await response.json()) as { signedIn: boolean; tokenHash: string; sameInStorage: boolean },
          setCookie: response.headers.getSetCookie(),
        };
      }),
    );
    expect(refreshes).toBe(1);
    expect(reuses).toBe(0);
    for (const { body, setCookie } of answers) {
      expect(body).toEqual({
        signedIn: true,
        tokenHash: sha256(named("token-1", "access token")),
        sameInStorage: true,
      });
      expect(setCookie).toHaveLength(1);
      expect(setCookie[0]).toMatch(/^tokenkeep=tk1\.[^;]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax$/);
    }
  });
});
