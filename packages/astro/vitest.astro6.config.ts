import { defineConfig } from "vitest/config";

// `pnpm test:astro6`: Astro 6 compatibility (installs astro 6.x into a temp project; about a minute).
export default defineConfig({
  test: {
    include: ["test/astro6/**/*.test.ts"],
    hookTimeout: 240_000,
    testTimeout: 30_000,
  },
});
