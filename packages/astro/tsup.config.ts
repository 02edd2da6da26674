import { defineConfig } from "tsup";

export default defineConfig({
  // One entry per public subpath (package.json "exports"); the tree under src/ mirrors them.
  entry: {
    index: "src/index.ts",
    config: "src/config/index.ts",
    middleware: "src/middleware/index.ts",
    server: "src/server/index.ts",
    "routes/login": "src/routes/login.ts",
    "routes/logout": "src/routes/logout.ts",
  },
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "es2023",
  // Resolved by the integration's Vite plugin inside the user's server bundle, never by us.
  external: ["virtual:tokenkeep/config"],
});
