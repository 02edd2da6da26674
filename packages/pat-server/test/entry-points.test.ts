import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const dist = fileURLToPath(new URL("../dist/", import.meta.url));

/**
 * Every module specifier outside the package that `entry` (a built file) loads: at startup only
 * (static imports), or also through dynamic `import()`.
 */
function externalImports(entry: string, { dynamic = true } = {}): Set<string> {
  const pattern = dynamic
    ? /(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g
    : /(?:\bfrom\s*|\bimport\s+)["']([^"']+)["']/g;
  const found = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const code = readFileSync(file, "utf8");
    for (const match of code.matchAll(pattern)) {
      const specifier = match[1]!;
      if (specifier.startsWith(".")) visit(resolve(dirname(file), specifier));
      else found.add(specifier);
    }
  };
  visit(join(dist, entry));
  return found;
}

const nodeOnly = (specifiers: Set<string>) =>
  [...specifiers].filter((specifier) => specifier.startsWith("node:") || specifier === "pg");

describe("entry points (built)", () => {
  it.skipIf(!existsSync(join(dist, "index.js")))(
    "the root entry loads no node: module and not pg, so it runs on Deno, Bun and workerd",
    () => {
      expect(nodeOnly(externalImports("index.js"))).toEqual([]);
    },
  );

  it.skipIf(!existsSync(join(dist, "index.js")))("the subpaths hold what is Node-only", () => {
    expect(externalImports("sqlite/index.js")).toContain("node:sqlite");
    expect(nodeOnly(externalImports("sqlite/index.js"))).not.toContain("pg");
    expect(externalImports("postgres/index.js")).toContain("pg");
    expect(externalImports("node/index.js")).toContain("node:http");
    // The command loads `pg` only for --postgres-url (a dynamic import), never at start.
    expect(externalImports("cli.js", { dynamic: false })).not.toContain("pg");
    expect(externalImports("cli.js")).toContain("pg");
  });
});
