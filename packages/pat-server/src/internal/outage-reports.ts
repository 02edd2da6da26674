/**
 * An outage, told per outage and not per failed request: its first failure at once, then at most one
 * report per `intervalMs` while it lasts, and its end once. Used by the guard (a JWKS document that
 * cannot be fetched) and the handler (a store that does not answer, to requests and to its background
 * `lastUsedAt` writes).
 */

/** An outage under way, and what its owner keeps with it (`detail`). */
export interface Outage<T> {
  /** When its first failure happened, in epoch ms. */
  readonly startedAt: number;
  /** Counted failures so far (see {@link OutageReports.fail}), the first included. */
  failures: number;
  /** When it was last reported, in epoch ms. */
  reportedAt: number;
  readonly detail: T;
}

/** What {@link OutageReports.fail} says about one failure. */
export interface OutageFailure<T> {
  readonly outage: Outage<T>;
  /** Whether this failure is to be reported: the outage's first, or the first `intervalMs` after the last report. */
  readonly report: boolean;
}

export interface OutageReports<T> {
  /** The outage under way, if any. */
  readonly current: Outage<T> | undefined;
  /**
   * Counts a failure that happened `at` (default: now), starting an outage (its `detail` from `begin`)
   * when none is under way. With `counted` false it is part of the outage and its reports (it may
   * start the outage, and is reported on the same spacing) without adding to `failures`: a failure
   * that is not what `failures` counts (the handler's failed background write, which is no request).
   */
  fail(begin: () => T, at?: number, counted?: boolean): OutageFailure<T>;
  /** Ends the outage under way and returns it (to be told once); `undefined` when there was none. */
  end(): Outage<T> | undefined;
}

export function createOutageReports<T>(options: {
  readonly intervalMs: number;
  readonly now: () => number;
}): OutageReports<T> {
  const { intervalMs, now } = options;
  let outage: Outage<T> | undefined;
  return {
    get current() {
      return outage;
    },
    fail(begin, at = now(), counted = true) {
      const count = counted ? 1 : 0;
      if (outage) outage.failures += count;
      else {
        outage = { startedAt: at, failures: count, reportedAt: Number.NEGATIVE_INFINITY, detail: begin() };
      }
      const report = at - outage.reportedAt >= intervalMs;
      if (report) outage.reportedAt = at;
      return { outage, report };
    },
    end() {
      const ended = outage;
      outage = undefined;
      return ended;
    },
  };
}

/** How long `outage` lasted until now, in milliseconds (never negative, should the clock go back). */
export function outageMs(outage: Outage<unknown>, now: number): number {
  return Math.max(0, now - outage.startedAt);
}

/**
 * Calls a listener at once: its failure must not change the request's answer, whether it throws or,
 * being `async`, rejects (an unhandled rejection would end the process on Node).
 */
export async function tell(listener: () => unknown): Promise<void> {
  try {
    await listener();
  } catch {
    // The answer stands; the report is the listener's own business.
  }
}
