/**
 * The one place that talks to core's rotation coordinator: its options, and what each of its
 * failures means for the request at hand. (Kept in one file: core's option names may move.)
 *
 * - an `OAuthError` `invalid_grant`: the upstream rejected this refresh token -> the session is over
 *   and the cookies, which hold that token, are cleared;
 * - `ERR_TOKENKEEP_REFRESH_TOKEN_SUPERSEDED`: this deployment already redeemed the token (the request
 *   is late, after the successor window) -> signed out for this request only, cookies untouched: the
 *   browser already holds the newer pair, and redeeming the old token again would make a
 *   reuse-detecting server revoke the whole family (a sign-out of that request does revoke it: the
 *   user asked to end the grant);
 * - `ERR_TOKENKEEP_ROTATION_IN_DOUBT`: a redemption of this token got no definite answer (a 5xx,
 *   network error, timeout, a holder that died) and the server may have rotated it. With the
 *   upstream's `isRefreshTokenActive` the error is transient: handled as below, and after
 *   `rotationSettleMs` the coordinator asks the upstream, then redeems the token once or records it
 *   dead (`invalid_grant`, above); a check that fails permanently (rejected credentials, a wrong
 *   endpoint) is asked once, and from then on the error is final. Without it, it is final -> handled
 *   like a late request; the coordinator never redeems the token again (a sign-out revokes it);
 * - anything else is transient (the upstream answered 429 or its own 503 (an OAuth error body or a
 *   `Retry-After`; with a `Retry-After`, requests inside that window get core's
 *   `ERR_TOKENKEEP_THROTTLED`, `retryAfterMs` what is left of it, and the upstream is not asked),
 *   the request never left, the shared store is unavailable,
 *   another instance kept the lease, a misconfigured client): the current access token is used while
 *   it is valid, and the cookies are kept.
 */
import { isOAuthError, isTokenkeepError, isTokenSet, type Store, type TokenSet } from "@tokenkeep/core";
import { createRotationCoordinator } from "@tokenkeep/core/rotation";
import { shareStore } from "@tokenkeep/core/shared";
import type { Upstream } from "./config/schema.js";

/** The coordinator's code for a refresh token this deployment already redeemed. */
export const SUPERSEDED = "ERR_TOKENKEEP_REFRESH_TOKEN_SUPERSEDED";
/** The coordinator's code for a refresh token whose earlier redemption was abandoned. */
export const IN_DOUBT = "ERR_TOKENKEEP_ROTATION_IN_DOUBT";

/**
 * Where a redeemed set carries the time its redemption's answer arrived (epoch ms), in its `raw`: the
 * coordinator's successor record keeps the whole set, so every request picking the pair up later, on
 * any instance, reads the time of the rotation itself rather than its own.
 */
export const ISSUED_AT_KEY = "tokenkeep:issuedAt";

/**
 * Where a redeemed set carries the mark of a renewal after an API 401 (`true`), in its `raw`, beside
 * {@link ISSUED_AT_KEY}: the pair replaced one the API rejected. Recorded by the redemption itself, so
 * every request picking the pair up (a successor hit, on any instance, or a request that joined the
 * flight) carries the same mark, and its 401 cooldown holds for every copy of the session.
 */
export const REPLACED_REJECTED_KEY = "tokenkeep:replacedRejected";

/** What a rotation attempt means for the request. */
export type RotationOutcome =
  | {
      readonly kind: "rotated";
      readonly set: TokenSet;
      /**
       * When the redemption that produced `set` got its answer, epoch ms: the same for the request
       * that redeemed and for every successor hit. A set recorded without it (by an older version)
       * counts as issued now.
       */
      readonly issuedAt: number;
      /**
       * Whether the redemption that produced `set` was a renewal after an API 401 (its pair replaced
       * a rejected one): the same for the request that redeemed and for every successor hit.
       */
      readonly replacedRejected: boolean;
    }
  /** The upstream rejected the refresh token: end the session, clear the cookies. */
  | { readonly kind: "rejected"; readonly error: unknown }
  /** Already redeemed here (or in doubt): signed out for this request, cookies untouched. */
  | { readonly kind: "late"; readonly error: unknown }
  /** Could not rotate now: keep the session while its access token is valid. */
  | { readonly kind: "transient"; readonly error: unknown };

/** Sorts a rotation failure into the outcomes above. */
export function classifyRotationError(error: unknown): RotationOutcome {
  if (isOAuthError(error) && error.error === "invalid_grant" && !error.transient) {
    return { kind: "rejected", error };
  }
  if (
    isTokenkeepError(error) &&
    (error.code === SUPERSEDED || (error.code === IN_DOUBT && !error.transient))
  ) {
    return { kind: "late", error };
  }
  return { kind: "transient", error };
}

/** What the middleware needs of the coordinator. */
export interface SessionRotation {
  /**
   * Rotates `set`. `afterRejection`: the API answered 401 to its access token, so a redemption this
   * call makes records the new pair as a rejected pair's replacement ({@link REPLACED_REJECTED_KEY}).
   */
  rotate(set: TokenSet, timeoutMs: number, afterRejection?: boolean): Promise<RotationOutcome>;
  dispose(): Promise<void>;
}

/** Options of {@link createSessionRotation}. */
export interface SessionRotationOptions {
  readonly upstream: Upstream;
  readonly store: Store | undefined;
  /** How long a just-rotated refresh token is answered with its successor. */
  readonly successorTtlMs: number;
  /** How long after a redemption in doubt before the upstream's `isRefreshTokenActive` is asked. */
  readonly settleMs: number;
  readonly now: () => number;
  /** Called when a redemption this process made succeeded. */
  readonly onRedeemed: () => void;
  /** Called when a rotation was answered by another request's or instance's redemption. */
  readonly onSuccessor: () => void;
}

/** A coordinator redeeming through the upstream, one redemption per refresh token. */
export function createSessionRotation(options: SessionRotationOptions): SessionRotation {
  // The sets handed to `rotate` after an API 401. The coordinator passes the set it was given to the
  // redeemer as `previous` (core's documented contract), so the redeemer tells a renewal apart
  // without a field the upstream would see.
  const renewals = new WeakSet<TokenSet>();
  const coordinator = createRotationCoordinator({
    ...(options.store === undefined ? {} : { shared: shareStore(options.store) }),
    successorTtlMs: options.successorTtlMs,
    redeem: async ({ refreshToken, previous, signal }) => {
      const set = await options.upstream.refresh({ refreshToken, previous, signal });
      if (!isTokenSet(set)) return set;
      // Stamped before the coordinator records it as the successor (whose window starts after this).
      const { [REPLACED_REJECTED_KEY]: _carried, ...raw } = set.raw;
      return {
        ...set,
        raw: {
          ...raw,
          [ISSUED_AT_KEY]: options.now(),
          ...(renewals.has(previous) ? { [REPLACED_REJECTED_KEY]: true } : {}),
        },
      };
    },
    ...(options.upstream.isRefreshTokenActive === undefined
      ? {}
      : {
          verifyUnredeemed: ({ refreshToken, previous, signal }) =>
            options.upstream.isRefreshTokenActive!({ refreshToken, previous, signal }),
          inDoubtSettleMs: options.settleMs,
        }),
    now: options.now,
    onEvent: (event) => {
      if (event.type === "redeemed") options.onRedeemed();
      else if (event.type === "successor") options.onSuccessor();
    },
  });
  return {
    async rotate(set, timeoutMs, afterRejection = false) {
      if (afterRejection) renewals.add(set);
      try {
        const next = await coordinator.rotate(set, { timeoutMs });
        const issuedAt = next.raw[ISSUED_AT_KEY];
        return {
          kind: "rotated",
          set: next,
          // Never later than now: another instance's clock may run ahead of this one's.
          issuedAt:
            typeof issuedAt === "number" && Number.isFinite(issuedAt)
              ? Math.min(issuedAt, options.now())
              : options.now(),
          replacedRejected: next.raw[REPLACED_REJECTED_KEY] === true,
        };
      } catch (error) {
        return classifyRotationError(error);
      }
    },
    dispose: () => coordinator.dispose(),
  };
}
