import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { INTERNAL_PROPS, internalPropsPattern } from "./internal-props.js";

const srcDir = fileURLToPath(new URL("..", import.meta.url));
const sources = (readdirSync(srcDir, { recursive: true }) as string[])
  .map((path) => path.split("\\").join("/"))
  .filter(
    (path) => path.endsWith(".ts") && !path.endsWith(".test.ts") && path !== "internal/internal-props.ts",
  );

/** Every place `name` is read or written as a property: `.name`, `name:`, `{ name }`, or quoted. */
const propertyUses = (text: string, name: string) =>
  text.match(new RegExp(`\\.${name}\\b|\\b${name}\\??:|[{,]\\s*${name}\\s*[,}]|["'\`]${name}["'\`]`, "g")) ??
  [];

describe("the property names the build shortens", () => {
  it("are used as properties only in the files that own them, and never quoted", () => {
    for (const [name, owners] of Object.entries(INTERNAL_PROPS)) {
      const users = sources.filter((path) => {
        // Comments may name them; code may not, elsewhere.
        const code = readFileSync(join(srcDir, path), "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
        const uses = propertyUses(code, name);
        expect(
          uses.filter((use) => /^["'`]/.test(use)),
          `${name} quoted in ${path}`,
        ).toEqual([]);
        return uses.length > 0;
      });
      expect(users.sort(), name).toEqual([...owners].sort());
    }
  });

  it("leave public options, stored and wire fields, event and error fields alone", () => {
    const pattern = internalPropsPattern();
    // Names a caller, a store or a server sees (a sample of each kind, including near misses).
    for (const name of [
      "refreshAt",
      "expiresAt",
      "accessToken",
      "until",
      "set",
      "obtainedAt",
      "retryAfterMs",
      "waitUntil",
    ])
      expect(pattern.test(name), name).toBe(false);
    for (const name of Object.keys(INTERNAL_PROPS)) expect(pattern.test(name), name).toBe(true);
  });
});
