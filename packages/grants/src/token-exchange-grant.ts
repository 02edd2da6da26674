import { InvalidResponseError, type TokenSet } from "@tokenkeep/core";
import * as rules from "@tokenkeep/core/options";
import { createGrantCreator, type GrantCreator } from "./grant-creator.js";
import { checkGrantOptions, type GrantOptions, grantOptionsShape, stringsRule } from "./grant-options.js";
import {
  audienceParam,
  identityField,
  readTokenSource,
  resourceParam,
  scopeParam,
  type TokenSource,
  tokenSourceRule,
} from "./internal/params.js";

export type { TokenSource } from "./internal/params.js";

/** RFC 8693's `grant_type`. */
export const TOKEN_EXCHANGE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange";

/**
 * A token type (RFC 8693 section 3): a short name, which becomes
 * `urn:ietf:params:oauth:token-type:<name>`, or any URI as it is.
 */
export type TokenType =
  | "access_token"
  | "refresh_token"
  | "id_token"
  | "saml1"
  | "saml2"
  | "jwt"
  | (string & {});

/** Options of {@link tokenExchangeGrant}. */
export interface TokenExchangeGrantOptions extends GrantOptions {
  /**
   * The token to exchange (`subject_token`): a string, or a function of the creator's context
   * (`{ identity, signal, previous }`) returning one, so each manager identity exchanges its own
   * subject's token. Secret.
   */
  subjectToken: TokenSource;
  /**
   * What `subjectToken` is.
   * @default "access_token"
   */
  subjectTokenType?: TokenType | undefined;
  /**
   * The token of the party acting on the subject's behalf (`actor_token`), for delegation. Secret.
   * @default undefined (no actor)
   */
  actorToken?: TokenSource | undefined;
  /**
   * What `actorToken` is.
   * @default "access_token" (sent only with an `actorToken`)
   */
  actorTokenType?: TokenType | undefined;
  /**
   * The kind of token wanted back (`requested_token_type`). The answer's `issued_token_type` must be
   * this one. Give it to obtain a token that is no access token (`jwt` for another domain's JWT
   * bearer grant, say): only then is an answer with `token_type` `N_A` taken.
   * @default undefined (the server's choice, which must be usable as an access token)
   */
  requestedTokenType?: TokenType | undefined;
  /**
   * The scope wanted. A manager identity's `scope` replaces it.
   * @default undefined (the server's default)
   */
  scope?: string | readonly string[] | undefined;
  /**
   * The resource(s) the new token is for (RFC 8707 URIs). A manager identity's `resource` replaces it.
   * @default undefined
   */
  resource?: string | readonly string[] | undefined;
  /**
   * The logical name(s) of the target service (`audience`). A manager identity's `audience` replaces it.
   * @default undefined
   */
  audience?: string | readonly string[] | undefined;
}

const tokenTypeRule = () => rules.optional(rules.string(1));

// Built on first use, so a bundle that never calls this creator drops it.
const rule = () =>
  rules.object({
    ...grantOptionsShape(),
    subjectToken: tokenSourceRule(),
    subjectTokenType: tokenTypeRule(),
    actorToken: rules.optional(tokenSourceRule()),
    actorTokenType: tokenTypeRule(),
    requestedTokenType: tokenTypeRule(),
    scope: rules.optional(stringsRule()),
    resource: rules.optional(stringsRule()),
    audience: rules.optional(stringsRule()),
  });

/** A short token type name as its URN; a URI stays as it is. */
function tokenTypeUri(type: string | undefined): string | undefined {
  return type === undefined || type.includes(":") ? type : `urn:ietf:params:oauth:token-type:${type}`;
}

const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/**
 * Checks a token exchange answer against RFC 8693 section 2.2.1: `issued_token_type` is REQUIRED,
 * and is the `requested` type when one was asked for (a token of another kind would be used as the
 * kind asked for); `token_type` `N_A` (compared case-insensitively, as `token_type` is) says the token
 * is no access token, which is refused unless a type other than an access token was requested: without
 * one, the creator stands for an access token, and `createAuthFetch` would send
 * `Authorization: N_A <token>`. The errors name the field, never a value.
 */
function checkIssuedToken(set: TokenSet, requested: string | undefined): TokenSet {
  const issued = set.raw.issued_token_type;
  const field = (name: string, problem: string) =>
    new InvalidResponseError(`invalid token response: field "${name}" ${problem}`);
  if (issued == null) throw field("issued_token_type", "is missing");
  if (typeof issued !== "string" || issued === "") throw field("issued_token_type", "is invalid");
  if (requested !== undefined && issued !== requested) {
    throw field("issued_token_type", "is not the requested_token_type");
  }
  if (set.tokenType.toUpperCase() === "N_A" && (requested ?? ACCESS_TOKEN_TYPE) === ACCESS_TOKEN_TYPE) {
    throw field(
      "token_type",
      "is N_A (not an access token), but an access token was expected: give requestedTokenType for another kind",
    );
  }
  return set;
}

/**
 * A token creator for OAuth 2.0 Token Exchange: trades a subject token (a user's token a service
 * received, say) and optionally an actor token for a new token, for example one for a downstream
 * API. With a function as `subjectToken`, one manager serves many subjects: the manager caches,
 * renews and single-flights per identity, so put the subject (its user id, never the token) in the
 * identity and let the function find that subject's token.
 *
 * @example
 * const incoming = new Map<string, string>(); // user id -> the token that user's request carried
 * const manager = createTokenManager({
 *   creator: tokenExchangeGrant({
 *     issuer, clientId, clientSecret,
 *     subjectToken: ({ identity }) => incoming.get(String(identity?.user))!,
 *     audience: "https://orders.example",
 *   }),
 * });
 *
 * The answer must name its `issued_token_type` (the `requestedTokenType`, when one was given) and,
 * unless a kind other than an access token was requested, must not have `token_type` `N_A`; else
 * the creator rejects with a permanent `InvalidResponseError` naming the field.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.1
 * @see https://www.rfc-editor.org/rfc/rfc8693#section-2.2.1
 */
export function tokenExchangeGrant(options: TokenExchangeGrantOptions): GrantCreator {
  const parsed = rules.validate(rule(), options, "tokenExchangeGrant", (value) => [
    ...checkGrantOptions(value),
    ...(value.actorTokenType !== undefined && value.actorToken === undefined
      ? ["actorTokenType: only with actorToken"]
      : []),
  ]);
  const { actorToken } = parsed;
  const requested = tokenTypeUri(parsed.requestedTokenType);
  const creator = createGrantCreator(TOKEN_EXCHANGE_GRANT_TYPE, parsed, async (context) => {
    const { identity } = context;
    return {
      subject_token: await readTokenSource(parsed.subjectToken, context, "subjectToken"),
      subject_token_type: tokenTypeUri(parsed.subjectTokenType ?? "access_token"),
      actor_token:
        actorToken === undefined ? undefined : await readTokenSource(actorToken, context, "actorToken"),
      actor_token_type:
        actorToken === undefined ? undefined : tokenTypeUri(parsed.actorTokenType ?? "access_token"),
      requested_token_type: requested,
      scope: scopeParam(identityField(identity, "scope") ?? parsed.scope),
      resource: resourceParam(identityField(identity, "resource") ?? parsed.resource),
      audience: audienceParam(identityField(identity, "audience") ?? parsed.audience),
    };
  });
  // The type asked for, also when it came as an extra parameter (sent when the option is unset).
  const extra = parsed.extraParams.requested_token_type;
  const expected = requested ?? (typeof extra === "string" ? extra : undefined);
  return async (context) => checkIssuedToken(await creator(context), expected);
}
