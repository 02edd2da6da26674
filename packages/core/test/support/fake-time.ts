import type { Timers } from "../../src/internal/timers.js";

/** A deterministic clock and timers for tests: time moves only when `advance` is called. */
export interface FakeTime {
  now: () => number;
  timers: Timers;
  /** Moves time forward by `ms`, firing due timers in order and letting promises settle between. */
  advance(ms: number): Promise<void>;
  /** Lets pending promises (and crypto.subtle work) settle without moving time. */
  settle(): Promise<void>;
  /** Timers not yet fired or cleared. */
  pending(): number;
}

// One turn of the real event loop: setImmediate where the runtime has it (setTimeout(0) waits 1 ms).
const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
const realTick = () =>
  new Promise<void>((resolve) => (immediate ? immediate(resolve) : setTimeout(resolve, 0)));

// crypto.subtle work (store keys are SHA-256 hashes) runs on a thread pool and takes as long as the
// machine makes it: counting the digests in flight lets `settle` wait for them instead of guessing.
let digestsInFlight = 0;
const TRACKED = Symbol.for("tokenkeep.test.trackedDigest");
function trackDigests(): void {
  const subtle = crypto.subtle as SubtleCrypto & { [TRACKED]?: true };
  if (subtle[TRACKED]) return;
  const digest = subtle.digest.bind(subtle);
  Object.defineProperty(subtle, "digest", {
    configurable: true,
    value: (...args: Parameters<SubtleCrypto["digest"]>) => {
      digestsInFlight++;
      return digest(...args).finally(() => digestsInFlight--);
    },
  });
  subtle[TRACKED] = true;
}

/**
 * @param start - The initial time, epoch ms.
 * @param options.crypto - Whether `settle` also waits for crypto.subtle work (needed with a store,
 *   whose keys are hashed); turn it off to make settling cheaper.
 */
export function createFakeTime(start = 1_700_000_000_000, options: { crypto?: boolean } = {}): FakeTime {
  const waitForCrypto = options.crypto ?? true;
  if (waitForCrypto) trackDigests();
  let current = start;
  let sequence = 0;
  const queue = new Map<number, { at: number; callback: () => void }>();
  // Promises settle within a few macrotask turns; a digest in flight is waited for (however long the
  // loaded machine takes), then the turns are given again, since its result may start more work.
  const settle = async () => {
    for (let round = 0; round < 1_000; round++) {
      for (let i = 0; i < 4; i++) await realTick();
      if (!waitForCrypto || digestsInFlight === 0) return;
      while (digestsInFlight > 0) await realTick();
    }
  };
  return {
    now: () => current,
    timers: {
      setTimeout(callback, ms) {
        const id = ++sequence;
        queue.set(id, { at: current + Math.max(0, ms), callback });
        return id;
      },
      clearTimeout(handle) {
        queue.delete(handle as number);
      },
    },
    async advance(ms) {
      const target = current + ms;
      for (;;) {
        await settle();
        let next: [number, { at: number; callback: () => void }] | undefined;
        for (const item of queue) if (item[1].at <= target && (!next || item[1].at < next[1].at)) next = item;
        if (!next) break;
        queue.delete(next[0]);
        current = next[1].at;
        next[1].callback();
      }
      current = target;
      await settle();
    },
    settle,
    pending: () => queue.size,
  };
}
