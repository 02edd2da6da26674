/**
 * One place where every secret of this package's tests is made and remembered: client secrets,
 * passwords, PATs and the tokens servers issue. `mintSecret` makes one; `registerSecret` records one
 * made elsewhere (a token a server issued, a PAT `issueToken` returned). When the run has an output
 * folder (`RELIABILITY_OUT`, set by `scripts/run.mjs`), each one is appended to its `secrets.jsonl`,
 * and after the run the sweep (`scripts/run.mjs`, using {@link findLeaks}) searches everything else in
 * that folder and the run's own stdout and stderr for every registered secret.
 */
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { MIN_SECRET_LENGTH } from "./leak-scan.mjs";

/** The file, inside the output folder, that lists registered secrets (never swept itself). */
export const SECRETS_FILE = "secrets.jsonl";

const registered = new Set<string>();

/** Records `secret` so the sweep looks for it; returns it unchanged. */
export function registerSecret(secret: string, label = "secret"): string {
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new Error(`registerSecret: a ${label} of ${secret.length} characters is too short to search for`);
  }
  if (registered.has(secret)) return secret;
  registered.add(secret);
  const out = process.env.RELIABILITY_OUT;
  if (out) appendFileSync(join(out, SECRETS_FILE), `${JSON.stringify({ label, secret })}\n`);
  return secret;
}

/**
 * A fresh random secret, registered. `odd` adds characters that base64, URL and form encoding all
 * change (`+ / = % : & space`), so the sweep's encoded forms differ from the clear one.
 */
export function mintSecret(label: string, options: { odd?: boolean } = {}): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  const core = Buffer.from(bytes).toString("base64url");
  const secret = options.odd ? `${core.slice(0, 12)}+/=% :&${core.slice(12)}` : `s_${core}`;
  return registerSecret(secret, label);
}

/** Every secret registered in this process. */
export function registeredSecrets(): readonly string[] {
  return [...registered];
}

export {
  findLeaks,
  type Leak,
  MIN_SECRET_LENGTH,
  type SecretForm,
  secretForms,
  sweep,
} from "./leak-scan.mjs";
