/**
 * Token endpoint faults through a real TCP proxy in front of a real token endpoint: for each fault,
 * first as a burst (the first 2 requests, then healthy) and then persistent (every request), N
 * concurrent callers of one core token manager whose creator is grants' `clientCredentialsGrant`.
 *
 * Asserted from the documented options: every caller settles, within `fetchTimeoutMs` (plus a little
 * for the event loop), with a token the server issued or a coded `ERR_TOKENKEEP_*` error; the callers
 * share one fetch, so the proxy sees at most `retries + 1` requests; nothing is left in flight.
 *
 * The network is real, so the clock is too: the short mode uses short option values (a 3 s budget),
 * the long mode the documented defaults (30 s). Its figures go to the README's Reliability section.
 */
import {
  createTokenManager,
  isTokenkeepError,
  type TokenManagerOptions,
  type TokenSet,
} from "@tokenkeep/core";
import { clientCredentialsGrant } from "@tokenkeep/grants";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAULTS, type Fault, startFaultProxy } from "../src/fault-proxy";
import { MODE, SCALE } from "../src/mode";
import { dumpError, recordFigure } from "../src/output";
import { startTokenServer, type TokenServer } from "../src/token-server";

/** The manager's and the grant's options: short values in the short mode, the defaults in the long. */
const OPTIONS =
  MODE === "short"
    ? {
        retry: { retries: 3, baseDelayMs: 50, maxDelayMs: 1_500 },
        creatorTimeoutMs: 400,
        fetchTimeoutMs: 3_000,
        grantTimeoutMs: 400,
        slowByteMs: 100,
        slackMs: 750,
      }
    : {
        retry: { retries: 3, baseDelayMs: 200, maxDelayMs: 10_000 },
        creatorTimeoutMs: 30_000,
        fetchTimeoutMs: 30_000,
        grantTimeoutMs: 30_000,
        slowByteMs: 1_000,
        slackMs: 2_000,
      };
const BURST = 2;
const RETRY_AFTER_SECONDS = 1;

/** What persistent faults may end in: the documented error of each. */
const PERSISTENT_CODES: Record<Fault, readonly string[]> = {
  "5xx": ["ERR_TOKENKEEP_INVALID_RESPONSE", "ERR_TOKENKEEP_TIMEOUT"],
  "429": ["ERR_TOKENKEEP_THROTTLED", "ERR_TOKENKEEP_INVALID_RESPONSE", "ERR_TOKENKEEP_TIMEOUT"],
  html: ["ERR_TOKENKEEP_INVALID_RESPONSE", "ERR_TOKENKEEP_TIMEOUT"],
  hang: ["ERR_TOKENKEEP_TIMEOUT"],
  reset: ["ERR_TOKENKEEP_NETWORK", "ERR_TOKENKEEP_TIMEOUT"],
  truncated: ["ERR_TOKENKEEP_INVALID_RESPONSE", "ERR_TOKENKEEP_TIMEOUT"],
  slow: ["ERR_TOKENKEEP_TIMEOUT"],
};

/** Faults for which the proxy forwards the request: the upstream issues a token nobody receives. */
const FORWARDING = new Set<Fault>(["reset", "truncated", "slow"]);

let server: TokenServer;
beforeAll(async () => {
  server = await startTokenServer();
});
afterAll(() => server.close());

interface Outcome {
  readonly ms: number;
  readonly set?: TokenSet;
  readonly code?: string;
}

async function runScenario(fault: Fault, variant: "burst" | "persistent") {
  const proxy = await startFaultProxy({
    upstream: new URL(server.tokenUrl).origin,
    schedule: (n) => (variant === "persistent" || n <= BURST ? fault : undefined),
    retryAfterSeconds: RETRY_AFTER_SECONDS,
    slowByteMs: OPTIONS.slowByteMs,
  });
  const requestsBefore = server.requests;
  const issuedBefore = server.issued;
  const managerOptions: TokenManagerOptions = {
    creator: clientCredentialsGrant({
      tokenUrl: `${proxy.url}/token`,
      clientId: server.clientId,
      clientSecret: server.clientSecret,
      timeoutMs: OPTIONS.grantTimeoutMs,
    }),
    retry: OPTIONS.retry,
    creatorTimeoutMs: OPTIONS.creatorTimeoutMs,
    fetchTimeoutMs: OPTIONS.fetchTimeoutMs,
  };
  const manager = createTokenManager(managerOptions);
  const started = performance.now();
  const callers = Array.from({ length: SCALE.callers }, () =>
    manager.getToken().then(
      (set): Outcome => ({ ms: performance.now() - started, set }),
      (error: unknown): Outcome => {
        dumpError(`${fault} ${variant}`, error);
        return {
          ms: performance.now() - started,
          code: isTokenkeepError(error) ? error.code : String(error),
        };
      },
    ),
  );
  // No caller left pending: every one settles before the budget (plus slack) runs out.
  const bound = OPTIONS.fetchTimeoutMs + OPTIONS.slackMs;
  let guard: NodeJS.Timeout | undefined;
  const pending = new Promise<"pending">((resolve) => {
    guard = setTimeout(() => resolve("pending"), bound);
  });
  const outcomes = await Promise.race([Promise.all(callers), pending]);
  clearTimeout(guard);
  const inFlight = manager.stats().inFlight;
  await manager.dispose();
  await proxy.close();
  expect(outcomes, `a caller was still pending after ${bound} ms`).not.toBe("pending");
  const settled = outcomes as Outcome[];

  const tokens = settled.filter((outcome) => outcome.set);
  const codes: Record<string, number> = {};
  for (const outcome of settled) if (outcome.code) codes[outcome.code] = (codes[outcome.code] ?? 0) + 1;
  const delivered = new Set(tokens.map((outcome) => outcome.set!.accessToken));
  const figure = {
    fault,
    variant,
    mode: MODE,
    callers: settled.length,
    tokens: tokens.length,
    codes,
    firstMs: Math.round(Math.min(...settled.map((outcome) => outcome.ms))),
    lastMs: Math.round(Math.max(...settled.map((outcome) => outcome.ms))),
    proxyRequests: proxy.requests,
    serverRequests: server.requests - requestsBefore,
    issuedNotDelivered: server.issued - issuedBefore - delivered.size,
    budgetMs: OPTIONS.fetchTimeoutMs,
  };
  recordFigure(figure);
  return { settled, tokens, codes, delivered, figure, inFlight };
}

describe.each(FAULTS)("token endpoint fault: %s", (fault) => {
  it(`a burst of ${BURST}: every caller gets one valid token within the budget`, async () => {
    const { settled, tokens, delivered, figure, inFlight } = await runScenario(fault, "burst");
    expect(inFlight).toBe(0);
    expect(tokens).toHaveLength(settled.length);
    expect(delivered.size).toBe(1);
    expect(server.isActive([...delivered][0]!)).toBe(true);
    expect(figure.lastMs).toBeLessThanOrEqual(OPTIONS.fetchTimeoutMs + OPTIONS.slackMs);
    // One shared fetch: the burst, then the request that succeeded.
    expect(figure.proxyRequests).toBe(BURST + 1);
    expect(figure.serverRequests).toBe(FORWARDING.has(fault) ? BURST + 1 : 1);
    expect(figure.issuedNotDelivered).toBe(FORWARDING.has(fault) ? BURST : 0);
    if (fault === "429") expect(figure.firstMs).toBeGreaterThanOrEqual(BURST * RETRY_AFTER_SECONDS * 1000);
  });

  it("persistent: every caller gets the same coded error within the budget, nothing pending", async () => {
    const { settled, codes, figure, inFlight } = await runScenario(fault, "persistent");
    expect(inFlight).toBe(0);
    expect(figure.tokens).toBe(0);
    expect(Object.keys(codes)).toHaveLength(1);
    expect(PERSISTENT_CODES[fault]).toContain(Object.keys(codes)[0]);
    expect(settled.every((outcome) => outcome.ms <= OPTIONS.fetchTimeoutMs + OPTIONS.slackMs)).toBe(true);
    expect(figure.proxyRequests).toBeGreaterThanOrEqual(1);
    expect(figure.proxyRequests).toBeLessThanOrEqual(OPTIONS.retry.retries + 1);
  });
});
