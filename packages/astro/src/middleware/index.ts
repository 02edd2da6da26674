/**
 * @packageDocumentation
 * `@tokenkeep/astro/middleware`: the `onRequest` the integration registers with `order: "pre"`. It
 * imports the user's configuration through the virtual module the integration's Vite plugin serves
 * inside the server bundle only. Not meant to be imported by hand.
 */
import config, { dev } from "virtual:tokenkeep/config";
import { parseConfig, type TokenkeepConfig } from "../config/schema.js";
import { createTokenkeepMiddleware } from "./handler.js";

/** The middleware, configured by `src/tokenkeep.config.ts` (or the file the integration was given). */
export const onRequest = createTokenkeepMiddleware(parseConfig(config as TokenkeepConfig), { dev });
