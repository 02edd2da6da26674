/**
 * @packageDocumentation
 * `@tokenkeep/astro/routes/login`: the endpoint the integration injects at `POST /_tokenkeep/login`
 * when `routes` is enabled. Not meant to be imported by hand.
 */
import config, { base } from "virtual:tokenkeep/config";
import type { APIRoute } from "astro";
import { loginRoute, type SignInPathSource } from "./sign-in-routes.js";

/** Never prerendered: it sets cookies. */
export const prerender = false;
/** Signs in with the posted credentials. */
export const POST: APIRoute = (context) =>
  loginRoute(context, {
    base,
    signInPath: (config as SignInPathSource)?.protect?.signInPath,
    returnToParam: (config as SignInPathSource)?.protect?.returnToParam,
  });
