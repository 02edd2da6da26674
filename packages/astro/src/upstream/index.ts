/** Turns the configured upstream (OAuth, custom endpoints, or functions) into one {@link Upstream}. */
import type {
  OAuthUpstreamOptions,
  ResolvedConfig,
  ResolvedEndpointsOptions,
  Upstream,
} from "../config/schema.js";
import { endpointsUpstream } from "./endpoints.js";
import { oauthUpstream } from "./oauth.js";

/** The upstream the middleware calls. */
export function resolveUpstream(config: ResolvedConfig["upstream"]): Upstream {
  if (config.oauth !== undefined) return oauthUpstream(config.oauth as OAuthUpstreamOptions);
  if (config.endpoints !== undefined) return endpointsUpstream(config.endpoints as ResolvedEndpointsOptions);
  return config as Upstream;
}
