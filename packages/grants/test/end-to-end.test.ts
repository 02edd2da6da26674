import { createTokenManager } from "@tokenkeep/core";
import { createAuthFetch } from "@tokenkeep/core/http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientCredentialsGrant } from "../src/index.js";
import { listen, type RunningServer, sendJson } from "./fixtures/http.js";
import { CLIENTS, type OidcProviderServer, RESOURCE, startOidcProvider } from "./fixtures/oidc-provider.js";

const LIFETIME_S = 5;
const DURATION_MS = 10_000;
const CALLERS = 50;
const PAUSE_MS = 100;

let op: OidcProviderServer;
let api: RunningServer;

beforeAll(async () => {
  op = await startOidcProvider({ accessTokenTtlS: LIFETIME_S });
  // The protected resource asks the authorization server about every token it is shown (RFC 7662),
  // so an expired token really is refused.
  api = await listen(async (request, response) => {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
    const answer = token
      ? await fetch(`${op.issuer}/token/introspection`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            token,
            client_id: CLIENTS.service.id,
            client_secret: CLIENTS.service.secret,
          }),
        }).then((reply) => reply.json() as Promise<{ active: boolean }>)
      : { active: false };
    if (answer.active) sendJson(response, 200, { ok: true });
    else
      sendJson(
        response,
        401,
        { error: "invalid_token" },
        { "www-authenticate": 'Bearer error="invalid_token"' },
      );
  });
});
afterAll(() => Promise.all([api.close(), op.close()]));

describe("end to end: manager + clientCredentialsGrant + createAuthFetch", () => {
  it(
    "serves 50 concurrent callers for 10 s with 5 s tokens, fetching about once per token lifetime",
    async () => {
      // oidc-provider counts in whole seconds (iat is floored, a token is dead once the second reaches
      // exp), so a "5 s" token lives between 4 and 5 s. A 2.5 s skew hands a token out at most 2.5 s
      // after sending, which leaves at least 1.5 s for the request and the resource server's
      // introspection even on a loaded machine (with 2 s tokens and a 1 s skew that margin was 0.1 s,
      // and a busy machine saw 401s: a token obtained after an invalidation is, by design, not
      // invalidated again within `unauthorizedCooldownMs`). Refreshing ahead at 40% keeps the
      // background refresh ahead of the skew.
      const refreshAheadRatio = 0.4;
      const jitterRatio = 0.1;
      const manager = createTokenManager({
        creator: clientCredentialsGrant({
          issuer: op.issuer,
          clientId: CLIENTS.service.id,
          clientSecret: CLIENTS.service.secret,
          resource: RESOURCE,
        }),
        skewMs: 2_500,
        maxSkewFraction: 0.5,
        refreshAheadRatio,
        refreshAheadJitterRatio: jitterRatio,
      });
      const authFetch = createAuthFetch(manager, { origins: [api.url] });
      const before = op.hits.get("/token") ?? 0;

      const statuses = new Map<number, number>();
      const end = Date.now() + DURATION_MS;
      const caller = async () => {
        while (Date.now() < end) {
          const response = await authFetch(`${api.url}/data`);
          await response.arrayBuffer();
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
        }
      };
      await Promise.all(Array.from({ length: CALLERS }, caller));
      await manager.dispose();

      const requests = [...statuses.values()].reduce((sum, count) => sum + count, 0);
      expect(requests).toBeGreaterThan(CALLERS * 3);
      expect(Object.fromEntries(statuses)).toEqual({ 200: requests });

      // One fetch per refresh-ahead period (the earliest point, jitter included), plus the first one
      // and one for slack: never one per caller.
      const tokenCalls = (op.hits.get("/token") ?? 0) - before;
      const periodMs = LIFETIME_S * 1000 * refreshAheadRatio * (1 - jitterRatio);
      expect(tokenCalls).toBeLessThanOrEqual(Math.ceil(DURATION_MS / periodMs) + 2);
      // The tokens really did expire and get replaced along the way.
      expect(tokenCalls).toBeGreaterThanOrEqual(DURATION_MS / (LIFETIME_S * 1000));
    },
    DURATION_MS + 20_000,
  );
});
