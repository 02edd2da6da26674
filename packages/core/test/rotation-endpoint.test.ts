/**
 * The rotation coordinator against a real token endpoint on 127.0.0.1 (port 0) that rotates refresh
 * tokens and detects reuse, through a redeemer that uses `fetch` and `readTokenResponse`, as
 * `refreshTokenGrant` does. No verifier: the coordinator cannot ask the server, so only an answer
 * that proves the token intact lets it present the token again (the manager's rule, one function).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readTokenResponse } from "../src/http/read-token-response.js";
import { createRotationCoordinator, type RotationRedeemContext } from "../src/rotation/rotation.js";

/** How the endpoint answers the next redemption: after rotating the token, or before touching it. */
type Fault = (response: ServerResponse) => { rotate: boolean };

let origin = "";
let closedPort = 0;
let live = new Set<string>();
let presented: string[] = [];
let reuses = 0;
let counter = 0;
const faults: Fault[] = [];

async function readBody(request: IncomingMessage): Promise<string> {
  let body = "";
  for await (const chunk of request) body += (chunk as Buffer).toString();
  return body;
}

const server = createServer(async (request, response) => {
  const refreshToken = new URLSearchParams(await readBody(request)).get("refresh_token") ?? "";
  presented.push(refreshToken);
  const fault = faults.shift();
  if (fault !== undefined && !fault(response).rotate) return;
  if (!live.delete(refreshToken)) {
    // A reuse: a reuse-detecting server revokes the whole family.
    reuses++;
    live.clear();
    response.writeHead(400, { "content-type": "application/json" });
    response.end(JSON.stringify({ error: "invalid_grant" }));
    return;
  }
  const next = `rt-${++counter}`;
  live.add(next);
  // The fault's answer was sent instead of the new pair: the new token is lost on the way.
  if (fault !== undefined) return;
  response.writeHead(200, { "content-type": "application/json" });
  response.end(JSON.stringify({ access_token: `at-${counter}`, expires_in: 300, refresh_token: next }));
});

const html503 =
  (headers: Record<string, string> = {}) =>
  (response: ServerResponse) => {
    response.writeHead(503, { "content-type": "text/html", ...headers });
    response.end("<html><body><h1>503 Service Unavailable</h1></body></html>");
  };

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A port nobody listens on, for a refused connection.
  const spare = createServer();
  await new Promise<void>((resolve) => spare.listen(0, "127.0.0.1", resolve));
  closedPort = (spare.address() as AddressInfo).port;
  await new Promise<void>((resolve) => spare.close(() => resolve()));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  live = new Set(["rt-0"]);
  presented = [];
  reuses = 0;
  counter = 0;
  faults.length = 0;
});

function coordinator(redeemAt: (attempt: number) => string = () => origin, now?: () => number) {
  let attempt = 0;
  return createRotationCoordinator({
    ...(now === undefined ? {} : { now }),
    redeem: async ({ refreshToken, signal, previous }: RotationRedeemContext) => {
      const sentAt = Date.now();
      const response = await fetch(`${redeemAt(attempt++)}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken }),
        signal,
      });
      return readTokenResponse(response, { sentAt, previous });
    },
  });
}

describe("the rotation coordinator against a real rotating token endpoint", () => {
  it.each([
    ["a bare HTML 503", html503()],
    ["an empty 503", (response: ServerResponse) => response.writeHead(503).end()],
  ])("%s after the server rotated: in doubt, the token is never presented again", async (_, answer) => {
    faults.push((response) => {
      answer(response);
      return { rotate: true };
    });
    await using rotation = coordinator();
    await expect(rotation.rotate("rt-0")).rejects.toMatchObject({
      code: "ERR_TOKENKEEP_ROTATION_IN_DOUBT",
      cause: expect.objectContaining({ status: 503 }),
    });
    await expect(rotation.rotate("rt-0")).rejects.toMatchObject({ code: "ERR_TOKENKEEP_ROTATION_IN_DOUBT" });
    expect(presented).toEqual(["rt-0"]);
    expect(reuses).toBe(0);
    expect(live).toEqual(new Set(["rt-1"])); // the grant survives, for whoever holds rt-1
  });

  it.each([
    [
      "a 503 with an OAuth error body",
      (response: ServerResponse) => {
        response.writeHead(503, { "content-type": "application/json" });
        response.end(JSON.stringify({ error: "temporarily_unavailable" }));
      },
    ],
    [
      "a 429",
      (response: ServerResponse) => {
        response.writeHead(429, { "content-type": "application/json" });
        response.end(JSON.stringify({ error: "slow_down" }));
      },
    ],
  ])(
    "%s is the server's refusal: the token is intact and the next rotation redeems it",
    async (_, answer) => {
      faults.push((response) => {
        answer(response);
        return { rotate: false };
      });
      await using rotation = coordinator();
      await expect(rotation.rotate("rt-0")).rejects.toMatchObject({ transient: true });
      expect((await rotation.rotate("rt-0")).refreshToken).toBe("rt-1");
      expect(presented).toEqual(["rt-0", "rt-0"]);
      expect(reuses).toBe(0);
    },
  );

  it("an HTML 503 with a Retry-After decades away: the token is intact, held back for maxThrottleMs (by every caller), then redeemed", async () => {
    faults.push((response) => {
      html503({ "retry-after": "Fri, 01 Jan 2100 00:00:00 GMT" })(response);
      return { rotate: false };
    });
    let clock = Date.now();
    await using rotation = coordinator(undefined, () => clock);
    await expect(rotation.rotate("rt-0")).rejects.toMatchObject({ transient: true });
    await expect(rotation.rotate("rt-0")).rejects.toMatchObject({
      code: "ERR_TOKENKEEP_THROTTLED",
      transient: true,
      retryAfterMs: 300_000,
    });
    clock += 300_000;
    expect((await rotation.rotate("rt-0")).refreshToken).toBe("rt-1");
    expect(presented).toEqual(["rt-0", "rt-0"]);
    expect(reuses).toBe(0);
  });

  it("a refused connection (the request never left): the next rotation redeems", async () => {
    await using rotation = coordinator((attempt) =>
      attempt === 0 ? `http://127.0.0.1:${closedPort}` : origin,
    );
    await expect(rotation.rotate("rt-0")).rejects.toBeInstanceOf(TypeError);
    expect((await rotation.rotate("rt-0")).refreshToken).toBe("rt-1");
    expect(presented).toEqual(["rt-0"]);
    expect(reuses).toBe(0);
  });
});
