import { defineConfig } from "tsup";

/** One entry per public export subpath (the root must stay free of `node:`, `pg` and `node:sqlite`). */
const entries = ["src/index.ts", "src/sqlite/index.ts", "src/postgres/index.ts", "src/node/index.ts"];

export default defineConfig({
  entry: {
    index: "src/index.ts",
    "sqlite/index": "src/sqlite/index.ts",
    "postgres/index": "src/postgres/index.ts",
    "node/index": "src/node/index.ts",
    cli: "src/cli.ts",
  },
  format: ["esm"],
  dts: { entry: Object.fromEntries(entries.map((file) => [file.slice(4, -3), file])) },
  clean: true,
  sourcemap: true,
  target: "es2023",
  platform: "node",
  // Keep `node:` specifiers: `node:sqlite` has no bare alias.
  removeNodeProtocol: false,
});
