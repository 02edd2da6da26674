/**
 * Token managers in several "instances" on one shared store, set up for the refresh-token drop
 * tests: the creator hands out `c-1` with refresh token `rt-1` once and answers 502 after that; the
 * refresher records every refresh token presented, as `instance:token`, then does what `refresh`
 * says (by default, answers 502: the token is in doubt, so the manager drops it). No retries, no
 * refresh ahead: a set is renewed only once it has expired.
 */
import { InvalidResponseError } from "../../src/errors/errors.js";
import type { Timers } from "../../src/internal/timers.js";
import { createTokenManager } from "../../src/manager/token-manager.js";
import type { SharedStore } from "../../src/shared/shared-store.js";
import type { TokenCreatorResult } from "../../src/token/token-creator.js";
import type { TokenSet } from "../../src/token/token-set.js";

/** A 502 answer: in doubt (the server may have rotated the token before the answer was lost). */
export const badGateway = (): InvalidResponseError =>
  new InvalidResponseError("502", { status: 502, transient: true });

export interface FailingFleetOptions {
  readonly shared: SharedStore;
  readonly now: () => number;
  /** The managers' timers (fake time); the runtime's by default. */
  readonly timers?: Timers | undefined;
  /** What the refresher does once it has recorded the presentation. @default throws a 502 */
  readonly refresh?:
    | ((name: string, previous: TokenSet | undefined) => Promise<TokenCreatorResult>)
    | undefined;
}

export function failingFleet({ shared, now, timers, refresh }: FailingFleetOptions) {
  const presented: string[] = [];
  let created = 0;
  const manager = (name: string) =>
    createTokenManager({
      now,
      timers,
      retry: { retries: 0 },
      refreshAheadRatio: 1,
      shared,
      creator: async () => {
        if (++created > 1) throw badGateway();
        return { access_token: "c-1", expires_in: 60, refresh_token: "rt-1" };
      },
      refresher: async ({ previous }) => {
        presented.push(`${name}:${previous?.refreshToken}`);
        if (refresh === undefined) throw badGateway();
        return refresh(name, previous);
      },
    });
  return { presented, manager };
}
