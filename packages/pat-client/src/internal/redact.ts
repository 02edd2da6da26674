import { redactSecrets } from "@tokenkeep/core/http";

/**
 * A deep copy of a JSON value with every secret removed from its strings by core's `redactSecrets`
 * (the one rule of every tokenkeep client: in clear or in any encoding a request carried it, as the
 * exchange's form body quotes `client_secret=pat_...%2B%2F...%3D`; a secret under 8 characters only
 * where it stands alone): a server (or a proxy) that echoes the request must not put the PAT or the
 * JWT into an error the caller logs.
 */
export function redactJson(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === "string") return redactSecrets(value, secrets);
  if (Array.isArray(value)) return value.map((item) => redactJson(item, secrets));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactJson(item, secrets)]));
  }
  return value;
}
