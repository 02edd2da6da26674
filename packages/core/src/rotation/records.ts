/**
 * What the rotation coordinator keeps in the store per refresh-token hash, and how it is read back.
 * Anything that does not decode (another version, garbage) decodes to `undefined`; the coordinator
 * takes a marker that is there but does not decode as in doubt, since it may say "redeemed".
 */
import { isObject } from "../options/rules.js";
import { isTokenSet } from "../token/token-response.js";
import type { JsonValue, TokenSet } from "../token/token-set.js";

/** The permanent failure a marker records (RFC 6749 section 5.2 fields; never a token). */
export interface RecordedFailure {
  readonly error: string;
  readonly status: number;
  readonly errorDescription?: string | undefined;
}

/**
 * What happened to a refresh token; no token material. Lives `redeemedTtlMs`.
 * - `redeeming`: a holder confirmed this marker and is presenting the token (`by` tells holders apart);
 * - `redeemed`: the redemption succeeded (its successor may have expired since);
 * - `failed`: the server refused the token permanently; or, with `waitUntil`, it refused it before
 *   redeeming it and asked to be left alone (a 429 or its own 503 with `Retry-After`): the token is
 *   intact and not presented before `waitUntil` (epoch ms; the marker lives until then). A version that
 *   does not know `waitUntil` reads the recorded `temporarily_unavailable`, a transient `OAuthError`,
 *   which is what such a window should mean to it: no new state, no format break;
 * - `in-doubt`: a redemption was abandoned without a definite answer (`checkedAt`: when the server
 *   was last asked whether the token is still unredeemed, without a definite answer;
 *   `verifyFailedAt`: when that check failed permanently, so it is not asked again; `unreadable`:
 *   it replaced a marker this instance could not read, which may have been another instance's
 *   `redeemed`, so a server saying the token is dead does not end the session). Its expiry stays
 *   `redeemedTtlMs` after `at`, however often it is rewritten.
 */
export type Marker =
  | { readonly state: "redeeming"; readonly at: number; readonly by: string }
  | { readonly state: "redeemed"; readonly at: number }
  | {
      readonly state: "in-doubt";
      readonly at: number;
      readonly checkedAt?: number | undefined;
      readonly verifyFailedAt?: number | undefined;
      readonly unreadable?: true | undefined;
    }
  | {
      readonly state: "failed";
      readonly at: number;
      readonly failure: RecordedFailure;
      readonly waitUntil?: number | undefined;
    };

/** A successor: the set a redemption returned, for late arrivals until `until` (epoch ms). */
export interface Successor {
  readonly set: TokenSet;
  readonly until: number;
}

/** A token set as JSON (fields that are `undefined` left out). */
export function encodeSet(set: TokenSet): JsonValue {
  const out: Record<string, JsonValue> = {};
  for (const [name, value] of Object.entries(set)) {
    if (value !== undefined) out[name] = value as JsonValue;
  }
  return out;
}

export function decodeSuccessor(value: unknown): Successor | undefined {
  return isObject(value) && isTokenSet(value.set) && typeof value.until === "number"
    ? { set: value.set, until: value.until }
    : undefined;
}

export function decodeMarker(value: unknown): Marker | undefined {
  if (!isObject(value) || typeof value.at !== "number") return undefined;
  switch (value.state) {
    case "redeeming":
      return typeof value.by === "string" ? (value as unknown as Marker) : undefined;
    case "redeemed":
      return { state: value.state, at: value.at };
    case "in-doubt":
      // Optional fields are kept only when numeric (a marker from an older or newer version that
      // lacks them, or has others, still reads as in doubt).
      return {
        state: value.state,
        at: value.at,
        ...(typeof value.checkedAt === "number" && { checkedAt: value.checkedAt }),
        ...(typeof value.verifyFailedAt === "number" && { verifyFailedAt: value.verifyFailedAt }),
        ...(value.unreadable === true && { unreadable: true }),
      };
    case "failed": {
      const failure = value.failure;
      if (!isObject(failure) || typeof failure.error !== "string" || typeof failure.status !== "number") {
        return undefined;
      }
      const errorDescription =
        typeof failure.errorDescription === "string" ? failure.errorDescription : undefined;
      return {
        state: "failed",
        at: value.at,
        failure: { error: failure.error, status: failure.status, errorDescription },
        ...(typeof value.waitUntil === "number" && { waitUntil: value.waitUntil }),
      };
    }
    default:
      return undefined;
  }
}
