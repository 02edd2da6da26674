// The token manager's soak, in a process of its own started with --expose-gc (so heap figures are
// taken after a full collection): CALLS getToken calls over IDENTITIES identities with maxEntries
// MAX_ENTRIES, a creator answering at once. Prints one JSON line: the heap after each tenth of the
// calls (after warm-up: the first tenth fills the cache), creator calls, the timers alive while
// running and after dispose (the manager's own, counted through its `timers` option, and Node's
// active Timeout handles).
// Usage: node --expose-gc scripts/soak-token-manager.mjs CALLS IDENTITIES MAX_ENTRIES
import { createTokenManager } from "@tokenkeep/core";

const [calls = 0, identities = 0, maxEntries = 0] = process.argv.slice(2).map(Number);
if (typeof globalThis.gc !== "function") throw new Error("run with --expose-gc");
const gc = globalThis.gc;

let live = 0;
let set = 0;
/** @type {Set<ReturnType<typeof setTimeout>>} */
const handles = new Set();
const timers = {
  /** @param {() => void} callback @param {number} ms */
  setTimeout(callback, ms) {
    set++;
    const handle = setTimeout(() => {
      handles.delete(handle);
      callback();
    }, ms);
    handles.add(handle);
    return handle;
  },
  /** @param {ReturnType<typeof setTimeout>} handle */
  clearTimeout(handle) {
    handles.delete(handle);
    clearTimeout(handle);
  },
};
const nodeTimeouts = () => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;
const timeoutsBefore = nodeTimeouts();

let created = 0;
let hang = false;
const manager = createTokenManager({
  maxEntries,
  timers,
  creator: async ({ identity, signal }) => {
    created++;
    if (hang) await new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
    return { access_token: `soak-${identity.user}-${created}`, token_type: "Bearer", expires_in: 3600 };
  },
});

// A fixed pseudo-random walk over the identities (same every run), most of them outside the cache.
let state = 0x9e3779b9;
const next = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) % identities;
};
const heapMb = () => {
  gc();
  return Math.round((process.memoryUsage().heapUsed / 2 ** 20) * 100) / 100;
};

const samples = [];
const started = performance.now();
const batch = 1000;
for (let done = 0; done < calls; done += batch) {
  const wave = [];
  for (let i = 0; i < batch; i++) wave.push(manager.getToken({ identity: { user: `u${next()}` } }));
  live = Math.max(live, handles.size); // while the wave's fetches are in flight
  await Promise.all(wave);
  if ((done + batch) % (calls / 10) === 0) samples.push(heapMb());
}
const elapsedMs = performance.now() - started;
// Dispose with fetches in flight: a last wave of new identities whose creator never answers.
hang = true;
const stuck = [];
for (let i = 0; i < 100; i++)
  stuck.push(manager.getToken({ identity: { user: `stuck${i}` } }).catch((e) => e.code));
const timersWhileRunning = handles.size;
await manager.dispose();
const stuckCodes = [...new Set(await Promise.all(stuck))];
await new Promise((resolve) => setImmediate(resolve));
const afterWarmUp = samples.slice(1);
console.log(
  JSON.stringify({
    calls,
    identities,
    maxEntries,
    creatorCalls: created,
    elapsedMs: Math.round(elapsedMs),
    heapMb: samples,
    heapSpreadMb: Math.round((Math.max(...afterWarmUp) - Math.min(...afterWarmUp)) * 100) / 100,
    heapGrowthMb: Math.round(((afterWarmUp.at(-1) ?? 0) - (afterWarmUp[0] ?? 0)) * 100) / 100,
    managerTimersSet: set,
    managerTimersPeak: live,
    managerTimersWhileRunning: timersWhileRunning,
    managerTimersAfterDispose: handles.size,
    inFlightAtDispose: stuckCodes,
    nodeTimeoutsAfterDispose: nodeTimeouts() - timeoutsBefore,
  }),
);
