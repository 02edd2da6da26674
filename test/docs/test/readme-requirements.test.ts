/**
 * Every published package's README says what it takes to use it before anything else: ESM only, the
 * minimum Node (the one its `engines` states), and the TypeScript settings that resolve its exports.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { REPO_ROOT as repo } from "../../reliability/src/repo-root.js";

const packages = readdirSync(`${repo}/packages`)
  .filter((name) => existsSync(`${repo}/packages/${name}/package.json`))
  .map((name) => ({
    name,
    manifest: JSON.parse(readFileSync(`${repo}/packages/${name}/package.json`, "utf8")) as {
      private?: boolean;
      engines?: { node?: string };
    },
  }))
  .filter(({ manifest }) => !manifest.private);

describe("package READMEs state the requirements", () => {
  it("covers the published packages", () => {
    expect(packages.map(({ name }) => name)).toEqual(
      expect.arrayContaining(["core", "grants", "pat-client", "pat-protocol", "pat-server", "redis"]),
    );
  });

  for (const { name, manifest } of packages) {
    it(`${name}: ESM only, the minimum Node and the TypeScript settings`, () => {
      const readme = readFileSync(`${repo}/packages/${name}/README.md`, "utf8");
      const minimum = manifest.engines?.node?.replace(/^>=\s*/, "");
      expect(minimum, "engines.node").toMatch(/^\d+\.\d+/);
      expect(readme).toContain("ESM only");
      expect(readme).toContain(`Node.js ${minimum} or newer`);
      expect(readme).toMatch(/"module": "nodenext"/);
      expect(readme).toMatch(/"moduleResolution": "bundler"/);
    });
  }
});
