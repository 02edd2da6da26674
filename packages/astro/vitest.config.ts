import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // Astro 6 compatibility installs a second Astro: its own script (test:astro6), not the default run.
    exclude: [...configDefaults.exclude, "test/astro6/**"],
    globalSetup: ["test/global-setup.ts"],
    // Building and starting Astro sites takes seconds on a busy 2-core machine.
    hookTimeout: 60_000,
    testTimeout: 30_000,
  },
});
