/**
 * Deadlines: an abort signal that fires when a parent signal aborts or a timeout passes, whichever
 * comes first, on the manager's (injectable) timers. The one mechanism behind a caller's own
 * `signal`/`timeoutMs`, the creator timeout and the store-call timeout.
 */
import { TimeoutError } from "../errors/errors.js";
import type { TimerSet } from "./timers.js";

/** A signal with the listener and timer that may fire it. */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Drops the parent listener and the timer. Safe to call more than once. */
  release(): void;
}

/**
 * Creates a deadline; call `release` (or use {@link within}) once the work is done. It aborts when
 * `parent` aborts (with `parentReason(parent.reason)`, or the parent's reason itself by default) or
 * after `timeoutMs` (with `timeoutReason()`). Positional, not an options object: the manager calls it
 * on every fetch, and field names would ship in every bundle.
 */
export function createDeadline(
  timers: TimerSet,
  parent: AbortSignal | undefined,
  timeoutMs: number | undefined,
  timeoutReason: () => unknown,
  parentReason?: (reason: unknown) => unknown,
): Deadline {
  const controller = new AbortController();
  const onAbort = () => controller.abort(parentReason ? parentReason(parent?.reason) : parent?.reason);
  if (parent?.aborted) onAbort();
  else parent?.addEventListener("abort", onAbort, { once: true });
  const cancel =
    timeoutMs === undefined ? undefined : timers.schedule(() => controller.abort(timeoutReason()), timeoutMs);
  return {
    signal: controller.signal,
    release() {
      cancel?.();
      parent?.removeEventListener("abort", onAbort);
    },
  };
}

/** Settles like `promise`, but rejects with the signal's reason as soon as `signal` aborts. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    signal.throwIfAborted(); // rejects the promise with the reason
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Settles like `promise` or rejects with the deadline's reason, whichever comes first, then releases
 * the deadline. `promise` itself keeps running: abandoning a wait never cancels shared work.
 */
export function within<T>(promise: Promise<T>, deadline: Deadline): Promise<T> {
  const raced = raceAbort(promise, deadline.signal);
  raced.then(deadline.release, deadline.release);
  return raced;
}

/**
 * The error of something that ran out of time (`what`: "no token" for a caller's own `timeoutMs` or a
 * whole fetch's budget, "token creator did not answer", "store did not answer").
 */
export const notWithin = (what: string, timeoutMs: number | undefined): TimeoutError =>
  new TimeoutError(`${what} within ${timeoutMs} ms`, { timeoutMs });
