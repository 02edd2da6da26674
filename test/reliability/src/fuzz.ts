/**
 * fast-check with a replayable seed: `RELIABILITY_SEED` (a number) replays a run; otherwise a fresh
 * seed is drawn and printed with any failure (fast-check's report names it too), as
 * `RELIABILITY_SEED=<seed> pnpm --filter @tokenkeep/reliability-tests test`.
 */
import fc from "fast-check";
import { SCALE } from "./mode";

const fromEnv = process.env.RELIABILITY_SEED;

/** The seed of this run. */
export const SEED: number =
  fromEnv !== undefined && fromEnv !== "" ? Number(fromEnv) : Date.now() ^ (Math.random() * 0x7fffffff);

/** `fc.assert` with this run's seed and the mode's number of runs; the seed is printed on failure. */
export async function check<T>(
  name: string,
  property: fc.IAsyncProperty<T> | fc.IProperty<T>,
  numRuns: number = SCALE.fuzzRuns,
): Promise<void> {
  try {
    await fc.assert(property as fc.IAsyncProperty<T>, { seed: SEED, numRuns });
  } catch (error) {
    console.error(`fuzz "${name}" failed: replay with RELIABILITY_SEED=${SEED}`);
    throw error;
  }
}
