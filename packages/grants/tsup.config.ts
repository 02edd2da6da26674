import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    // One folder per public entry besides the main one: the tree is the export map.
    index: "src/index.ts",
    "client-assertion": "src/client-assertion/index.ts",
    dpop: "src/dpop/index.ts",
    introspection: "src/introspection/index.ts",
  },
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "es2023",
  minifySyntax: true,
});
