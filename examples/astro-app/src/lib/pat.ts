// The PAT admin client, for the admin page: the PAT server's URL and an admin PAT from the
// environment (the local demo starts a PAT server and bootstraps one).
import { PatAdminClient } from "@tokenkeep/pat-client";

let client: PatAdminClient | undefined;

/** The admin client, or `undefined` when no PAT server is configured. */
export function patAdmin(): PatAdminClient | undefined {
  const endpoint = process.env.PAT_URL;
  const apiKey = process.env.PAT_ADMIN_TOKEN;
  if (endpoint === undefined || apiKey === undefined) return undefined;
  client ??= new PatAdminClient({ endpoint, apiKey });
  return client;
}
