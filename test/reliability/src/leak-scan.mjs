// The search behind "no secret anywhere", in plain JavaScript so scripts/run.mjs runs it on any Node
// the workspace supports (no type stripping needed); src/secrets.ts re-exports it with its types.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

/** The shortest secret worth registering: shorter strings would match ordinary text by chance. */
export const MIN_SECRET_LENGTH = 12;

/**
 * One way a secret can appear in output.
 * @typedef {{ readonly kind: "clear" | "url" | "base64"; readonly text: string }} SecretForm
 */

/**
 * One secret found in output: what it was registered as (`client secret`, `access token`...), which
 * form matched, and where (a file name, `stdout` or `stderr`). Never the secret itself.
 * @typedef {{ readonly label: string; readonly form: SecretForm["kind"]; readonly where: string }} Leak
 */

/**
 * The forms a secret can take in output: clear, URL-encoded (percent, lower-case percent, form), and
 * base64 (standard and URL alphabets) at each of the three byte alignments, so a secret inside a
 * longer encoded string (`Basic base64(id:secret)`) is found too. Each base64 form keeps only the
 * characters that depend on the secret's bytes alone.
 * @param {string} secret
 * @returns {SecretForm[]}
 */
export function secretForms(secret) {
  /** @type {SecretForm[]} */
  const forms = [{ kind: "clear", text: secret }];
  /** @param {SecretForm["kind"]} kind @param {string} text */
  const add = (kind, text) => {
    if (!forms.some((form) => form.text === text)) forms.push({ kind, text });
  };
  const percent = encodeURIComponent(secret);
  add("url", percent);
  add(
    "url",
    percent.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()),
  );
  add("url", new URLSearchParams({ x: secret }).toString().slice(2));
  const bytes = Buffer.from(secret, "utf8");
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes])
      .toString("base64")
      .replace(/=+$/, "");
    const inner = encoded.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + bytes.length)) / 6));
    if (inner.length >= MIN_SECRET_LENGTH) {
      add("base64", inner);
      add("base64", inner.replaceAll("+", "-").replaceAll("/", "_"));
    }
  }
  return forms;
}

/**
 * Searches each named text for each secret in every {@link secretForms} form.
 * @param {readonly { readonly label: string; readonly secret: string }[]} secrets
 * @param {readonly { readonly where: string; readonly text: string }[]} texts
 * @returns {Leak[]}
 */
export function findLeaks(secrets, texts) {
  /** @type {Leak[]} */
  const leaks = [];
  for (const { label, secret } of secrets) {
    const forms = secretForms(secret);
    for (const { where, text } of texts) {
      const hit = forms.find((form) => text.includes(form.text));
      if (hit) leaks.push({ label, form: hit.kind, where });
    }
  }
  return leaks;
}

/**
 * The sweep of one run: every secret listed in `dir/secrets.jsonl` searched for in every other file
 * under `dir` and in `texts` (the run's stdout and stderr).
 * @param {string} dir
 * @param {readonly { readonly where: string; readonly text: string }[]} texts
 * @returns {{ secrets: number; searched: number; leaks: Leak[] }}
 */
export function sweep(dir, texts) {
  const listed = join(dir, "secrets.jsonl");
  const secrets = existsSync(listed)
    ? readFileSync(listed, "utf8")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => /** @type {{ label: string; secret: string }} */ (JSON.parse(line)))
    : [];
  const all = [...texts];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    if (!entry.isFile() || path === listed) continue;
    all.push({ where: relative(dir, path), text: readFileSync(path, "utf8") });
  }
  return { secrets: secrets.length, searched: all.length, leaks: findLeaks(secrets, all) };
}
