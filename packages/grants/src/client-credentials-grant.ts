import * as rules from "@tokenkeep/core/options";
import { createGrantCreator, type GrantCreator } from "./grant-creator.js";
import { checkGrantOptions, type GrantOptions, grantOptionsShape, stringsRule } from "./grant-options.js";
import { identityField, resourceParam, scopeParam } from "./internal/params.js";

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
   * The `audience` parameter some servers (Auth0, Authup) use instead of `resource`. A manager
   * identity's `audience` replaces it.
   * @default undefined
   */
  audience?: string | undefined;
}

// Built on first use, so a bundle that never calls this creator drops it.
const rule = () =>
  rules.object({
    ...grantOptionsShape(),
    scope: rules.optional(stringsRule()),
    resource: rules.optional(stringsRule()),
    audience: rules.optional(rules.string()),
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
  return createGrantCreator("client_credentials", parsed, ({ identity }) => {
    const audience = identityField(identity, "audience");
    return {
      scope: scopeParam(identityField(identity, "scope") ?? parsed.scope),
      resource: resourceParam(identityField(identity, "resource") ?? parsed.resource),
      audience: typeof audience === "string" ? audience : parsed.audience,
    };
  });
}
