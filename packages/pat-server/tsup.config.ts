import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/cli.ts"],
  format: ["esm"],
  dts: { entry: "src/index.ts" },
  clean: true,
  sourcemap: true,
  target: "es2023",
  platform: "node",
  // Keep `node:` specifiers: `node:sqlite` has no bare alias.
  removeNodeProtocol: false,
});
