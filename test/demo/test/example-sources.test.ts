// What the examples run reaches other packages by their names only: never a package's tests (its
// fixtures may change or go with any test refactor) nor its sources. Only the examples' own tests may
// share the suite's helpers. A static check of every import, dynamic import and `/// <reference>`.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const examples = resolve(dirname(fileURLToPath(import.meta.url)), "../../../examples");
const skipped = new Set(["node_modules", "dist", "test", ".astro", ".demo"]);
const specifiers = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|reference\s+path=)["']([^"']+)["']/g;

function* sources(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skipped.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (/\.(?:[cm]?[jt]s|tsx|astro)$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)) yield path;
  }
}

it("every example's own code stays inside the example: other packages only by name", () => {
  const outside: string[] = [];
  let checked = 0;
  for (const example of readdirSync(examples, { withFileTypes: true })) {
    if (!example.isDirectory()) continue;
    const root = join(examples, example.name);
    for (const file of sources(root)) {
      for (const [, specifier] of readFileSync(file, "utf8").matchAll(specifiers)) {
        checked++;
        if (!specifier!.startsWith(".")) continue;
        const target = resolve(dirname(file), specifier!);
        if (target !== root && !target.startsWith(root + sep)) {
          outside.push(`${relative(examples, file)}: ${specifier}`);
        }
      }
    }
  }
  expect(checked).toBeGreaterThan(20); // the scan saw the examples' imports
  expect(outside).toEqual([]);
});
