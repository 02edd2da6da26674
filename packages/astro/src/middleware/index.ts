/**
 * @packageDocumentation
 * `@tokenkeep/astro/middleware`: the `onRequest` the integration registers with `order: "pre"`. It
 * imports the user's configuration through the virtual module the integration's Vite plugin serves
 * inside the server bundle only. Not meant to be imported by hand.
 */
import config, { base, dev, prerenderOnly, routes } from "virtual:tokenkeep/config";
import type { MiddlewareHandler } from "astro";
import { parseConfig, type TokenkeepConfig } from "../config/schema.js";
import { assertCookieSecret, createTokenkeepMiddleware, prerenderMiddleware } from "./handler.js";

const resolved = prerenderOnly ? undefined : parseConfig(config as TokenkeepConfig);
// Outside `astro dev`, no cookie secret is fatal here. With @astrojs/node the integration makes the
// built server import this module as it starts (vite-plugin.ts), so the server refuses to start;
// elsewhere Astro loads middleware on the first request, and that request fails.
if (resolved !== undefined && !dev) assertCookieSecret(resolved);

/**
 * The middleware, configured by `src/tokenkeep.config.ts` (or the file the integration was given);
 * while the build prerenders pages, a stand-in that only sets signed-out locals.
 */
export const onRequest: MiddlewareHandler =
  resolved === undefined ? prerenderMiddleware : createTokenkeepMiddleware(resolved, { dev, base, routes });
