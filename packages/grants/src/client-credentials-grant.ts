import * as rules from "@tokenkeep/core/options";
import { createGrantCreator, type GrantCreator } from "./grant-creator.js";
import { checkGrantOptions, type GrantOptions, grantOptionsShape, stringsRule } from "./grant-options.js";
import { audienceParam, identityField, resourceParam, scopeParam } from "./internal/params.js";

/** Options of {@link clientCredentialsGrant}. */
export interface ClientCredentialsGrantOptions extends GrantOptions {
  /**
   * The scope to request: a space-delimited string or a list. A manager identity's `scope` replaces it.
   * @default undefined (the server's default scope)
   */
  scope?: string | readonly string[] | undefined;
  /**
   * The resource(s) the token is for (RFC 8707): sent as one `resource` parameter per value. A manager
   * identity's `resource` replaces it.
   * @default undefined
   */
  resource?: string | readonly string[] | undefined;
  /**
   * The `audience` parameter some servers (Auth0, Authup) use instead of `resource`: one value, or a
   * list sent as one `audience` parameter per value in a form (a list in a JSON body). A manager
   * identity's `audience`, a string or a list, replaces it.
   * @default undefined
   */
  audience?: string | readonly string[] | undefined;
}

// Built on first use, so a bundle that never calls this creator drops it.
const rule = () =>
  rules.object({
    ...grantOptionsShape(),
    scope: rules.optional(stringsRule()),
    resource: rules.optional(stringsRule()),
    audience: rules.optional(stringsRule()),
  });

/**
 * A token creator for the client credentials grant: the client obtains a token for itself with its
 * own credentials. Options are validated here, once; a bad option throws a `TypeError` with
 * `code: "ERR_TOKENKEEP_INVALID_OPTIONS"`.
 *
 * @example
 * const manager = createTokenManager({
 *   creator: clientCredentialsGrant({ issuer: "https://auth.example", clientId: "api", clientSecret }),
 * });
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 */
export function clientCredentialsGrant(options: ClientCredentialsGrantOptions): GrantCreator {
  const parsed = rules.validate(rule(), options, "clientCredentialsGrant", checkGrantOptions);
  return createGrantCreator("client_credentials", parsed, ({ identity }) => ({
    scope: scopeParam(identityField(identity, "scope") ?? parsed.scope),
    resource: resourceParam(identityField(identity, "resource") ?? parsed.resource),
    // One value stays a string (a JSON body sends it as one); a list is repeated, an empty one is unset.
    audience: audienceParam(identityField(identity, "audience") ?? parsed.audience),
  }));
}
