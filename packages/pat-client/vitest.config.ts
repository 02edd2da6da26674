import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // Integration tests start real servers and, for the CLI, Node processes.
    testTimeout: 20_000,
  },
});
