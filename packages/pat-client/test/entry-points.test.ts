import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const DIST = new URL("../dist/", import.meta.url);

/** Every module specifier imported by `file` and, recursively, by the local chunks it imports. */
function importsOf(file: string, seen = new Set<string>()): Set<string> {
  const specifiers = new Set<string>();
  if (seen.has(file)) return specifiers;
  seen.add(file);
  const code = readFileSync(fileURLToPath(new URL(file, DIST)), "utf8");
  for (const match of code.matchAll(
    /(?:^|\n)\s*(?:import|export)[^"']*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g,
  )) {
    const specifier = (match[1] ?? match[2])!;
    if (specifier.startsWith("./"))
      for (const inner of importsOf(specifier.slice(2), seen)) specifiers.add(inner);
    else specifiers.add(specifier);
  }
  return specifiers;
}

describe("built entry points", () => {
  it("the client entry imports no node: module and no CLI library", () => {
    const imports = [...importsOf("index.js")];
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((specifier) => /^node:|^commander$|^cli-table3$/.test(specifier))).toEqual([]);
    expect(imports).toEqual(
      expect.arrayContaining(["ky", "zod", "@tokenkeep/core", "@tokenkeep/pat-protocol"]),
    );
  });

  it("the CLI entry is an executable Node script", () => {
    const code = readFileSync(fileURLToPath(new URL("cli.js", DIST)), "utf8");
    expect(code.startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect([...importsOf("cli.js")]).toEqual(expect.arrayContaining(["commander", "cli-table3"]));
  });
});
