import { InvalidResponseError } from "@tokenkeep/core";
import { readTokenResponse } from "@tokenkeep/core/http";
import * as rules from "@tokenkeep/core/options";
import {
  checkGrantOptions,
  type GrantOptions,
  grantOptionsShape,
  notTaken,
  type ResolvedGrantOptions,
  urlRule,
} from "./grant-options.js";
import { postToEndpoint, resolveEndpoint } from "./internal/token-endpoint.js";

/**
 * Options of {@link revokeToken}: the grants' shared options but `tokenUrl` and `defaultLifetimeMs`,
 * which a revocation has no use for. A value for either is refused as an unknown option (a
 * `TypeError` with code `ERR_TOKENKEEP_INVALID_OPTIONS`), never silently ignored.
 */
export interface RevokeTokenOptions extends Omit<GrantOptions, "tokenUrl" | "defaultLifetimeMs"> {
  /**
   * The revocation endpoint. Either this or `issuer` (whose metadata names it) is required; it takes
   * the place of the grants' `tokenUrl`, and like it holds no user name or password.
   * @default the issuer metadata's `revocation_endpoint`
   */
  revocationUrl?: string | URL | undefined;
  /** The token to revoke: an access token or a refresh token. Secret. */
  token: string;
  /**
   * A hint of what `token` is, so the server looks in the right place first.
   * @default undefined
   */
  tokenTypeHint?: "access_token" | "refresh_token" | (string & {}) | undefined;
  /** Stops the request. */
  signal?: AbortSignal | undefined;
}

/**
 * Options of {@link createRevocation}: those of {@link revokeToken} but the token and the call's own
 * (`tokenTypeHint`, `signal`), which each `revoke` takes.
 */
export type RevocationOptions = Omit<RevokeTokenOptions, "token" | "tokenTypeHint" | "signal">;

/** What each {@link Revocation.revoke} takes besides the token. */
export interface RevokeOptions {
  /** A hint of what the token is (`"access_token"`, `"refresh_token"`). @default undefined */
  tokenTypeHint?: RevokeTokenOptions["tokenTypeHint"];
  /** Stops the request. */
  signal?: AbortSignal | undefined;
}

/** Revokes tokens at one authorization server, with options checked once ({@link createRevocation}). */
export interface Revocation {
  /**
   * Revokes `token` (RFC 7009): resolves once the server answered 200, as {@link revokeToken} does.
   * @throws TypeError (code `ERR_TOKENKEEP_INVALID_OPTIONS`) for an empty token or invalid call options.
   */
  revoke(token: string, options?: RevokeOptions): Promise<void>;
}

// Built on first use, so a bundle that never revokes drops them. The shared shape has `tokenUrl` and
// `defaultLifetimeMs`, which a revocation never uses: a value for either is refused, not ignored, so
// nobody believes the token endpoint is where the revocation goes.
const signalRule = () =>
  rules.optional(
    rules.check<AbortSignal>((value) => value instanceof AbortSignal, "expected an AbortSignal"),
  );
const callShape = () => ({ tokenTypeHint: rules.optional(rules.string(1)), signal: signalRule() });
const revocationShape = () => ({
  ...grantOptionsShape(),
  tokenUrl: notTaken("tokenUrl", "revocationUrl"),
  defaultLifetimeMs: notTaken("defaultLifetimeMs"),
  revocationUrl: rules.optional(urlRule()),
});
const checkRevocation = (parsed: ResolvedGrantOptions & { revocationUrl?: string | undefined }) =>
  checkGrantOptions(parsed, "revocationUrl");

type ParsedRevocation = ReturnType<typeof parseRevocation>;
const parseRevocation = (options: RevocationOptions, label: string) =>
  rules.validate(rules.object(revocationShape()), options, label, checkRevocation);

/** Sends one revocation request (the options checked). */
async function send(parsed: ParsedRevocation, token: string, call: RevokeOptions): Promise<void> {
  const url = await resolveEndpoint(parsed, "revocation_endpoint", parsed.revocationUrl, call.signal);
  const post = (hint: string | undefined) =>
    postToEndpoint(url, { token, token_type_hint: hint }, parsed, call.signal, "revocation request", read);
  const read = async (response: Response) => {
    if (response.ok) {
      await response.body?.cancel().catch(() => {});
      return;
    }
    // Error answers share the token endpoint's shape (RFC 7009 section 2.2.1): let core read them.
    await readTokenResponse(response, { sentAt: parsed.now(), now: parsed.now });
    throw new InvalidResponseError(`revocation answered ${response.status}`, { status: response.status });
  };
  const hint = call.tokenTypeHint;
  await post(hint).catch((error: unknown) => {
    // RFC 7009 section 2.1: a server unable to locate the token with the hint must search every type
    // it supports. One that answers `unsupported_token_type` to the hint instead (it does not revoke
    // that type, though the token is of another) is asked once more without it; an extra parameter
    // `token_type_hint` would come back, so then the answer stands.
    if (
      hint === undefined ||
      parsed.extraParams?.token_type_hint !== undefined ||
      (error as { error?: unknown } | undefined)?.error !== "unsupported_token_type"
    ) {
      throw error;
    }
    return post(undefined);
  });
}

/**
 * Revokes an access or refresh token (RFC 7009). Resolves once the server answered 200, which it
 * also does for a token it does not know; an error answer becomes core's `OAuthError` (for example
 * `unsupported_token_type`, after one more request without `tokenTypeHint` when one was given), a
 * 503 a transient error carrying `retryAfterMs`. To check the options
 * once and revoke many tokens, use {@link createRevocation}.
 *
 * @example
 * await revokeToken({ issuer, clientId, clientSecret, token: set.refreshToken, tokenTypeHint: "refresh_token" });
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2
 */
export async function revokeToken(options: RevokeTokenOptions): Promise<void> {
  const parsed = rules.validate(
    rules.object({ ...revocationShape(), token: rules.string(1), ...callShape() }),
    options,
    "revokeToken",
    checkRevocation,
  );
  await send(parsed, parsed.token, parsed);
}

/**
 * Checks revocation options now (a `TypeError` with code `ERR_TOKENKEEP_INVALID_OPTIONS` for a
 * mistake, before any token is at stake) and returns a {@link Revocation} that sends each `revoke`
 * with them: what an application that revokes at sign-out builds at start. No request is sent until
 * the first `revoke` (discovery included).
 *
 * @example
 * const revocation = createRevocation({ issuer, clientId, clientSecret });
 * await revocation.revoke(set.refreshToken, { tokenTypeHint: "refresh_token" });
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2
 */
export function createRevocation(options: RevocationOptions): Revocation {
  const parsed = parseRevocation(options, "createRevocation");
  const callRule = rules.object(callShape());
  return {
    async revoke(token, callOptions) {
      const call = rules.validate(callRule, callOptions, "revoke", () =>
        typeof token === "string" && token !== "" ? [] : ["token: expected a non-empty string"],
      );
      await send(parsed, token, call);
    },
  };
}
