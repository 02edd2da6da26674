import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    passWithNoTests: true,
    // Real servers, PostgreSQL and scrypt: CI runs packages concurrently on 2 cores, so leave headroom
    // above the ~1 s the slowest test takes on an idle machine.
    testTimeout: 20_000,
  },
});
