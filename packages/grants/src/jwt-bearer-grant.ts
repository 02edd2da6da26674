import * as rules from "@tokenkeep/core/options";
import { createGrantCreator, type GrantCreator } from "./grant-creator.js";
import { checkGrantOptions, type GrantOptions, grantOptionsShape, stringsRule } from "./grant-options.js";
import {
  identityField,
  readTokenSource,
  resourceParam,
  scopeParam,
  type TokenSource,
  tokenSourceRule,
} from "./internal/params.js";

/** RFC 7523's `grant_type` for a JWT used as an authorization grant. */
export const JWT_BEARER_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** Options of {@link jwtBearerGrant}. */
export interface JwtBearerGrantOptions extends GrantOptions {
  /**
   * The JWT to present (`assertion`): a string, or a function of the creator's context returning a
   * fresh one per request (servers refuse a replayed `jti`). Secret.
   */
  assertion: TokenSource;
  /**
   * The scope wanted. A manager identity's `scope` replaces it.
   * @default undefined (the server's default)
   */
  scope?: string | readonly string[] | undefined;
  /**
   * The resource(s) the token is for (RFC 8707). A manager identity's `resource` replaces it.
   * @default undefined
   */
  resource?: string | readonly string[] | undefined;
}

// Built on first use, so a bundle that never calls this creator drops it.
const rule = () =>
  rules.object({
    ...grantOptionsShape(),
    assertion: tokenSourceRule(),
    scope: rules.optional(stringsRule()),
    resource: rules.optional(stringsRule()),
  });

/**
 * A token creator for the JWT bearer grant: a JWT (issued by a trusted party, or signed by the client
 * itself, as Google service accounts do) is exchanged for an access token. RFC 7523 makes client
 * authentication optional here: set `clientAuthentication: "none"` when the server does not ask for it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.1
 */
export function jwtBearerGrant(options: JwtBearerGrantOptions): GrantCreator {
  const parsed = rules.validate(rule(), options, "jwtBearerGrant", checkGrantOptions);
  return createGrantCreator(JWT_BEARER_GRANT_TYPE, parsed, async (context) => ({
    assertion: await readTokenSource(parsed.assertion, context, "assertion"),
    scope: scopeParam(identityField(context.identity, "scope") ?? parsed.scope),
    resource: resourceParam(identityField(context.identity, "resource") ?? parsed.resource),
  }));
}
