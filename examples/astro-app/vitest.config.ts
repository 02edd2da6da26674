import { defineConfig } from "vitest/config";

export default defineConfig({
  // Building the site and starting its servers takes seconds on a busy machine.
  test: { globalSetup: ["test/global-setup.ts"], hookTimeout: 120_000, testTimeout: 30_000 },
});
