/**
 * `createAuthFetch` against the orchestrator's resource server: `/rs/echo` answers 401 for tokens
 * starting with `stale-`, so a stale cached token is invalidated and the request replayed once.
 */
import { createTokenManager, type TokenResponse } from "@tokenkeep/core";
import { createAuthFetch } from "@tokenkeep/core/http";
import { assert, assertEqual, type MatrixConfig } from "../harness.ts";

/** A creator handing out `tokens` in order (the last one again when they run out). */
function scriptedCreator(tokens: string[]) {
  const state = { calls: 0 };
  const creator = async (): Promise<TokenResponse> => {
    const token = tokens[Math.min(state.calls, tokens.length - 1)]!;
    state.calls += 1;
    return { access_token: token, token_type: "Bearer", expires_in: 3600 };
  };
  return { state, creator };
}

/** Records what each request carried, then sends it with the runtime's `fetch`. */
function recordingFetch() {
  const sent: { url: string; authorization: string | null }[] = [];
  const fetcher: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    sent.push({ url: request.url, authorization: request.headers.get("authorization") });
    return fetch(request);
  };
  return { sent, fetcher };
}

/** A 401 invalidates the token that was sent and replays the request once, body included. */
export async function replayOnce(config: MatrixConfig): Promise<void> {
  const { state, creator } = scriptedCreator(["stale-1", "fresh-2"]);
  await using manager = createTokenManager({ creator });
  const { sent, fetcher } = recordingFetch();
  const authFetch = createAuthFetch(manager, { origins: [config.origin], fetch: fetcher });

  const answer = await authFetch(`${config.origin}/rs/echo`, { method: "POST", body: "payload" });
  assertEqual(answer.status, 200, "status after the replay");
  const echoed = (await answer.json()) as { token: string; method: string; body: string };
  assertEqual(echoed.token, "fresh-2", "the replay carried the new token");
  assertEqual(echoed.body, "payload", "the replay carried the body again");
  assertEqual(sent.length, 2, "requests sent (first + one replay)");
  assertEqual(sent[0]?.authorization, "Bearer stale-1", "first request's header");
  assertEqual(state.calls, 2, "creator calls");

  // Another origin never gets the token.
  await (await authFetch(`${config.issuer}/.well-known/openid-configuration`)).body?.cancel();
  assertEqual(sent.at(-1)?.authorization, null, "Authorization sent to another origin");
}

/** When the new token is rejected too, the 401 comes back: one replay, never a loop. */
export async function replayNotRepeated(config: MatrixConfig): Promise<void> {
  const { state, creator } = scriptedCreator(["stale-1", "stale-2", "stale-3"]);
  await using manager = createTokenManager({ creator });
  const { sent, fetcher } = recordingFetch();
  const authFetch = createAuthFetch(manager, { origins: [config.origin], fetch: fetcher });
  const answer = await authFetch(`${config.origin}/rs/echo`);
  assertEqual(answer.status, 401, "status when the replay is rejected too");
  await answer.body?.cancel();
  assertEqual(sent.length, 2, "requests sent");
  assertEqual(state.calls, 2, "creator calls");
  assert(
    sent.map((request) => request.authorization).join(",") === "Bearer stale-1,Bearer stale-2",
    "each request carried the token current at the time",
  );
}
