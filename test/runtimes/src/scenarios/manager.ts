/**
 * The token manager's rules with an injected clock: single-flight, skew, refresh-ahead and
 * invalidation. The creator is a plain function counting its calls; nothing here needs a network.
 */
import { createTokenManager, isAbortError, type TokenResponse } from "@tokenkeep/core";
import { assert, assertEqual, deferred, manualClock, rejection, settle } from "../harness.ts";

/** A creator answering `token-1`, `token-2`, ... with `expires_in` seconds, gated by `gate` when set. */
function countingCreator(expiresInSeconds: number) {
  const state = { calls: 0, gate: undefined as Promise<void> | undefined };
  const creator = async (): Promise<TokenResponse> => {
    state.calls += 1;
    const n = state.calls;
    if (state.gate) await state.gate;
    return { access_token: `token-${n}`, token_type: "bearer", expires_in: expiresInSeconds };
  };
  return { state, creator };
}

/** Any number of concurrent callers cause one creator call; one caller's abort leaves the rest alone. */
export async function singleFlight(): Promise<void> {
  const clock = manualClock();
  const { state, creator } = countingCreator(3600);
  const gate = deferred<void>();
  state.gate = gate.promise;
  await using manager = createTokenManager({ creator, now: clock.now });

  const impatient = new AbortController();
  const abandoned = manager.getToken({ signal: impatient.signal });
  const waiters = Array.from({ length: 25 }, () => manager.getToken());
  impatient.abort();
  assert(isAbortError(await rejection(abandoned, "aborted caller")), "the aborted caller gets an AbortError");
  gate.resolve();
  const sets = await Promise.all(waiters);
  assertEqual(state.calls, 1, "creator calls for 26 concurrent callers");
  assert(
    sets.every((set) => set.accessToken === "token-1" && set.tokenType === "Bearer"),
    "every waiter got the one token, type normalized to Bearer",
  );
  assertEqual((await manager.getToken()).accessToken, "token-1", "a later call hits the cache");
  assertEqual(state.calls, 1, "creator calls after a cache hit");
}

/** A token is handed out only while `now < expiresAt - skew`, the skew capped at a share of the lifetime. */
export async function skew(): Promise<void> {
  const clock = manualClock();
  const { state, creator } = countingCreator(3600);
  const options = {
    creator,
    now: clock.now,
    skewMs: 30_000,
    refreshAheadRatio: 1,
    refreshAheadJitterRatio: 0,
  };
  await using manager = createTokenManager(options);
  assertEqual((await manager.getToken()).accessToken, "token-1", "first token");
  clock.advance(3_600_000 - 30_000 - 1);
  assertEqual((await manager.getToken()).accessToken, "token-1", "1 ms before expiresAt - skew");
  clock.advance(1);
  assertEqual(manager.peek(), undefined, "peek at expiresAt - skew");
  assertEqual((await manager.getToken()).accessToken, "token-2", "at expiresAt - skew");
  assertEqual(state.calls, 2, "creator calls");

  // A 20-second token with a 30 s skew: the skew is capped at 20% of the lifetime (4 s).
  const short = countingCreator(20);
  await using shortLived = createTokenManager({ ...options, creator: short.creator, maxSkewFraction: 0.2 });
  await shortLived.getToken();
  clock.advance(15_999);
  assertEqual((await shortLived.getToken()).accessToken, "token-1", "short token at 15.999 s");
  clock.advance(1);
  assertEqual((await shortLived.getToken()).accessToken, "token-2", "short token at 16 s");
}

/** Past the refresh-ahead point the current token is served at once and one background refresh runs. */
export async function refreshAhead(): Promise<void> {
  const clock = manualClock();
  const { state, creator } = countingCreator(3600);
  await using manager = createTokenManager({
    creator,
    now: clock.now,
    refreshAheadRatio: 0.75,
    refreshAheadJitterRatio: 0,
  });
  await manager.getToken();
  clock.advance(2_700_000 - 1);
  assertEqual((await manager.getToken()).accessToken, "token-1", "just before 75% of the lifetime");
  assertEqual(state.calls, 1, "no refresh before the refresh-ahead point");

  const gate = deferred<void>();
  state.gate = gate.promise;
  clock.advance(1);
  const during = await Promise.all([manager.getToken(), manager.getToken(), manager.getToken()]);
  assert(
    during.every((set) => set.accessToken === "token-1"),
    "callers past the point get the current token at once",
  );
  await settle();
  assertEqual(state.calls, 2, "exactly one background refresh started");
  gate.resolve();
  await settle();
  assertEqual(manager.peek()?.accessToken, "token-2", "the refreshed token replaced the old one");
  assertEqual((await manager.getToken()).accessToken, "token-2", "getToken after the refresh");
  assertEqual(state.calls, 2, "creator calls after the refresh");
}

/** `invalidate` drops the cached token only when it is the one that failed. */
export async function invalidation(): Promise<void> {
  const clock = manualClock();
  const { state, creator } = countingCreator(3600);
  await using manager = createTokenManager({ creator, now: clock.now });
  const first = await manager.getToken();
  assertEqual(await manager.invalidate("some-other-token"), false, "invalidate(another token)");
  assertEqual((await manager.getToken()).accessToken, "token-1", "the cached token survives");

  const results = await Promise.all([manager.invalidate(first), manager.invalidate(first.accessToken)]);
  assertEqual(results.filter(Boolean).length, 1, "two invalidations of one token drop it once");
  assertEqual((await manager.getToken()).accessToken, "token-2", "a new token after invalidation");
  assertEqual(await manager.invalidate(first), false, "invalidating the old token again");
  assertEqual((await manager.getToken()).accessToken, "token-2", "the new token survives a late 401");
  assertEqual(state.calls, 2, "creator calls");
}
