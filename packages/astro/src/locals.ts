/** `context.locals.tokenkeep`: what a page, endpoint or action sees of the session, and sign-in/out. */
import type { JsonValue } from "@tokenkeep/core";
import type { Session } from "./session.js";
import { SignInError } from "./sign-in-error.js";

/** What `login` resolves to. */
export interface SignInResult {
  readonly signedIn: true;
  /** What the upstream said about the user. */
  readonly sessionPayload: JsonValue | undefined;
  /** When the access token expires, epoch ms. */
  readonly expiresAt: number;
}

/** What `logout` resolves to: the local session always ends; `revoked` tells whether upstream did. */
export interface SignOutResult {
  /** Whether the upstream confirmed the revocation (or logout); `false` when it failed or there is none. */
  readonly revoked: boolean;
  /** Why the upstream revocation failed (log-safe), when it did. */
  readonly error?: unknown;
}

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
  /**
   * Signs in through the upstream (password grant or the custom login endpoint) and stores the
   * session in its sealed cookies. Use it from actions and endpoints (or a page's frontmatter).
   * @throws SignInError, and nothing else (`ERR_TOKENKEEP_SIGN_IN_REJECTED` for wrong or missing
   *   credentials, `ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE` when the upstream failed or Astro's session
   *   driver could not store the session, `ERR_TOKENKEEP_SIGN_IN_SESSION_TOO_LARGE` when the session
   *   is over `cookie.maxBytes` (not stored, its tokens revoked; not transient);
   *   `ERR_TOKENKEEP_SIGN_IN_TOO_LATE` after the response started; `ERR_TOKENKEEP_SIGN_IN_PRERENDERED`
   *   on a page the build prerenders)
   */
  login(credentials: Readonly<Record<string, string>>): Promise<SignInResult>;
  /**
   * Ends the session: revokes it upstream (RFC 7009 or the custom logout) and clears every cookie
   * and chunk. The local session ends even when the upstream is down; `revoked` says whether it heard.
   * @throws SignOutError `ERR_TOKENKEEP_SIGN_OUT_TOO_LATE` after the response started (the cookies
   *   could not be cleared; nothing is done), and nothing else
   */
  logout(): Promise<SignOutResult>;
}

/** What the locals read and call (the middleware's per-request state). */
export interface LocalsSource {
  session(): Session | undefined;
  now(): number;
  login(credentials: Readonly<Record<string, string>>): Promise<SignInResult>;
  logout(): Promise<SignOutResult>;
}

const signedOutSource = (now: () => number): LocalsSource => ({
  session: () => undefined,
  now,
  login: () => Promise.reject(new SignInError("ERR_TOKENKEEP_SIGN_IN_PRERENDERED")),
  logout: async () => ({ revoked: false }),
});

/**
 * Marks the locals this middleware made (a global symbol, so every copy of this module a bundler may
 * produce recognises them): a second registration of the middleware sees the request's
 * `locals.tokenkeep` carry it and passes the request on.
 */
export const OWN_LOCALS = Symbol.for("tokenkeep.astro.locals");

/**
 * The locals of a request (or, without a source, of a prerendered page: signed out). Plain data
 * fields and functions, so a spread (`{ ...Astro.locals.tokenkeep }`) copies the values and
 * destructuring works; the middleware brings the fields up to date with {@link updateLocals}
 * whenever the request's session changes (sign-in, sign-out, renewal after a 401). Data fields
 * rather than getters: an object literal with getters is built through the runtime on every
 * evaluation (about 1 us per request), one with data fields from a template (tens of ns).
 */
export function createLocals(
  source: LocalsSource | undefined,
  now: () => number = Date.now,
): TokenkeepLocals {
  const from = source ?? signedOutSource(now);
  const session = from.session();
  return {
    [OWN_LOCALS]: true,
    signedIn: session !== undefined,
    sessionPayload: session?.sessionPayload,
    expiresAt: session?.expiresAt,
    getAccessToken: async () => {
      const current = from.session();
      return current !== undefined && from.now() < current.expiresAt ? current.accessToken : undefined;
    },
    login: (credentials: Readonly<Record<string, string>>) => from.login(credentials),
    logout: () => from.logout(),
    // A state object may end up in a log: show what it is, never the token.
    toJSON: () => ({ signedIn: from.session() !== undefined, expiresAt: from.session()?.expiresAt }),
  } as TokenkeepLocals;
}

/** Brings the fields of `locals` (made by {@link createLocals}) up to date with the request's `session`. */
export function updateLocals(locals: TokenkeepLocals, session: Session | undefined): void {
  const fields = locals as { signedIn: boolean; sessionPayload: unknown; expiresAt: number | undefined };
  fields.signedIn = session !== undefined;
  fields.sessionPayload = session?.sessionPayload;
  fields.expiresAt = session?.expiresAt;
}

/** Whether `value` is locals this middleware (any copy of it) made. */
export function isOwnLocals(value: unknown): boolean {
  return (
    typeof value === "object" && value !== null && (value as { [OWN_LOCALS]?: unknown })[OWN_LOCALS] === true
  );
}
