/**
 * The contract between the token manager and `shareStore` (`@tokenkeep/core/shared`). Types only, so
 * the manager's entry carries none of the cross-instance code a single process does not need.
 */

import type { TimerSet } from "../internal/timers.js";
import type { Store } from "../store/store.js";
import type { StoreLinkState } from "../store/store-link.js";
import type { TokenSet } from "../token/token-set.js";

/** A token set with the moment its request was sent: what the store holds per identity. */
export interface Obtained {
  readonly set: TokenSet;
  readonly obtainedAt: number;
}

/** The settings `shareStore` was given, defaults filled in (the rotation coordinator reads them too). */
export interface SharedStoreSettings {
  /** Prefix of every key written to the store. */
  readonly keyPrefix: string;
  /** Lifetime of a lease; the holder renews it while it works. */
  readonly leaseTtlMs: number;
  /** Timeout of every store call. */
  readonly timeoutMs: number;
  /** While the store is failing, how often it is probed. */
  readonly probeIntervalMs: number;
}

/**
 * A {@link Store} made shareable between token managers in several processes, by `shareStore(store)`
 * from `@tokenkeep/core/shared`. Pass it as the manager's `shared` option.
 */
export interface SharedStore {
  /** The store behind it. */
  readonly store: Store;
  /** Its settings, defaults filled in. */
  readonly settings: SharedStoreSettings;
  /** Binds it to one token manager; `createTokenManager` calls it once. */
  attach(manager: SharedStoreContext): SharedStoreSession;
}

/** What a token manager gives its shared store: its clock, timers, counters and events. */
export interface SharedStoreContext {
  readonly now: () => number;
  readonly timers: TimerSet;
  /** Counted by the shared store, reported by the manager's `stats()`. */
  readonly counters: { storeHits: number; storeWrites: number; leaseWaits: number };
  /** Called once when the store starts failing (with the error) and once when it answers again. */
  readonly onChange: (degraded: boolean, error?: unknown) => void;
}

/** The failure counters and degraded state of a shared store, as `stats()` reports them. */
export type SharedStoreState = StoreLinkState;

/** One manager's use of a shared store. */
export interface SharedStoreSession {
  /**
   * The one fetch of an identity across every instance: a usable set from the store (`accept`
   * decides), else `obtain` under the identity's lease, written back for the others.
   */
  fetch(
    key: string,
    options: {
      readonly accept: (found: Obtained) => boolean;
      readonly obtain: (newer: TokenSet | undefined) => Promise<Obtained>;
      readonly signal: AbortSignal;
    },
  ): Promise<Obtained>;
  /**
   * Makes the store forget the refresh token of `set`, dropped as spent or in doubt: the identity's
   * shared set, when it is absent or holds that refresh token, is replaced by a copy without it,
   * kept for a day (other instances may hold it in their cache), so no instance presents it again.
   * The copy replaces only the value read (the store's `compareAndSet`; a plain `set` on a store
   * without it, which may replace a newer set written in between). Never rejects.
   */
  drop(key: string, set: TokenSet): Promise<void>;
  /** Deletes the identity's shared set if it holds `accessToken`; `true` when deleted. */
  invalidate(key: string, accessToken: string): Promise<boolean>;
  state(): SharedStoreState;
  /**
   * Ends this manager's use of the store (its `dispose` calls it): no store call or probe after it;
   * `fetch` and `invalidate` then find the store unavailable (`invalidate` resolves `false`).
   */
  close(): void;
}
