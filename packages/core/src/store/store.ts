import type { JsonValue } from "../token/token-set.js";

/**
 * Releases a lease taken with {@link Store.acquire}. Safe to call more than once.
 *
 * A store may also offer `renew(ttlMs)`: extend the lease to `ttlMs` from now while the caller still
 * owns it, resolving `false` once it was lost or released. The lease holder (a token fetch shared
 * by `shareStore`, a refresh-token redemption) renews while it works, so slow work keeps its lease
 * instead of being duplicated or cut short.
 */
export type LeaseRelease = (() => Promise<void>) & {
  renew?: ((ttlMs: number) => Promise<boolean>) | undefined;
};

/**
 * A key-value store with per-entry time to live, shared by the token manager (token sets by identity
 * hash, leases for cross-instance single-flight) and by rotation helpers (successor entries keyed by a
 * hash of a redeemed refresh token). Keys are opaque strings chosen by tokenkeep and never contain a
 * raw token. Values are JSON.
 *
 * The in-memory store is the default; `@tokenkeep/redis` shares one across instances
 * (`SET key value PX ttl`, leases with `SET key owner NX PX ttl`).
 */
export interface Store {
  /**
   * The value stored under `key`, or `undefined` when absent or expired. An entry that is there but
   * that this store cannot read (sealed with another encryption key, say) is not absent: resolve a
   * value no tokenkeep record decodes from, such as `{ unreadable: true }` (as `@tokenkeep/redis`
   * does). The token manager takes it as a miss and fetches; the rotation coordinator takes the
   * refresh token as in doubt (it may have been redeemed): never presented again unless
   * `verifyUnredeemed` says the server did not redeem it, where `undefined` would let it be
   * presented again at once.
   */
  get(key: string): Promise<JsonValue | undefined>;
  /** Stores `value` under `key` for `ttlMs` milliseconds (> 0), replacing any previous value. */
  set(key: string, value: JsonValue, ttlMs: number): Promise<void>;
  /** Removes `key`. Removing an absent key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Optional lease lock: takes `key` for `ttlMs` if nobody holds it and returns its release, or
   * `undefined` when someone else holds it. A lease that is not released expires by itself, so a
   * holder that died cannot block others for longer than `ttlMs`. Release only removes the lease
   * while the caller still owns it.
   */
  acquire?(key: string, ttlMs: number): Promise<LeaseRelease | undefined>;
  /**
   * Optional atomic compare-and-delete: removes `key` only while it still holds `expected` (equal as
   * JSON), and resolves whether it did. `invalidate` uses it so an instance never deletes a newer
   * token another instance has just written; without it, it falls back to read-then-delete.
   * (`@tokenkeep/redis`: a Lua script comparing the stored bytes.)
   */
  compareAndDelete?(key: string, expected: JsonValue): Promise<boolean>;
  /**
   * Optional atomic compare-and-set: stores `value` under `key` for `ttlMs` only while the key still
   * holds `expected` as `get` resolves it (equal as JSON; `undefined`: only while the key is absent),
   * and resolves whether it did. When an instance drops a spent refresh token from the shared set, it
   * uses it so the stripped copy never replaces a newer set another instance has just written;
   * without it, it falls back to read-then-`set`, which may replace that newer set (its refresh
   * token is then lost, and the identity's next fetch calls the creator), never letting a spent
   * refresh token be presented again. The rotation coordinator writes every marker but `redeemed`
   * with it, so a writer that lost its lease never replaces a newer record (without it: plain
   * `set`s); `expected` is then what `get` resolved (a `null` for a missing key passed as
   * `undefined`). (`@tokenkeep/redis`: `SET NX`, or a Lua script comparing the stored bytes.)
   */
  compareAndSet?(
    key: string,
    expected: JsonValue | undefined,
    value: JsonValue,
    ttlMs: number,
  ): Promise<boolean>;
}
