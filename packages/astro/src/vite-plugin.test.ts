import { describe, expect, it } from "vitest";
import { buildTimeEnvMessage, buildTimeEnvReads } from "./vite-plugin.js";

describe("buildTimeEnvReads", () => {
  it("finds private names read by property or by bracket, and the object used whole", () => {
    const code = [
      "const url = import.meta.env.UPSTREAM_URL;",
      'const secret = import.meta.env["CLIENT_SECRET"];',
      "const { OTHER } = import.meta.env;",
    ].join("\n");
    expect(buildTimeEnvReads(code)).toEqual([
      "import.meta.env.UPSTREAM_URL",
      "import.meta.env.CLIENT_SECRET",
      "import.meta.env",
    ]);
  });

  it("leaves PUBLIC_ names, Astro's built-ins, comments and process.env alone", () => {
    const code = [
      "if (import.meta.env.DEV || import.meta.env.PROD) console.log(import.meta.env.MODE);",
      "const site = import.meta.env.SITE + import.meta.env.BASE_URL + import.meta.env.PUBLIC_API;",
      "// import.meta.env.COMMENTED_OUT",
      "/* import.meta.env.BLOCK */ const base = 'https://example.test'; // import.meta.env.TRAILING",
      "const secret = process.env.CLIENT_SECRET;",
    ].join("\n");
    expect(buildTimeEnvReads(code)).toEqual([]);
  });

  it("names each read and its process.env replacement, never a value", () => {
    const message = buildTimeEnvMessage(
      ["import.meta.env.UPSTREAM_URL", "import.meta.env"],
      "/site/src/tokenkeep.config.ts",
    );
    expect(message).toContain(
      "/site/src/tokenkeep.config.ts reads import.meta.env.UPSTREAM_URL, import.meta.env:",
    );
    expect(message).toContain("instead: process.env.UPSTREAM_URL (or astro:env/server)");
  });
});
