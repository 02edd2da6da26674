/**
 * Single-flight: one fetch per identity at a time. The first caller without a usable token starts the
 * fetch; everyone else who arrives meanwhile waits on the same promise. A caller's own `signal` or
 * `timeoutMs` only abandons that caller's wait (`waitFor`): the shared fetch keeps running for the
 * others, and only disposing the manager aborts it.
 */
import { MAX_TIMER_MS } from "../defaults.js";
import { AbortError } from "../errors/errors.js";
import { createDeadline, notWithin, within } from "../internal/deadline.js";
import type { TimerSet } from "../internal/timers.js";
import { invalidOptions, problem } from "../options/rules.js";

/** One fetch in flight. */
export interface Flight<T> {
  /** Settles with the fetch; every waiter of this identity shares it. */
  readonly settled: Promise<T>;
  /** Aborts the fetch (dispose only). */
  readonly controller: AbortController;
}

/** How long one caller is prepared to wait. */
export interface WaitOptions {
  readonly signal?: AbortSignal | undefined;
  readonly timeoutMs?: number | undefined;
}

/**
 * Checks a caller's `timeoutMs` before anything starts: a NaN, a negative or an over-long delay (a
 * timer fires at once past `MAX_TIMER_MS`) is a programmer error, thrown as one.
 */
export function checkTimeoutMs(timeoutMs: number | undefined, method: string): void {
  if (timeoutMs !== undefined && !(timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS)) {
    throw invalidOptions(method, [problem("timeoutMs", `expected a number > 0 and <= ${MAX_TIMER_MS}`)]);
  }
}

/** What a caller whose own signal aborted gets: an `AbortError` whose `cause` is the signal's reason. */
export const abandoned = (reason: unknown): AbortError => new AbortError(undefined, { cause: reason });

/**
 * Waits for `promise` on behalf of one caller: rejects with `AbortError` when `signal` aborts and with
 * `TimeoutError` after `timeoutMs`, without touching `promise` itself. Until the wait ends, the timers
 * it depends on (backoffs, lease polls, deadlines) keep the process alive (`TimerSet.hold`).
 */
export function waitFor<T>(
  promise: Promise<T>,
  options: WaitOptions | undefined,
  timers: TimerSet,
): Promise<T> {
  const signal = options?.signal;
  const timeoutMs = options?.timeoutMs;
  return timers.hold(
    signal === undefined && timeoutMs === undefined
      ? promise
      : within(
          promise,
          createDeadline(timers, signal, timeoutMs, () => notWithin("no token", timeoutMs), abandoned),
        ),
  );
}
