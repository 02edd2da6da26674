/**
 * The one helper every test in the workspace registers its secrets with (client secrets, cookie
 * secrets, PATs, JWTs, issued access and refresh tokens), so the whole run's output can be searched
 * for them afterwards. Self-contained (Node's `fs` and `path` only) so any package's tests import it
 * by path (`../../../test/reliability/src/secret-registry`) without a dependency.
 *
 * When `TOKENKEEP_TEST_SECRETS` is `1` (scripts/test.sh sets it), each secret is appended to
 * `test-secrets.jsonl` in the test process's working folder (the package's folder: turbo
 * keeps the file as the test task's output, so a cached run brings its secrets back with its log);
 * scripts/secret-scan.mjs then searches `.tmp/turbo.log` for every one of them.
 *
 * A test mints its secrets with {@link mintSecret} (random, registered) and registers with
 * {@link registerSecret} what a server made (issued tokens, PATs, JWTs) or what must stay fixed.
 * Which packages' tests register what: test/reliability/README.md ("Covered packages").
 */
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process"; // imported, not global: grants' and astro's tests see no Node globals

/**
 * The shortest secret worth registering: shorter strings match ordinary text by chance.
 * (leak-scan.mjs holds the same number; a test checks they agree.)
 */
export const MIN_REGISTERED_SECRET_LENGTH = 12;

/**
 * Where the workspace run's registry lives, relative to a package's folder: at its top, not in a
 * dot-folder, because turbo's output globs skip hidden folders on Linux (gitignored at the root).
 */
export const WORKSPACE_SECRETS_FILE = "test-secrets.jsonl";

const registered = new Map<string, string>(); // secret -> label

/**
 * Records `secret` (for the run's search) and returns it unchanged, so minting stays one expression:
 * `const secret = registerSecret(randomSecret(), "client secret")`. Throws on a secret too short to
 * search for.
 * @param label what it is, printed when it leaks (never the secret itself)
 * @default label "secret"
 */
export function registerSecret(secret: string, label = "secret"): string {
  if (secret.length < MIN_REGISTERED_SECRET_LENGTH) {
    throw new Error(`registerSecret: a ${label} of ${secret.length} characters is too short to search for`);
  }
  if (registered.has(secret)) return secret;
  registered.set(secret, label);
  const line = `${JSON.stringify({ label, secret })}\n`;
  if (process.env.TOKENKEEP_TEST_SECRETS === "1") {
    appendFileSync(join(process.cwd(), WORKSPACE_SECRETS_FILE), line);
  }
  const out = process.env.RELIABILITY_OUT; // test/reliability's own sweep (scripts/run.mjs)
  if (out) appendFileSync(join(out, "secrets.jsonl"), line);
  return secret;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * A fresh random secret (24 random base64url characters after `prefix`), registered under `label`.
 * `odd` puts characters that base64, URL and form encoding all change (`+ / = % : & space`) in the
 * middle, for tests of encoding. Uses Web Crypto only, so it runs wherever the tests do.
 * @default options.prefix "s_"
 * @default options.odd false
 */
export function mintSecret(label: string, options: { prefix?: string; odd?: boolean } = {}): string {
  const random = Array.from(crypto.getRandomValues(new Uint8Array(24)), (byte) => ALPHABET[byte & 63]).join(
    "",
  );
  const body = options.odd ? `${random.slice(0, 12)}+/=% :&${random.slice(12)}` : random;
  return registerSecret(`${options.prefix ?? "s_"}${body}`, label);
}

/** Every secret registered in this process. */
export function registeredSecrets(): readonly string[] {
  return [...registered.keys()];
}

/** Every secret registered in this process, with its label (the shape `findLeaks` takes). */
export function registeredEntries(): readonly { readonly label: string; readonly secret: string }[] {
  return [...registered].map(([secret, label]) => ({ label, secret }));
}
