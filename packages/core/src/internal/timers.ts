/**
 * The timer seam. The manager never reads the global `setTimeout` at module load: it takes timers as
 * an option (fake ones make tests deterministic), and clears them all on dispose.
 *
 * Whether a timer keeps a Node or Bun process alive depends on whether anyone waits: while at least
 * one caller waits (`hold`: a `getToken`, `invalidate` or `rotate` not yet settled) every timer of the
 * set is ref'd, so the backoff, lease poll or deadline its promise depends on keeps the process
 * running; otherwise every handle is unref'd (where the runtime has `unref`), so an idle manager, or
 * a background refresh nobody waits for, never keeps a process alive.
 */

import { raceAbort } from "./deadline.js";

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

/** A timer handle: Node's and Bun's have `ref`/`unref`, a browser's is a number (a no-op here). */
type Handle = { ref?(): void; unref?(): void } | null | undefined;

/** Timers that are tracked, ref'd only while a caller waits, and cleared together. */
export interface TimerSet {
  /** Runs `callback` after `ms`; returns a function that cancels it. */
  schedule(callback: () => void, ms: number): () => void;
  /** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** Keeps every timer of the set ref'd until `promise` (a caller's wait) settles; returns `promise`. */
  hold<T>(promise: Promise<T>): Promise<T>;
  /** Cancels every pending timer. */
  clear(): void;
}

/** Wraps `timers` so every handle can be cleared at once, and is unref'd while no caller waits. */
export function createTimerSet(timers: Timers): TimerSet {
  const pending = new Set<unknown>();
  let waiting = 0;
  const schedule = (callback: () => void, ms: number) => {
    const handle = timers.setTimeout(() => {
      pending.delete(handle);
      callback();
    }, ms);
    if (!waiting) (handle as Handle)?.unref?.();
    pending.add(handle);
    return () => {
      if (pending.delete(handle)) timers.clearTimeout(handle);
    };
  };
  return {
    schedule,
    sleep(ms, signal) {
      let cancel!: () => void;
      return raceAbort(
        new Promise<void>((resolve) => {
          cancel = schedule(resolve, ms);
        }),
        signal,
      ).finally(cancel);
    },
    hold(promise) {
      if (!waiting++) for (const handle of pending) (handle as Handle)?.ref?.();
      const release = () => {
        if (!--waiting) for (const handle of pending) (handle as Handle)?.unref?.();
      };
      promise.then(release, release);
      return promise;
    },
    clear() {
      for (const handle of pending) timers.clearTimeout(handle);
      pending.clear();
    },
  };
}
