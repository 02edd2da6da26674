import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    // The runtime-agnostic client: no `node:` modules, no CLI libraries.
    index: "src/index.ts",
    // The Node-only `tokenkeep-pat` command (the `bin`); it has no types to publish.
    cli: "src/cli/main.ts",
  },
  format: ["esm"],
  dts: { entry: { index: "src/index.ts" } },
  clean: true,
  sourcemap: true,
  target: "es2023",
});
