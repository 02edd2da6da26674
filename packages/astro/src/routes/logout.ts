/**
 * @packageDocumentation
 * `@tokenkeep/astro/routes/logout`: the endpoint the integration injects at `POST /_tokenkeep/logout`
 * when `routes` is enabled. Not meant to be imported by hand.
 */
import config, { base } from "virtual:tokenkeep/config";
import type { APIRoute } from "astro";
import { logoutRoute, type SignInPathSource } from "./sign-in-routes.js";

/** Never prerendered: it clears cookies. */
export const prerender = false;
/** Ends the session. */
export const POST: APIRoute = (context) =>
  logoutRoute(context, {
    base,
    signInPath: (config as SignInPathSource)?.protect?.signInPath,
    returnToParam: (config as SignInPathSource)?.protect?.returnToParam,
  });
