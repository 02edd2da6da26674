/**
 * Counts the limit timers of one length still pending: the real `setTimeout` and `clearTimeout`,
 * spied on, so a limit that outlives its call (an `AbortSignal.timeout`, or a timer never cleared)
 * shows. Fake timers cannot do this: undici's own timers run on the same globals, and
 * `AbortSignal.timeout`'s cannot be faked. The length (an unusual one) tells the limit's timers
 * apart from the runtime's.
 */
import { vi } from "vitest";

export interface LimitTimers extends Disposable {
  /** How many timers of the length are armed and not yet cleared (or fired). */
  pending(): number;
}

/** Starts counting timers of `ms`; disposing restores the globals. */
export function watchLimitTimers(ms: number): LimitTimers {
  const pending = new Set<unknown>();
  const { setTimeout: realSet, clearTimeout: realClear } = globalThis;
  const armed = vi.spyOn(globalThis, "setTimeout").mockImplementation(((
    callback: () => void,
    delay?: number,
  ) => {
    const timer = realSet(() => {
      pending.delete(timer);
      callback();
    }, delay);
    if (delay === ms) pending.add(timer);
    return timer;
  }) as typeof setTimeout);
  const cleared = vi.spyOn(globalThis, "clearTimeout").mockImplementation(((timer?: unknown) => {
    pending.delete(timer);
    realClear(timer as Parameters<typeof clearTimeout>[0]);
  }) as typeof clearTimeout);
  return {
    pending: () => pending.size,
    [Symbol.dispose]: () => {
      armed.mockRestore();
      cleared.mockRestore();
    },
  };
}
