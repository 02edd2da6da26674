import { createPatHandler, issueToken, type PatHandlerOptions, type PatStore } from "@tokenkeep/pat-server";
import { serve } from "@tokenkeep/pat-server/node";
import { createSqliteStore } from "@tokenkeep/pat-server/sqlite";
import { onTestFinished } from "vitest";
import { registerSecret } from "../../../../test/reliability/src/secret-registry.js";

/** A real PAT server on 127.0.0.1, with counters of what reached it. */
export interface TestServer {
  readonly url: string;
  readonly store: PatStore;
  /** Requests that reached `POST /auth/token`. */
  readonly exchanges: () => number;
  /** Requests per `METHOD path` (path without the query). */
  readonly requests: Map<string, number>;
  /** An admin PAT, issued straight into the store. */
  readonly adminToken: string;
  /** Moves the server's clock (JWT verification, expiry) by `ms`. */
  advanceClock(ms: number): void;
  issue(input: Parameters<typeof issueToken>[1]): Promise<{ token: string; tokenId: string }>;
}

/**
 * Starts the real `@tokenkeep/pat-server` handler on SQLite (in memory) on 127.0.0.1 and a free port,
 * wrapped to count requests, and closes it when the test finishes. scrypt is cheap (log2 cost 10)
 * and the exchange's rate limit is off, so tests measure the client, not the hashing.
 */
export async function startTestServer(options: Partial<PatHandlerOptions> = {}): Promise<TestServer> {
  const store = createSqliteStore({ path: ":memory:" });
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;
  const handler = createPatHandler({
    store,
    scryptLog2Cost: 10,
    rateLimit: false,
    lastUsedFlushMs: 0,
    now,
    onError: () => {},
    ...options,
  });
  const requests = new Map<string, number>();
  const served = await serve(async (request) => {
    const key = `${request.method} ${new URL(request.url).pathname}`;
    requests.set(key, (requests.get(key) ?? 0) + 1);
    return handler(request);
  });
  onTestFinished(async () => {
    await served.close();
    await handler.close();
    await store.close();
  });
  const issue: TestServer["issue"] = async (input) => {
    const issued = await issueToken(store, input, { scryptLog2Cost: 10, now });
    if (!issued) throw new Error("token id taken");
    return { token: registerSecret(issued.token, "PAT"), tokenId: issued.record.tokenId };
  };
  const admin = await issue({ owner: "admin", isAdmin: true });
  return {
    url: served.url,
    store,
    requests,
    exchanges: () => requests.get("POST /auth/token") ?? 0,
    adminToken: admin.token,
    advanceClock: (ms) => {
      offsetMs += ms;
    },
    issue,
  };
}
