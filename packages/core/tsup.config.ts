import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    index: "src/index.ts",
    http: "src/http.ts",
    "memory-store": "src/memory-store-entry.ts",
    options: "src/options.ts",
    rotation: "src/rotation.ts",
    shared: "src/shared.ts",
    testing: "src/testing/index.ts",
  },
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "es2023",
});
