// The same backend as a long-running service (what `npm run demo` runs): it calls the protected API
// through createAuthFetch every INTERVAL_MS, counts what the token manager does from its events, and
// serves those counters as JSON on a loopback port, for a dashboard (the Astro example's /backend).
//
//   node src/service.ts                      # its own local servers, status on a free port
//   TOKEN_URL=... CLIENT_ID=... CLIENT_SECRET=... API_URL=... STATUS_PORT=8787 node src/service.ts
//
// It prints `status: http://127.0.0.1:<port>/` once listening, and stops on SIGINT or SIGTERM (and,
// with EXIT_WITH_STDIN=1, when its standard input closes: its parent is gone).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createTokenManager } from "@tokenkeep/core";
import { createAuthFetch } from "@tokenkeep/core/http";
import { clientCredentialsGrant } from "@tokenkeep/grants";
import { configure } from "./configure.ts";

const env = process.env;
const TOKEN_LIFETIME_S = Number(env.TOKEN_LIFETIME_S ?? 20);
const INTERVAL_MS = Number(env.INTERVAL_MS ?? 1_000);

const config = await configure(TOKEN_LIFETIME_S);

/** What the dashboard shows; every field counted from the manager's events, never a token. */
const counters = {
  /** API calls made through createAuthFetch, and how many answered 2xx. */
  fetches: 0,
  ok: 0,
  /** Tokens answered from the in-process cache. */
  cacheHits: 0,
  /** Token requests sent (first fetch and every refresh). */
  tokenFetches: 0,
  /** Refreshes started in the background before expiry, no caller waiting. */
  refreshAhead: 0,
  /** Retries of a transient token endpoint failure. */
  retries: 0,
  /** Token requests that failed after their retries. */
  refreshFailures: 0,
  /** When the current token expires (epoch ms). */
  tokenExpiresAt: undefined as number | undefined,
  lastStatus: undefined as number | undefined,
  lastCallAt: undefined as number | undefined,
};
/** The counters as the status endpoint serves them (JSON). */
export type BackendCounters = typeof counters;
const startedAt = Date.now();

const manager = createTokenManager({
  creator: clientCredentialsGrant(config.grant),
  refreshAheadRatio: 0.5,
  onEvent: (event) => {
    switch (event.type) {
      case "hit":
        counters.cacheHits++;
        break;
      case "refresh-start":
        counters.tokenFetches++;
        if (event.background) counters.refreshAhead++;
        break;
      case "refresh-success":
        counters.tokenExpiresAt = event.expiresAt;
        break;
      case "refresh-failure":
        counters.refreshFailures++;
        break;
      case "retry":
        counters.retries++;
        break;
    }
  },
});
const authFetch = createAuthFetch(manager, { origins: [new URL(config.apiUrl).origin] });

const status = createServer((request, response) => {
  const path = new URL(request.url ?? "/", "http://x").pathname;
  if (path !== "/") {
    response.writeHead(404, { "content-type": "application/json" });
    response.end('{"error":"not_found"}');
    return;
  }
  response.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
  response.end(
    JSON.stringify({
      api: config.apiUrl,
      intervalMs: INTERVAL_MS,
      startedAt,
      counters,
      stats: manager.stats(),
    }),
  );
});
await new Promise<void>((resolve) => status.listen(Number(env.STATUS_PORT ?? 0), "127.0.0.1", resolve));
console.log(`status: http://127.0.0.1:${(status.address() as AddressInfo).port}/`);

let timer: ReturnType<typeof setTimeout> | undefined;
let stopping = false;
async function call(): Promise<void> {
  try {
    const response = await authFetch(config.apiUrl);
    await response.arrayBuffer();
    counters.lastStatus = response.status;
    if (response.ok) counters.ok++;
  } catch {
    counters.lastStatus = 0; // the error names the cause; the counters only count it
  }
  counters.fetches++;
  counters.lastCallAt = Date.now();
  if (!stopping) timer = setTimeout(call, INTERVAL_MS);
}
void call();

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearTimeout(timer);
  status.closeAllConnections();
  await new Promise((resolve) => status.close(resolve));
  await manager.dispose();
  await config.close();
  process.exit(0);
}
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
if (env.EXIT_WITH_STDIN === "1") {
  process.stdin.on("end", stop).resume();
}
