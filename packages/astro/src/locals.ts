/** `context.locals.tokenkeep`: what a page or endpoint sees of the session. */
import type { JsonValue } from "@tokenkeep/core";

/** The session state of one request. Never holds a token in an enumerable field. */
export interface TokenkeepLocals {
  /** Whether the request has a usable session. */
  readonly signedIn: boolean;
  /** What the upstream said about the user (claims, profile), when signed in. */
  readonly sessionPayload: JsonValue | undefined;
  /** When the access token expires (epoch ms), when signed in. */
  readonly expiresAt: number | undefined;
  /** The access token while it is valid; `undefined` when signed out. Secret: never log it. */
  getAccessToken(): Promise<string | undefined>;
}

/** The locals of a request with `session` (or none). */
export function createLocals(
  session:
    | {
        readonly accessToken: string;
        readonly expiresAt: number;
        readonly sessionPayload?: JsonValue | undefined;
      }
    | undefined,
  now: () => number,
): TokenkeepLocals {
  return {
    signedIn: session !== undefined,
    sessionPayload: session?.sessionPayload,
    expiresAt: session?.expiresAt,
    getAccessToken: async () =>
      session !== undefined && now() < session.expiresAt ? session.accessToken : undefined,
    // A state object may end up in a log: show what it is, never the token.
    toJSON: () => ({ signedIn: session !== undefined, expiresAt: session?.expiresAt }),
  } as TokenkeepLocals;
}
