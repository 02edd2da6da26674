/**
 * One place where every secret of this package's tests is made and remembered: client secrets,
 * passwords, PATs and the tokens servers issue. `mintSecret` makes one; `registerSecret` records one
 * made elsewhere (a token a server issued, a PAT `issueToken` returned). When the run has an output
 * folder (`RELIABILITY_OUT`, set by `scripts/run.mjs`), each one is appended to its `secrets.jsonl`,
 * and after the run the sweep (`scripts/run.mjs`, using {@link findLeaks}) searches everything else in
 * that folder and the run's own stdout and stderr for every registered secret.
 */

/** The file, inside the output folder, that lists registered secrets (never swept itself). */
export const SECRETS_FILE = "secrets.jsonl";

export {
  findLeaks,
  type Leak,
  MIN_SECRET_LENGTH,
  type SecretForm,
  secretForms,
  sweep,
} from "./leak-scan.mjs";
export { mintSecret, registeredSecrets, registerSecret } from "./secret-registry";
