import { ActionError, defineAction } from "astro:actions";
import { isSignInError } from "@tokenkeep/astro/server";
import { z } from "astro/zod";

export const server = {
  // The sign-in form: login() sets the sealed cookies; its error becomes the form's message.
  login: defineAction({
    accept: "form",
    input: z.object({ username: z.string().min(1), password: z.string().min(1) }),
    handler: async (credentials, context) => {
      try {
        const { sessionPayload } = await context.locals.tokenkeep.login(credentials);
        return { sessionPayload: sessionPayload ?? null };
      } catch (error) {
        if (isSignInError(error) && error.code === "ERR_TOKENKEEP_SIGN_IN_REJECTED") {
          throw new ActionError({ code: "UNAUTHORIZED", message: "Wrong username or password." });
        }
        if (isSignInError(error) && error.code === "ERR_TOKENKEEP_SIGN_IN_SESSION_TOO_LARGE") {
          // The site's configuration (cookie.maxBytes): trying again cannot help.
          throw new ActionError({ code: "INTERNAL_SERVER_ERROR", message: "Sign-in failed on our side." });
        }
        throw new ActionError({ code: "SERVICE_UNAVAILABLE", message: "Sign-in is unavailable, try again." });
      }
    },
  }),
};
