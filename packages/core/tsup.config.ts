import { defineConfig } from "tsup";
import { internalPropsPattern } from "./src/internal/internal-props.js";

export default defineConfig({
  entry: {
    // One folder per public entry: the tree is the export map.
    index: "src/index.ts",
    http: "src/http/index.ts",
    "memory-store": "src/memory-store/index.ts",
    options: "src/options/index.ts",
    rotation: "src/rotation/index.ts",
    shared: "src/shared/index.ts",
    testing: "src/testing/index.ts",
  },
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "es2023",
  minifySyntax: true,
  // The manager's internal fields, shortened: see src/internal/internal-props.ts.
  esbuildOptions(options) {
    options.mangleProps = internalPropsPattern();
  },
});
