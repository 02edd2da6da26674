/**
 * The timer seam. The manager never reads the global `setTimeout` at module load: it takes timers as
 * an option (fake ones make tests deterministic), unrefs every handle when the runtime offers
 * `unref` (so no timer keeps a Node, Deno or Bun process alive), and clears them all on dispose.
 */

/** Timer functions the manager uses; the runtime's globals by default. */
export interface Timers {
  /** Runs `callback` once after `ms`; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels the timer of `handle` (a handle already fired or cleared is ignored). */
  clearTimeout(handle: unknown): void;
}

/** The runtime's own timers, read when called (not at module load). */
export function runtimeTimers(): Timers {
  return {
    setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
    clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
  };
}

/** Timers that are tracked, unref'd and cleared together. */
export interface TimerSet {
  /** Runs `callback` after `ms`; returns a function that cancels it. */
  schedule(callback: () => void, ms: number): () => void;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** Cancels every pending timer. */
  clear(): void;
}

/** Wraps `timers` so every handle is unref'd and can be cleared at once. */
export function createTimerSet(timers: Timers): TimerSet {
  const pending = new Set<unknown>();
  const schedule = (callback: () => void, ms: number) => {
    const handle = timers.setTimeout(() => {
      pending.delete(handle);
      callback();
    }, ms);
    const unref = (handle as { unref?: unknown } | null)?.unref;
    if (typeof unref === "function") unref.call(handle);
    pending.add(handle);
    return () => {
      if (pending.delete(handle)) timers.clearTimeout(handle);
    };
  };
  return {
    schedule,
    sleep(ms, signal) {
      return new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        const onAbort = () => {
          cancel();
          reject(signal.reason);
        };
        const cancel = schedule(() => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        }, ms);
        signal.addEventListener("abort", onAbort, { once: true });
      });
    },
    clear() {
      for (const handle of pending) timers.clearTimeout(handle);
      pending.clear();
    },
  };
}
