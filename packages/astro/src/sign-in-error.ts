/**
 * The errors `locals.tokenkeep.login()` and `logout()` throw, with a code a form can map to a
 * message.
 */
import { isTokenkeepError, TokenkeepError } from "@tokenkeep/core";
import { redactSecrets } from "@tokenkeep/core/http";

/** Why a sign-in failed. */
export type SignInErrorCode =
  /** The upstream refused the credentials (wrong password, unknown user, locked account). */
  | "ERR_TOKENKEEP_SIGN_IN_REJECTED"
  /** The upstream failed or could not be reached: try again later. */
  | "ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE"
  /**
   * The session the upstream issued is over `cookie.maxBytes`, so it was not stored (and its tokens
   * were revoked): a configuration problem, the same every time for this user. Its `cause` is the
   * `SessionTooLargeError` (`bytes`, `maxBytes`); use `storage: "session"` or a smaller session payload.
   */
  | "ERR_TOKENKEEP_SIGN_IN_SESSION_TOO_LARGE"
  /** `login()` ran after the response had started (a component rendering late): cookies cannot be set. */
  | "ERR_TOKENKEEP_SIGN_IN_TOO_LATE"
  /**
   * `login()` ran on a page the build prerenders: it has no request to sign in, and cookies set at
   * build time are dropped. Sign in from an action, an endpoint or an on-demand page.
   */
  | "ERR_TOKENKEEP_SIGN_IN_PRERENDERED";

const CODES: ReadonlySet<string> = new Set([
  "ERR_TOKENKEEP_SIGN_IN_REJECTED",
  "ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE",
  "ERR_TOKENKEEP_SIGN_IN_SESSION_TOO_LARGE",
  "ERR_TOKENKEEP_SIGN_IN_TOO_LATE",
  "ERR_TOKENKEEP_SIGN_IN_PRERENDERED",
]);

const MESSAGES: Record<SignInErrorCode, string> = {
  ERR_TOKENKEEP_SIGN_IN_REJECTED: "the upstream rejected the credentials",
  ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE: "the upstream could not sign in now",
  ERR_TOKENKEEP_SIGN_IN_SESSION_TOO_LARGE:
    'the session is over cookie.maxBytes and was not stored; use storage: "session" or a smaller session payload',
  ERR_TOKENKEEP_SIGN_IN_TOO_LATE:
    "login() was called after the response started; call it from an action, an endpoint or the page's frontmatter",
  ERR_TOKENKEEP_SIGN_IN_PRERENDERED:
    "login() is not available on a prerendered page (nothing signs in at build time); call it from an action, an endpoint or a page rendered on demand",
};

/** A failed sign-in. The credentials never appear in it. */
export class SignInError extends TokenkeepError {
  override name = "SignInError";
  declare readonly code: SignInErrorCode;
  constructor(code: SignInErrorCode, options: { cause?: unknown } = {}) {
    super(code, `@tokenkeep/astro: ${MESSAGES[code]}`, {
      ...options,
      transient: code === "ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE",
    });
  }
}

/** Whether `value` is a {@link SignInError} (from any copy of this package). */
export function isSignInError(value: unknown): value is SignInError {
  return isTokenkeepError(value) && CODES.has(value.code);
}

/** Why a sign-out failed (a failed upstream revocation is no failure: `logout()` resolves `revoked: false`). */
export type SignOutErrorCode =
  /**
   * `logout()` ran after the response had started (a component rendering late): the session cookies
   * can no longer be cleared, so nothing was done (no revocation, the session kept).
   */
  "ERR_TOKENKEEP_SIGN_OUT_TOO_LATE";

const SIGN_OUT_CODES: ReadonlySet<string> = new Set(["ERR_TOKENKEEP_SIGN_OUT_TOO_LATE"]);

const SIGN_OUT_MESSAGES: Record<SignOutErrorCode, string> = {
  ERR_TOKENKEEP_SIGN_OUT_TOO_LATE:
    "logout() was called after the response started, so the session cookies could not be cleared and nothing was done; call it from an action, an endpoint or the page's frontmatter",
};

/** A sign-out `logout()` refused to do, the session untouched. Holds no token. */
export class SignOutError extends TokenkeepError {
  override name = "SignOutError";
  declare readonly code: SignOutErrorCode;
  constructor(code: SignOutErrorCode, options: { cause?: unknown } = {}) {
    super(code, `@tokenkeep/astro: ${SIGN_OUT_MESSAGES[code]}`, { ...options, transient: false });
  }
}

/** Whether `value` is a {@link SignOutError} (from any copy of this package). */
export function isSignOutError(value: unknown): value is SignOutError {
  return isTokenkeepError(value) && SIGN_OUT_CODES.has(value.code);
}

/**
 * What of a sign-in's credentials must never be shown: a password (or another field named like a
 * secret) whatever its length, any other value of at least 4 characters (shorter ones would blank
 * out words of a message rather than hide anything).
 */
export function credentialSecrets(credentials: Readonly<Record<string, string>>): string[] {
  return Object.entries(credentials)
    .filter(([name, value]) => value !== "" && (/pass|secret|pin|otp|code/i.test(name) || value.length >= 4))
    .map(([, value]) => value);
}

/** An error's message, its own fields and its causes' messages, as one text to search. */
function textOf(error: unknown, depth = 0): string {
  if (!(error instanceof Error) || depth > 4) return String(error);
  let fields = "";
  try {
    fields = JSON.stringify({ ...error });
  } catch {
    // A field that cannot be serialized is not searched.
  }
  return `${error.message} ${fields} ${error.cause === undefined ? "" : textOf(error.cause, depth + 1)}`;
}

/**
 * `error` as the cause of a {@link SignInError}: itself when it shows none of `secrets`, else a copy
 * with its name, code and message, the secrets redacted (a custom upstream's error may quote what it
 * was sent). Errors made by `@tokenkeep/grants` come redacted already.
 */
export function redactedCause(error: unknown, secrets: readonly string[]): unknown {
  const text = textOf(error);
  if (secrets.length === 0 || redactSecrets(text, secrets) === text) return error;
  const { name = "Error", code } = (error ?? {}) as { name?: string; code?: unknown };
  const message = redactSecrets(error instanceof Error ? error.message : String(error), secrets);
  return Object.assign(new Error(message), { name }, typeof code === "string" ? { code } : {});
}
