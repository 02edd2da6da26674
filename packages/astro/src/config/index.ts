/**
 * @packageDocumentation
 * `@tokenkeep/astro/config`: what `src/tokenkeep.config.ts` imports. That module is loaded only by the
 * server bundle (a client-side import fails the build), so it may hold functions and read secrets
 * from the environment at runtime.
 */
import { parseConfig, type TokenkeepConfig } from "./schema.js";

export type { TokenkeepEvent, TokenkeepEventType, TokenkeepStats } from "../events.js";
export type {
  CookieConfig,
  EndpointsUpstreamOptions,
  FieldMapping,
  OAuthUpstreamOptions,
  ParsedTokens,
  ProtectOptions,
  TokenkeepConfig,
  Upstream,
  UpstreamConfig,
} from "./schema.js";

/**
 * Declares the configuration, checked at once: a bad value throws a `TypeError` with code
 * `ERR_TOKENKEEP_INVALID_OPTIONS` naming each problem (`path: message`) when the server loads the
 * module (the first on-demand request; the build does not evaluate it).
 *
 * @example
 * ```ts
 * export default defineTokenkeepConfig({
 *   upstream: { oauth: { issuer: process.env.AUTH_ISSUER, clientId: "web", clientSecret: process.env.AUTH_SECRET } },
 * });
 * ```
 */
export function defineTokenkeepConfig<const T extends TokenkeepConfig>(config: T): T {
  parseConfig(config);
  return config;
}
