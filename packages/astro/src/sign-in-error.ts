/** The error `locals.tokenkeep.login()` throws, with a code a form can map to a message. */
import { isTokenkeepError, TokenkeepError } from "@tokenkeep/core";

/** Why a sign-in failed. */
export type SignInErrorCode =
  /** The upstream refused the credentials (wrong password, unknown user, locked account). */
  | "ERR_TOKENKEEP_SIGN_IN_REJECTED"
  /** The upstream failed or could not be reached: try again later. */
  | "ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE"
  /** `login()` ran after the response had started (a component rendering late): cookies cannot be set. */
  | "ERR_TOKENKEEP_SIGN_IN_TOO_LATE";

const CODES: ReadonlySet<string> = new Set([
  "ERR_TOKENKEEP_SIGN_IN_REJECTED",
  "ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE",
  "ERR_TOKENKEEP_SIGN_IN_TOO_LATE",
]);

const MESSAGES: Record<SignInErrorCode, string> = {
  ERR_TOKENKEEP_SIGN_IN_REJECTED: "the upstream rejected the credentials",
  ERR_TOKENKEEP_SIGN_IN_UNAVAILABLE: "the upstream could not sign in now",
  ERR_TOKENKEEP_SIGN_IN_TOO_LATE:
    "login() was called after the response started; call it from an action, an endpoint or the page's frontmatter",
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
