/**
 * The built fixture against a custom-endpoint API (astro-tokenkit's shape) whose refresh tokens are
 * single use and reuse-detecting, like a careful API's: the config's parser function runs in the
 * built server, and parallel requests cause one refresh.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintSecret } from "../../../test/reliability/src/secret-registry.js";
import { listen, type RunningServer, readBody, sendJson } from "../../grants/test/fixtures/http.js";
import { cookieHeader, getSession, SECRET, sha256 } from "./helpers/sessions.js";
import { fixtureRoot, type RunningSite, serveBuilt } from "./helpers/site.js";

describe("built site, custom-endpoint upstream", () => {
  let api: RunningServer;
  let site: RunningSite;
  const live = new Set<string>();
  let refreshes = 0;
  let reuses = 0;
  let generation = 0;
  // Each token, by name (`token-1`, `renew-0`): minted once and registered (secret-registry.ts).
  const minted = new Map<string, string>();
  const named = (name: string, label: string): string => {
    if (!minted.has(name)) minted.set(name, mintSecret(label, { prefix: `${name}-` }));
    return minted.get(name)!;
  };
  const token = (n: number) => named(`token-${n}`, "access token");
  const renewal = (n: number) => named(`renew-${n}`, "refresh token");

  beforeAll(async () => {
    api = await listen(async (request: IncomingMessage, response: ServerResponse) => {
      const body = JSON.parse(await readBody(request)) as { refreshToken?: string };
      if (request.url !== "/auth/refresh") return sendJson(response, 404, {});
      refreshes++;
      const presented = body.refreshToken ?? "";
      if (!live.delete(presented)) {
        reuses++;
        return sendJson(response, 401, { message: "refresh token reused or unknown" });
      }
      generation++;
      const renew = renewal(generation);
      live.add(renew);
      // A shape no field mapping guesses: only the config's parseRefresh reads it.
      sendJson(response, 200, { result: { token: token(generation), renew, ttl: 600 } });
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

  it("20 parallel requests of one expiring session: one refresh, read by the config's parser function", async () => {
    live.add(renewal(0));
    const cookie = await cookieHeader({
      accessToken: token(0),
      tokenType: "Bearer",
      expiresAt: Date.now() + 5_000,
      refreshToken: renewal(0),
    });
    const answers = await Promise.all(Array.from({ length: 20 }, () => getSession(site.url, cookie)));
    expect(refreshes).toBe(1);
    expect(reuses).toBe(0);
    for (const answer of answers) {
      expect(answer.body.signedIn).toBe(true);
      expect(answer.body.tokenHash).toBe(sha256(token(1)));
      expect(answer.body.sessionPayload).toEqual({ parsedBy: "fixture parseRefresh" });
    }
  });
});
