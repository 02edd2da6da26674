/**
 * The rotation coordinator's whole state machine against one rule: a refresh token the server has
 * redeemed is never presented again. Every marker a token may find in the store, times every way its
 * redemption may fail, times every kind of verifier; five rotations of that token, each past the
 * settle time of the one before. The server is adversarial: wherever an answer proves nothing, it
 * has redeemed the token before the answer was lost.
 */
import { describe, expect, it } from "vitest";
import { createFakeTime } from "../../test/support/fake-time.js";
import { InvalidResponseError, NetworkError, OAuthError, TokenkeepError } from "../errors/errors.js";
import { sha256Hex } from "../internal/sha256.js";
import { createMemoryStore } from "../memory-store/memory-store.js";
import { shareStore } from "../shared/share-store.js";
import type { TokenResponse } from "../token/token-response.js";
import type { JsonValue } from "../token/token-set.js";
import { createRotationCoordinator, type RotationRedeemContext } from "./rotation.js";

/** What the store holds for the token before the first rotation, and whether the server redeemed it. */
const MARKERS = {
  none: { redeemed: false, marker: undefined },
  // A holder that died mid-redemption, after presenting it.
  redeeming: { redeemed: true, marker: { state: "redeeming", at: 0, by: "gone" } },
  redeemed: { redeemed: true, marker: { state: "redeemed", at: 0 } },
  failed: {
    redeemed: false,
    marker: { state: "failed", at: 0, failure: { error: "invalid_grant", status: 400 } },
  },
  "in doubt, redeemed": { redeemed: true, marker: { state: "in-doubt", at: 0 } },
  "in doubt, unredeemed": { redeemed: false, marker: { state: "in-doubt", at: 0 } },
  // What @tokenkeep/redis reads for a marker sealed with another key: it may say anything.
  "unreadable, redeemed": { redeemed: true, marker: { unreadable: true } },
  "unreadable, unredeemed": { redeemed: false, marker: { unreadable: true } },
} as const;

/** How the first presentation fails, and whether the server redeemed the token all the same. */
const refusedConnection = () =>
  new NetworkError("token request failed", {
    cause: Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } }),
  });
const FAULTS: Record<string, { redeemed: boolean; error?: () => unknown; hang?: boolean }> = {
  none: { redeemed: true },
  invalid_grant: { redeemed: false, error: () => new OAuthError({ error: "invalid_grant", status: 400 }) },
  "429": { redeemed: false, error: () => new OAuthError({ error: "slow_down", status: 429 }) },
  "the server's 503": {
    redeemed: false,
    error: () => new OAuthError({ error: "temporarily_unavailable", status: 503 }),
  },
  "503 with Retry-After": {
    redeemed: false,
    error: () => new InvalidResponseError("503", { status: 503, transient: true, retryAfterMs: 1_000 }),
  },
  "connection refused": { redeemed: false, error: refusedConnection },
  "bare 503": {
    redeemed: true,
    error: () => new InvalidResponseError("503", { status: 503, transient: true }),
  },
  "502": { redeemed: true, error: () => new OAuthError({ error: "server_error", status: 502 }) },
  "500": { redeemed: true, error: () => new OAuthError({ error: "server_error", status: 500 }) },
  reset: {
    redeemed: true,
    error: () => new NetworkError("reset", { cause: { code: "ECONNRESET" } }),
  },
  "no answer": { redeemed: true, hang: true },
};

const VERIFIERS = ["none", "truthful", "cannot tell", "fails for good"] as const;

const settleMs = 10_000;

async function rotateFiveTimes(
  marker: keyof typeof MARKERS,
  fault: string,
  verifier: (typeof VERIFIERS)[number],
) {
  const time = createFakeTime();
  const store = createMemoryStore({ now: time.now });
  const server = { redeemed: MARKERS[marker].redeemed, dead: marker === "failed", reuses: 0, presented: 0 };
  const recorded = MARKERS[marker].marker;
  if (recorded !== undefined) {
    const value = "at" in recorded ? { ...recorded, at: time.now() } : recorded;
    await store.set(`tokenkeep:rotation:marker:${await sha256Hex("rt-0")}`, value as JsonValue, 86_400_000);
  }
  let first = true;
  const redeem = async ({ signal }: RotationRedeemContext): Promise<TokenResponse> => {
    server.presented++;
    if (server.redeemed) server.reuses++;
    if (server.redeemed || server.dead) throw new OAuthError({ error: "invalid_grant", status: 400 });
    const { redeemed, error, hang } = first ? FAULTS[fault]! : FAULTS.none!;
    first = false;
    server.redeemed = redeemed;
    if (fault === "invalid_grant") server.dead = true;
    if (hang) await new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
    if (error) throw error();
    return { access_token: "at-1", expires_in: 300, refresh_token: "rt-1" };
  };
  const verifyUnredeemed =
    verifier === "none"
      ? undefined
      : async () => {
          if (verifier === "cannot tell") throw new NetworkError("introspection unreachable");
          if (verifier === "fails for good") throw new TokenkeepError("ERR_X", "401", { transient: false });
          return !server.redeemed && !server.dead;
        };
  const rotation = createRotationCoordinator({
    shared: shareStore(store),
    redeem,
    verifyUnredeemed,
    inDoubtSettleMs: settleMs,
    now: time.now,
    timers: time.timers,
  });
  const outcomes: string[] = [];
  for (let round = 0; round < 5; round++) {
    const outcome = rotation.rotate("rt-0").then(
      (set) => set.accessToken,
      (error: { code?: string; error?: string }) => error.error ?? error.code ?? String(error),
    );
    await time.advance(settleMs + 5_000);
    outcomes.push(await outcome);
    await time.advance(settleMs + 5_000);
  }
  await rotation.dispose();
  return { ...server, outcomes };
}

describe("the rotation state machine, every marker x every failure x every verifier", () => {
  it("never presents a token the server redeemed; presents one it did not once the server says so", async () => {
    const reused: string[] = [];
    const stuck: string[] = [];
    for (const marker of Object.keys(MARKERS) as (keyof typeof MARKERS)[]) {
      for (const fault of Object.keys(FAULTS)) {
        for (const verifier of VERIFIERS) {
          const result = await rotateFiveTimes(marker, fault, verifier);
          const name = `${marker} x ${fault} x verifier ${verifier}: ${result.outcomes.join(", ")}`;
          if (result.reuses > 0) reused.push(name);
          // Liveness where it is owed: with a truthful verifier, a token that neither the record
          // nor the failure left redeemed or dead ends with a new set.
          const owed =
            verifier === "truthful" &&
            !MARKERS[marker].redeemed &&
            marker !== "failed" &&
            (fault === "none" || (!FAULTS[fault]!.redeemed && fault !== "invalid_grant"));
          if (owed && !result.outcomes.includes("at-1")) stuck.push(name);
        }
      }
    }
    expect(reused).toEqual([]);
    expect(stuck).toEqual([]);
  }, 30_000);
});
