import { defineConfig } from "vitest/config";

// The Cluster and Sentinel tests start six redis-server processes and kill some of them: they run
// after the other files (a second group), so their load does not skew the timed tests of the first.
const topology = ["test/cluster.test.ts", "test/sentinel.test.ts"];

export default defineConfig({
  test: {
    passWithNoTests: true,
    projects: [
      {
        extends: true,
        test: {
          name: "redis",
          include: ["src/**/*.test.ts", "test/**/*.test.ts"],
          exclude: topology,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: "redis-topology", include: topology, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
