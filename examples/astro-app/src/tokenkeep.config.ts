// Everything that holds secrets or functions: bundled into the server only, read at runtime.
import { defineTokenkeepConfig } from "@tokenkeep/astro/config";
import { createRedisStore } from "@tokenkeep/redis";

const env = process.env;

export default defineTokenkeepConfig({
  upstream: {
    oauth: {
      issuer: env.AUTH_ISSUER ?? "http://127.0.0.1:9/",
      clientId: env.AUTH_CLIENT_ID ?? "astro-app",
      // Without a secret, a public client (the server must allow the password grant for it).
      ...(env.AUTH_CLIENT_SECRET
        ? { clientSecret: env.AUTH_CLIENT_SECRET }
        : { clientAuthentication: "none" as const }),
      scope: env.AUTH_SCOPE ?? "openid offline_access",
    },
  },
  api: { baseURL: env.API_URL ?? "http://127.0.0.1:9/" },
  protect: { paths: ["/account/*", "/admin/*"] },
  // Short-lived tokens in the local demo: rotate when less than 10 s are left.
  refreshWindowMs: Number(env.REFRESH_WINDOW_MS ?? 10_000),
  // Several instances (the demo's second site): one store, so one rotation serves them all.
  store: env.REDIS_URL
    ? createRedisStore({ url: env.REDIS_URL, keyPrefix: "tokenkeep-example:" })
    : undefined,
});
