/**
 * @packageDocumentation
 * `@tokenkeep/astro/middleware`: the `onRequest` the integration registers with `order: "pre"`. It
 * imports the user's configuration through the virtual module the integration's Vite plugin serves
 * inside the server bundle only. Not meant to be imported by hand.
 */
import config, { dev, prerenderOnly } from "virtual:tokenkeep/config";
import type { MiddlewareHandler } from "astro";
import { parseConfig, type TokenkeepConfig } from "../config/schema.js";
import { createTokenkeepMiddleware, prerenderMiddleware } from "./handler.js";

/**
 * The middleware, configured by `src/tokenkeep.config.ts` (or the file the integration was given);
 * while the build prerenders pages, a stand-in that only sets signed-out locals.
 */
export const onRequest: MiddlewareHandler = prerenderOnly
  ? prerenderMiddleware
  : createTokenkeepMiddleware(parseConfig(config as TokenkeepConfig), { dev });
