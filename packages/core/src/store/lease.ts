/**
 * The lease protocol: how one process among several sharing a store does a piece of work while the
 * others wait for its result. `shareStore` uses it for one token fetch per identity, the rotation
 * coordinator for one redemption per refresh token; this file is the only copy.
 *
 * - The holder's clock starts *before* `acquire` is sent: the lease the store grants ends at most
 *   `ttlMs` after that moment, so the holder never believes in a lease longer than the store's.
 * - While the work runs the holder renews the lease every third of `ttlMs`, counted between the
 *   moments the renewals are sent (stores whose release has `renew`); each confirmed renewal moves the
 *   end of the lease to `ttlMs` after it was sent.
 * - The holder's `signal` aborts `marginMs` before the end of the last confirmed lease, when a
 *   renewal says the lease was lost, or when the work's own budget (`budgetMs`) runs out, whichever
 *   comes first. Work that must not outlive its lease (a redemption) stops there.
 * - The others read the result with bounded backoff (`pollMinMs` doubling to `pollMaxMs`) and try the
 *   lease again each time, so a holder that died delays them by at most `ttlMs`.
 */
import { TimeoutError } from "../errors/errors.js";
import { FAILED, type StoreLink } from "./store-link.js";

/** How a lease is taken, kept and waited for. */
export interface LeaseSettings {
  /** Lifetime the store gives the lease (and each renewal). */
  readonly ttlMs: number;
  /** The holder stops this long before the end of its last confirmed lease. */
  readonly marginMs: number;
  readonly pollMinMs: number;
  readonly pollMaxMs: number;
}

/** A lease this process holds. */
export interface HeldLease {
  /**
   * Aborts `marginMs` before the confirmed lease ends, when the lease is lost, when the budget runs
   * out or when the parent signal aborts.
   */
  readonly signal: AbortSignal;
  /** Stops renewing and releases the lease (best effort). Safe to call more than once. */
  end(): void;
}

/** A safety margin for a lease of `ttlMs`: a fifth of it, at most one second. */
export const leaseMarginMs = (ttlMs: number): number => Math.min(ttlMs / 5, 1000);

/**
 * Takes the lease `key`: a {@link HeldLease}, `undefined` when another process holds it, or `FAILED`
 * when the store failed. `budgetMs` bounds the holder's work from the moment `acquire` is sent.
 */
export async function acquireLease(
  link: StoreLink,
  key: string,
  settings: LeaseSettings,
  { parent, budgetMs }: { readonly parent: AbortSignal; readonly budgetMs?: number | undefined },
): Promise<HeldLease | undefined | typeof FAILED> {
  const { ttlMs, marginMs } = settings;
  const { now, timers } = link;
  const sentAt = now();
  const acquire = link.store.acquire;
  if (acquire === undefined) return FAILED;
  const release = await link.call((store) => acquire.call(store, key, ttlMs));
  if (release === FAILED || release === undefined) return release;

  const controller = new AbortController();
  const budgetEnd = budgetMs === undefined ? Number.POSITIVE_INFINITY : sentAt + budgetMs;
  let ended = false;
  let cancelStop = () => {};
  let cancelRenew = () => {};
  const stop = (reason: unknown) => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  /** (Re)arms the stop for a lease confirmed until `leaseEnd`. */
  const armStop = (leaseEnd: number) => {
    cancelStop();
    const leaseStop = leaseEnd - marginMs;
    const at = Math.min(leaseStop, budgetEnd);
    const reason = () =>
      at === budgetEnd
        ? new TimeoutError(`the work under the lease took longer than ${budgetMs} ms`, {
            timeoutMs: budgetMs,
          })
        : new TimeoutError("the lease on the shared store ran out before the work ended", {
            timeoutMs: ttlMs,
          });
    cancelStop = timers.schedule(() => stop(reason()), Math.max(0, at - now()));
  };
  const onParentAbort = () => stop(parent.reason);
  if (parent.aborted) onParentAbort();
  else parent.addEventListener("abort", onParentAbort, { once: true });
  armStop(sentAt + ttlMs);

  const renew = release.renew;
  // Each renewal is sent a third of the lease after the one before it was *sent* (the acquire first),
  // so a slow store still confirms the next lease well before the last confirmed one ends.
  const scheduleRenewal = (lastSentAt: number) => {
    cancelRenew = timers.schedule(
      async () => {
        const renewSentAt = now();
        const kept = await link.call(() => renew!.call(release, ttlMs));
        if (ended) return;
        if (kept === true) {
          armStop(renewSentAt + ttlMs);
          scheduleRenewal(renewSentAt);
        } else if (kept === false) {
          stop(new TimeoutError("the lease on the shared store was lost", { timeoutMs: ttlMs }));
        }
        // FAILED: the store did not answer; the stop armed for the last confirmed lease stands.
      },
      Math.max(0, lastSentAt + ttlMs / 3 - now()),
    );
  };
  if (typeof renew === "function") scheduleRenewal(sentAt);

  return {
    signal: controller.signal,
    end() {
      if (ended) return;
      ended = true;
      cancelStop();
      cancelRenew();
      parent.removeEventListener("abort", onParentAbort);
      void link.call(() => release());
    },
  };
}

/** One coordinated piece of work: read the result, else hold the lease and do it, else wait. */
export interface LeaseWork<T> {
  /** Store key of the lease. */
  readonly leaseKey: string;
  /** Reads the published result: `undefined` when there is none yet, `FAILED` when the store failed. May throw a final error. */
  readonly read: () => Promise<T | undefined | typeof FAILED>;
  /** Does the work under the lease (it should read once more first: the previous holder may have just finished). */
  readonly work: (lease: HeldLease) => Promise<T>;
  /** What to do when the store fails (or has no leases). */
  readonly unavailable: () => Promise<T>;
  /** Called once, when this process first finds the lease held by another. */
  readonly onWait?: (() => void) | undefined;
  /** Aborts the waiting (and the holder's signal). */
  readonly signal: AbortSignal;
  /** The holder's budget (see {@link acquireLease}). */
  readonly budgetMs?: number | undefined;
  /** Waiting stops with a `TimeoutError` at this moment (epoch ms); no limit by default. */
  readonly giveUpAt?: number | undefined;
}

/** Runs `work` once across every process sharing the link's store; the others get its result. */
export async function underLease<T>(link: StoreLink, settings: LeaseSettings, job: LeaseWork<T>): Promise<T> {
  let delayMs = settings.pollMinMs;
  let waited = false;
  for (;;) {
    const found = await job.read();
    if (found === FAILED) return job.unavailable();
    if (found !== undefined) return found;
    // A caller that gave up (its deadline, dispose) takes no lease: the work would be for no one.
    job.signal.throwIfAborted();
    const lease = await acquireLease(link, job.leaseKey, settings, {
      parent: job.signal,
      budgetMs: job.budgetMs,
    });
    if (lease === FAILED) return job.unavailable();
    if (lease !== undefined) {
      try {
        return await job.work(lease);
      } finally {
        lease.end();
      }
    }
    if (!waited) {
      waited = true;
      job.onWait?.();
    }
    if (job.giveUpAt !== undefined && link.now() >= job.giveUpAt) {
      throw new TimeoutError("another instance kept the lease and published no result");
    }
    await link.timers.sleep(delayMs, job.signal);
    delayMs = Math.min(delayMs * 2, settings.pollMaxMs);
  }
}
