import { redactSecrets } from "@tokenkeep/core/http";

/**
 * Replaces every occurrence of a secret in `text` with `[redacted]`, in clear or encoded as a request
 * carried it (the exchange sends the PAT form-encoded: a server echoing its raw body quotes
 * `client_secret=pat_...%2B%2F...%3D`). Secrets shorter than 8 characters are ignored.
 */
export function redactText(text: string, secrets: readonly string[]): string {
  return redactSecrets(
    text,
    secrets.filter((secret) => secret.length >= 8),
  );
}

/**
 * A deep copy of a JSON value with every secret removed from its strings: a server (or a proxy) that
 * echoes the request must not put the PAT or the JWT into an error the caller logs.
 */
export function redactJson(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === "string") return redactText(value, secrets);
  if (Array.isArray(value)) return value.map((item) => redactJson(item, secrets));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactJson(item, secrets)]));
  }
  return value;
}
