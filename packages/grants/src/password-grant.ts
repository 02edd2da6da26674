import * as rules from "@tokenkeep/core/options";
import { createGrantCreator, type GrantCreator } from "./grant-creator.js";
import { checkGrantOptions, type GrantOptions, grantOptionsShape, stringsRule } from "./grant-options.js";
import { identityField, scopeParam } from "./internal/params.js";

/** Options of {@link passwordGrant}. */
export interface PasswordGrantOptions extends GrantOptions {
  /** The resource owner's username. */
  username: string;
  /** The resource owner's password. Secret: never logged, never in an error. */
  password: string;
  /**
   * The scope to request. A manager identity's `scope` replaces it.
   * @default undefined (the server's default scope)
   */
  scope?: string | readonly string[] | undefined;
  /** Authup: the realm the user belongs to, by id (`realm_id`). */
  realmId?: string | undefined;
  /** Authup: the realm the user belongs to, by name (`realm_name`). */
  realmName?: string | undefined;
}

// Built on first use, so a bundle that never calls this creator drops it.
const rule = () =>
  rules.object({
    ...grantOptionsShape(),
    username: rules.string(1),
    password: rules.string(1),
    scope: rules.optional(stringsRule()),
    realmId: rules.optional(rules.string()),
    realmName: rules.optional(rules.string()),
  });

/**
 * A token creator for the resource owner password credentials grant. RFC 9700 deprecates it for new
 * systems; it remains common for first-party services and Authup's user tokens. The answer's refresh
 * token, when the server issues one, is what {@link refreshTokenGrant} redeems.
 *
 * For a public client (Authup without a client) set `clientAuthentication: "none"`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.3
 */
export function passwordGrant(options: PasswordGrantOptions): GrantCreator {
  const parsed = rules.validate(rule(), options, "passwordGrant", checkGrantOptions);
  return createGrantCreator("password", parsed, ({ identity }) => ({
    username: parsed.username,
    password: parsed.password,
    scope: scopeParam(identityField(identity, "scope") ?? parsed.scope),
    realm_id: parsed.realmId,
    realm_name: parsed.realmName,
  }));
}
