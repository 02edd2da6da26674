/**
 * Refresh ahead: once a share of a token's lifetime has passed, the next `getToken` still returns the
 * current token but starts one background refresh. The share is jittered so a fleet of instances that
 * fetched together does not refresh together; a server's `refresh_in` (`TokenSet.refreshAt`) wins.
 */

/** What {@link refreshAheadAt} needs to place the refresh point: the manager's resolved options. */
export interface RefreshAheadPolicy {
  /** Share of the lifetime after which to refresh, e.g. 0.75; 1 turns refresh-ahead off (no jitter). */
  readonly refreshAheadRatio: number;
  /** The point moves earlier by up to this share of itself, at random. */
  readonly refreshAheadJitterRatio: number;
  /** Random number in [0, 1). */
  readonly random: () => number;
}

/**
 * The epoch ms from which `getToken` starts a background refresh. Never later than `usableUntil`,
 * the end of the token's usable life.
 *
 * @param obtainedAt - When the token request was sent.
 * @param expiresAt - The token's expiry.
 * @param refreshAt - The server's `refresh_in` hint as epoch ms, if any (ignored unless a time: `NaN`).
 * @param usableUntil - `expiresAt - skew`.
 */
export function refreshAheadAt(
  obtainedAt: number,
  expiresAt: number,
  refreshAt: number | undefined,
  usableUntil: number,
  policy: RefreshAheadPolicy,
): number {
  // A ratio of 1 turns refresh-ahead off: no jitter may move the point back into the lifetime. A
  // hint that is no time (`NaN` from a creator's own set) is ignored like a missing one.
  const at =
    (refreshAt as number) >= 0
      ? (refreshAt as number)
      : policy.refreshAheadRatio < 1
        ? obtainedAt +
          (expiresAt - obtainedAt) *
            policy.refreshAheadRatio *
            (1 - policy.refreshAheadJitterRatio * policy.random())
        : expiresAt;
  return Math.min(at, usableUntil);
}
