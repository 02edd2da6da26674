/**
 * The two modes: `short` (the default, inside the workspace's `npm test`, seconds) and `long`
 * (`pnpm --filter @tokenkeep/reliability-tests long`, minutes, the README's figures). Set by
 * `scripts/run.mjs` through `RELIABILITY_MODE`.
 */
export type Mode = "short" | "long";

export const MODE: Mode = process.env.RELIABILITY_MODE === "long" ? "long" : "short";

/** How much each suite does in the current mode. */
export const SCALE = {
  short: { callers: 20, fuzzRuns: 150, cliRuns: 60 },
  long: { callers: 500, fuzzRuns: 5_000, cliRuns: 600 },
}[MODE];
