/**
 * Skew: the safety margin before expiry. A token is handed out only while
 * `now < expiresAt - skew`, where the skew is `skewMs` but never more than `maxSkewFraction` of the
 * token's lifetime, so a 20-second token is not refetched on every call when the skew is 30 s. It is
 * never less than one second either (servers write `exp` in whole seconds, so a token may die up to
 * a second before `expiresAt`), though never more than half the lifetime.
 */
import { SKEW_FLOOR_MS } from "../defaults.js";

/**
 * The margin applied to one token.
 *
 * @param lifetimeMs - `expiresAt` minus the moment the token request was sent.
 * @param skewMs - The configured margin.
 * @param maxSkewFraction - The largest share of the lifetime the margin may take.
 */
export function effectiveSkewMs(lifetimeMs: number, skewMs: number, maxSkewFraction: number): number {
  // skewMs, at most maxSkewFraction of the lifetime, at least SKEW_FLOOR_MS, at most half the lifetime.
  return Math.max(
    0,
    Math.min(Math.max(Math.min(skewMs, lifetimeMs * maxSkewFraction), SKEW_FLOOR_MS), lifetimeMs / 2),
  );
}
