import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Real sockets and the documented 30 s budget in the long mode.
    testTimeout: process.env.RELIABILITY_MODE === "long" ? 120_000 : 20_000,
    // Faults are timed: the suites run one file at a time so they do not slow each other down.
    fileParallelism: false,
  },
});
