// The example site: on-demand rendered by the Node adapter, with @tokenkeep/astro keeping the
// session in sealed HttpOnly cookies and injecting POST /_tokenkeep/login and /_tokenkeep/logout.
import node from "@astrojs/node";
import tokenkeep from "@tokenkeep/astro";
import { defineConfig } from "astro/config";

export default defineConfig({
  output: "server",
  adapter: node({ mode: "standalone" }),
  integrations: [tokenkeep({ routes: true })],
  // Links marked data-astro-prefetch are fetched ahead (the overview page uses one).
  prefetch: { prefetchAll: false },
  // Behind a proxy, list its host here so Astro honours X-Forwarded-Proto (then cookies are
  // Secure and __Host- prefixed). 127.0.0.1 and localhost for running it on this machine.
  security: { allowedDomains: [{ hostname: "127.0.0.1" }, { hostname: "localhost" }] },
});
