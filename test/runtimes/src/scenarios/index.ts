/** Every scenario of the matrix, in the order they run and are reported. */
import type { Scenario } from "../harness.ts";
import { replayNotRepeated, replayOnce } from "./auth-fetch.ts";
import { clientSecretJwtAuthentication, dpop, privateKeyJwtAuthentication } from "./enterprise.ts";
import { clientCredentials, oauthError, refreshTokenRotation } from "./grants.ts";
import { introspection } from "./introspection.ts";
import { invalidation, refreshAhead, singleFlight, skew } from "./manager.ts";
import { patServerHandler } from "./pat-server.ts";
import { abortSignalTimeout, cryptoSubtle, timers, webGlobals } from "./platform.ts";

export const scenarios: Readonly<Record<string, Scenario>> = {
  "platform: web globals": webGlobals,
  "platform: crypto.subtle": cryptoSubtle,
  "platform: AbortSignal.timeout and fetch": abortSignalTimeout,
  "platform: timers": timers,
  "manager: single-flight": singleFlight,
  "manager: skew": skew,
  "manager: refresh-ahead": refreshAhead,
  "manager: invalidation": invalidation,
  "auth fetch: replay once on 401": replayOnce,
  "auth fetch: no second replay": replayNotRepeated,
  "grants: client credentials": clientCredentials,
  "grants: refresh-token rotation": refreshTokenRotation,
  "grants: OAuth error answer": oauthError,
  "grants: private_key_jwt": privateKeyJwtAuthentication,
  "grants: client_secret_jwt": clientSecretJwtAuthentication,
  "grants: DPoP": dpop,
  "grants: introspection": introspection,
  "pat-server: handler on a memory store": patServerHandler,
};
