/**
 * The store link: every call a coordinator (`shareStore`, the rotation coordinator) makes to a shared
 * {@link Store} goes through it. It bounds each call by `timeoutMs`, turns a failure into `FAILED`
 * instead of an exception, and keeps the degraded-mode bookkeeping:
 *
 * - the first failure marks the link degraded (reported once through `onChange`);
 * - while degraded, calls are skipped (`FAILED` at once) and a probe timer reads the store every
 *   `probeIntervalMs`; the first answer marks the link recovered (reported once), whether it came
 *   from the probe or from a call. The probe timer runs only while degraded;
 * - once closed (its owner was disposed) it calls the store no more: every call is `FAILED` at once,
 *   no probe is armed, and a probe or call still running when it closed neither re-arms nor reports.
 *   A call still running is `FAILED` at the close, not at its timeout: its owner clears every timer
 *   right after, so a call to a hanging store (an `invalidate` waiting on it) would never settle.
 */
import { createDeadline, notWithin, within } from "../internal/deadline.js";
import type { TimerSet } from "../internal/timers.js";
import type { Store } from "./store.js";

/** What a store call returns when the store failed, timed out, or is skipped while degraded. */
export const FAILED: unique symbol = Symbol("store failed");

/** The failure counters and degraded state of a link, as `stats()` reports them. */
export interface StoreLinkState {
  storeFailures: number;
  storeDegradedCount: number;
  storeDegradedMs: number;
  storeDegraded: boolean;
}

/** Store access with timeouts and degraded-mode bookkeeping. */
export interface StoreLink {
  readonly store: Store;
  /** The clock and timers the link was made with. */
  readonly now: () => number;
  readonly timers: TimerSet;
  /** Runs one store operation; `FAILED` instead of throwing. */
  call<T>(operation: (store: Store) => Promise<T>): Promise<T | typeof FAILED>;
  /** Failure counters and the degraded state. */
  state(): StoreLinkState;
  /**
   * Stops every use of the store for good: calls are `FAILED`, those still running too (at once),
   * and the probe stops. Idempotent.
   */
  close(): void;
}

/** Options of {@link createStoreLink}. */
export interface StoreLinkOptions {
  readonly store: Store;
  readonly timeoutMs: number;
  readonly probeIntervalMs: number;
  /** The key the probe reads (it never writes). */
  readonly probeKey: string;
  readonly now: () => number;
  readonly timers: TimerSet;
  /** Called once when the link becomes degraded (with the error) and once when it recovers. */
  readonly onChange: (degraded: boolean, error?: unknown) => void;
}

/** Wraps a store with a timeout per call, degraded-mode tracking and a recovery probe. */
export function createStoreLink(options: StoreLinkOptions): StoreLink {
  const { store, timeoutMs, probeIntervalMs, now, timers } = options;
  let failures = 0;
  let degradedCount = 0;
  let degradedMs = 0;
  let degradedSince: number | undefined;
  let cancelProbe: (() => void) | undefined;
  let closed = false;
  // Aborted by `close`: ends every call still running, since the timer of its timeout is about to go.
  const lifetime = new AbortController();

  const withTimeout = <T>(promise: Promise<T>) =>
    within(
      promise,
      createDeadline(timers, lifetime.signal, timeoutMs, () => notWithin("store did not answer", timeoutMs)),
    );

  const recovered = () => {
    if (degradedSince === undefined) return;
    degradedMs += now() - degradedSince;
    degradedSince = undefined;
    cancelProbe?.();
    cancelProbe = undefined;
    options.onChange(false);
  };

  const failed = (error: unknown) => {
    failures++;
    if (degradedSince !== undefined) return;
    degradedSince = now();
    degradedCount++;
    scheduleProbe();
    options.onChange(true, error);
  };

  function scheduleProbe() {
    if (closed) return;
    cancelProbe = timers.schedule(async () => {
      cancelProbe = undefined;
      try {
        await withTimeout(store.get(options.probeKey));
        if (!closed) recovered();
      } catch {
        failures++;
        if (degradedSince !== undefined) scheduleProbe();
      }
    }, probeIntervalMs);
  }

  return {
    store,
    now,
    timers,
    async call(operation) {
      if (closed || degradedSince !== undefined) return FAILED;
      try {
        return await withTimeout(operation(store));
      } catch (error) {
        if (!closed) failed(error);
        return FAILED;
      }
    },
    state() {
      return {
        storeFailures: failures,
        storeDegradedCount: degradedCount,
        storeDegradedMs: degradedMs + (degradedSince === undefined ? 0 : now() - degradedSince),
        storeDegraded: degradedSince !== undefined,
      };
    },
    close() {
      closed = true;
      lifetime.abort();
      cancelProbe?.();
    },
  };
}
