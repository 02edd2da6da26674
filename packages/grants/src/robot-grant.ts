import * as rules from "@tokenkeep/core/options";
import { createGrantCreator, type GrantCreator } from "./grant-creator.js";
import { checkGrantOptions, type GrantOptions, grantOptionsShape } from "./grant-options.js";

/** Options of {@link robotGrant}. */
export interface RobotGrantOptions extends GrantOptions {
  /** The robot's id. */
  id: string;
  /** The robot's secret. Secret: never logged, never in an error. */
  secret: string;
  /** The realm the robot belongs to (`realm_id`). */
  realmId?: string | undefined;
}

// Built on first use, so a bundle that never calls this creator drops it.
const rule = () =>
  rules.object({
    ...grantOptionsShape(),
    id: rules.string(1),
    secret: rules.string(1),
    realmId: rules.optional(rules.string()),
  });

/**
 * A token creator for Authup's robot credentials grant (`grant_type=robot_credentials` with `id`,
 * `secret` and an optional `realm_id`), an extension grant (RFC 6749 section 4.5). Authup does not
 * authenticate a client for it: set `clientAuthentication: "none"` unless your server wants one.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.5
 */
export function robotGrant(options: RobotGrantOptions): GrantCreator {
  const parsed = rules.validate(rule(), options, "robotGrant", checkGrantOptions);
  return createGrantCreator("robot_credentials", parsed, () => ({
    id: parsed.id,
    secret: parsed.secret,
    realm_id: parsed.realmId,
  }));
}
