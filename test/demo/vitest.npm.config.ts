import { defineConfig } from "vitest/config";

// `npm run demo` through npm and scripts/run.sh (npm/npm-demo.test.ts): run by scripts/test.sh after
// turbo's stage, never inside it (run.sh builds, which would race other tasks' builds).
export default defineConfig({
  test: { include: ["npm/**/*.test.ts"], testTimeout: 180_000, hookTimeout: 60_000 },
});
