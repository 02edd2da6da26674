import { defineConfig } from "vitest/config";

export default defineConfig({
  // Each test starts the whole demo (servers, the backend, the built site): seconds on a busy machine.
  test: { include: ["test/**/*.test.ts"], testTimeout: 90_000, hookTimeout: 60_000 },
});
