/**
 * @packageDocumentation
 * An Astro integration that keeps an upstream API's tokens in sealed HttpOnly cookies and rotates
 * them before each page renders, once per refresh token across every request and instance.
 *
 * Subpaths: `@tokenkeep/astro/config` (`defineTokenkeepConfig`, for `src/tokenkeep.config.ts`),
 * `@tokenkeep/astro/server` (the current request's session from any server code), and
 * `@tokenkeep/astro/middleware` (registered by the integration; not imported by hand).
 */
import { tokenkeep } from "./integration.js";

export { INTEGRATION_NAME, type TokenkeepIntegrationOptions, tokenkeep } from "./integration.js";

/** The version of this package, for diagnostics. */
export const version = "0.0.0";

export default tokenkeep;
