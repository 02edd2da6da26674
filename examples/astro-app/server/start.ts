// Starts the built site (`pnpm build` first). With no upstream configured (AUTH_ISSUER unset) it
// first starts a local OpenID provider, the API and a PAT server on free loopback ports, and points
// the site at them; with AUTH_ISSUER set it uses what the environment names (see the README).
//
//   pnpm build && pnpm start
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type LocalServers, startLocalServers, USERS } from "@tokenkeep/example-local-servers";

const env = process.env;
const entry = fileURLToPath(new URL("../dist/server/entry.mjs", import.meta.url));
if (!existsSync(entry)) {
  console.error("dist/server/entry.mjs is missing: run `pnpm build` first.");
  process.exit(1);
}

let local: LocalServers | undefined;
if (env.AUTH_ISSUER === undefined || env.AUTH_ISSUER === "") {
  env.ACCESS_TOKEN_LIFETIME_S ??= "30"; // the session page shows when a token was issued from it
  local = await startLocalServers({ accessTokenLifetimeS: Number(env.ACCESS_TOKEN_LIFETIME_S) });
  env.AUTH_ISSUER = local.issuer;
  env.AUTH_CLIENT_ID = local.clientId;
  env.AUTH_CLIENT_SECRET = local.clientSecret;
  env.API_URL = local.apiUrl;
  env.PAT_URL ??= local.patUrl;
  env.PAT_ADMIN_TOKEN ??= local.patAdminToken ?? "";
  const [user, password] = Object.entries(USERS)[0]!;
  console.log(`authorization server (oidc-provider): ${local.issuer}`);
  console.log(`API: ${local.apiUrl}`);
  console.log(`PAT server (SQLite in memory): ${local.patUrl}`);
  console.log(`sign in as ${user} / ${password}`);
}
if (env.TOKENKEEP_SECRET === undefined || env.TOKENKEEP_SECRET === "") {
  // A secret for this run only: sessions do not survive a restart. Set your own to keep them.
  env.TOKENKEEP_SECRET = randomBytes(32).toString("base64url");
  console.log("TOKENKEEP_SECRET not set: using a random one for this run");
}
env.HOST ??= "127.0.0.1";
env.PORT ??= "4321";

const stop = async () => {
  await local?.close();
  process.exit(0);
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
// Run by `npm run demo`: stop with the parent even when it could not signal (its pipe closes).
if (env.EXIT_WITH_STDIN === "1") process.stdin.on("end", stop).resume();

await import(entry);
console.log(`site: http://${env.HOST}:${env.PORT}/`);
