// The workspace run's "no secret anywhere" search: every secret that any package's tests registered
// (src/secret-registry.ts writes `<package>/test-secrets.jsonl` when TOKENKEEP_TEST_SECRETS=1)
// looked for in the run's captured logs (.tmp/turbo.log holds every package's test output), in clear,
// URL-encoded and base64 forms (leak-scan.mjs). Plain JavaScript: scripts/secret-scan.mjs runs it
// on any Node the workspace supports.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { findLeaks } from "./leak-scan.mjs";

/** The registry file of one package, relative to its folder (as src/secret-registry.ts writes it). */
export const PACKAGE_SECRETS_FILE = "test-secrets.jsonl";

/** The workspace's package folders: packages/*, examples/* and test/*. */
const GROUPS = ["packages", "examples", "test"];

/**
 * Every registered secret of the workspace, with the package folder that registered it.
 * @param {string} root
 * @returns {{ label: string; secret: string; where: string }[]}
 */
export function registeredInWorkspace(root) {
  /** @type {{ label: string; secret: string; where: string }[]} */
  const found = [];
  for (const group of GROUPS) {
    const dir = join(root, group);
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = join(dir, entry.name, PACKAGE_SECRETS_FILE);
      if (!entry.isDirectory() || !existsSync(file)) continue;
      for (const line of readFileSync(file, "utf8").split("\n")) {
        if (line.trim() === "") continue;
        const { label, secret } = /** @type {{ label: string; secret: string }} */ (JSON.parse(line));
        found.push({ label: `${group}/${entry.name}: ${label}`, secret, where: `${group}/${entry.name}` });
      }
    }
  }
  return found;
}

/**
 * Searches `logs` (paths) for every secret registered in the workspace under `root`.
 * @param {string} root
 * @param {readonly string[]} logs
 * @returns {{ secrets: number; packages: number; logs: number; leaks: import("./leak-scan.mjs").Leak[] }}
 */
export function scanWorkspace(root, logs) {
  const secrets = registeredInWorkspace(root);
  const texts = logs.map((path) => ({
    where: path,
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips terminal colours
    text: readFileSync(path, "utf8").replace(/\x1b\[[0-9;]*m/g, ""),
  }));
  return {
    secrets: secrets.length,
    packages: new Set(secrets.map((entry) => entry.where)).size,
    logs: texts.length,
    leaks: findLeaks(secrets, texts),
  };
}
