// A small backend job that calls a protected API with the client credentials grant. It prints what
// the token manager does, so the lifecycle is visible: fetched once, reused by every call, refreshed in
// the background before it expires.
//
//   pnpm start                               # starts its own authorization server and API
//   TOKEN_URL=https://auth.example.com/oauth/token CLIENT_ID=... CLIENT_SECRET=... \
//   API_URL=https://api.example.com/reports SCOPE=reports:read pnpm start
import { createTokenManager, type TokenEvent } from "@tokenkeep/core";
import { createAuthFetch } from "@tokenkeep/core/http";
import { clientCredentialsGrant } from "@tokenkeep/grants";
import { configure } from "./configure.ts";

const TOKEN_LIFETIME_S = 4; // short, so a refresh happens while you watch
const DURATION_MS = Number(process.env.DEMO_DURATION_MS ?? 5_000); // counted from the first call
const INTERVAL_MS = 500;

const started = performance.now();
const log = (line: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(2)}s] ${line}`);

const config = await configure(TOKEN_LIFETIME_S);
if (config.local) {
  log(`authorization server (oidc-provider): ${config.local.issuer}, tokens live ${TOKEN_LIFETIME_S} s`);
  log(`protected API: ${config.apiUrl}`);
}

// Tokens are numbered in the order they arrive; the log never shows a token itself.
let tokens = 0;
const describe = (event: TokenEvent): string | undefined => {
  switch (event.type) {
    case "miss":
      return "no usable token cached: fetching one";
    case "hit":
      return `token #${tokens} reused from the cache`;
    case "refresh-start":
      return event.background
        ? `token #${tokens} is near its end: refreshing ahead in the background`
        : undefined;
    case "refresh-success": {
      tokens += 1;
      const inS = ((event.expiresAt ?? event.at) - event.at) / 1000;
      return `token fetched: token #${tokens}, expires in ${inS.toFixed(1)} s`;
    }
    case "refresh-failure":
      return `token request failed: ${String(event.error)}`;
    case "retry":
      return `retrying the token request in ${event.delayMs} ms`;
    case "coalesced":
      return "joined the token request already in flight";
    default:
      return undefined;
  }
};

const manager = createTokenManager({
  creator: clientCredentialsGrant(config.grant),
  // Refresh in the background once half the lifetime has passed (the default is 0.75), so with these
  // short tokens a call always lands in the refresh-ahead window.
  refreshAheadRatio: 0.5,
  onEvent: (event) => {
    const line = describe(event);
    if (line) log(line);
  },
});
const authFetch = createAuthFetch(manager, { origins: [new URL(config.apiUrl).origin] });

let calls = 0;
let failures = 0;
try {
  const firstCallAt = performance.now();
  // Two callers at once first: they share one token request.
  const first = await Promise.all([authFetch(config.apiUrl), authFetch(config.apiUrl)]);
  for (const response of first) {
    calls += 1;
    log(`GET ${new URL(config.apiUrl).pathname} -> ${response.status} ${await response.text()}`);
  }
  while (performance.now() - firstCallAt < DURATION_MS) {
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS));
    const response = await authFetch(config.apiUrl);
    calls += 1;
    if (!response.ok) failures += 1;
    log(`GET ${new URL(config.apiUrl).pathname} -> ${response.status} ${await response.text()}`);
  }
  const stats = manager.stats();
  log(`done: ${calls} API calls, ${failures} failed; tokens fetched: ${tokens}; cache hits: ${stats.hits}`);
} finally {
  await manager.dispose();
  await config.close();
}
process.exitCode = failures === 0 ? 0 : 1;
