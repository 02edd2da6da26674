/**
 * The integration: checks that the configuration module exists, serves it to the server bundle as a
 * virtual module, registers the middleware with `order: "pre"` and injects the `App.Locals` types.
 */
import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseOptions } from "@tokenkeep/core/options";
import type { AstroIntegration } from "astro";
import { z } from "zod";
import { DEFAULT_CONFIG_FILE, DEFAULT_LOGIN_ROUTE, DEFAULT_LOGOUT_ROUTE } from "./defaults.js";
import { INJECTED_TYPES } from "./inject-types.js";
import { configModulePlugin, startupCheckPlugin } from "./vite-plugin.js";

/** The adapter whose built server the integration makes load the middleware as it starts. */
const NODE_ADAPTER = "@astrojs/node";

/** Options of the integration. Everything else lives in the configuration module. */
export interface TokenkeepIntegrationOptions {
  /**
   * The configuration module, relative to the project root.
   * @default "src/tokenkeep.config.ts"
   */
  configFile?: string | undefined;
  /**
   * Injects `POST /_tokenkeep/login` and `POST /_tokenkeep/logout` (form posts and JSON; see the
   * README). `true` for those paths, or `{ login, logout }` for others.
   * @default false
   */
  routes?: boolean | { login?: string | undefined; logout?: string | undefined } | undefined;
}

const routePath = z
  .string()
  .regex(/^\/[A-Za-z0-9._~\-/]*$/, { message: "expected a path such as /auth/login" });

const integrationOptionsSchema = z.strictObject({
  configFile: z.string().min(1).optional(),
  routes: z
    .union([z.boolean(), z.strictObject({ login: routePath.optional(), logout: routePath.optional() })])
    .optional(),
});

/** The integration's name, as Astro logs it. */
export const INTEGRATION_NAME = "@tokenkeep/astro";

/** The build error for a missing configuration module: names the file and shows a minimal one. */
export function missingConfigMessage(relativePath: string): string {
  return [
    `${INTEGRATION_NAME}: the configuration module ${relativePath} does not exist. Create it, for example:`,
    "",
    `  // ${relativePath}`,
    `  import { defineTokenkeepConfig } from "@tokenkeep/astro/config";`,
    "  export default defineTokenkeepConfig({",
    "    upstream: {",
    '      endpoints: { baseURL: process.env.API_URL!, login: "/auth/login", refresh: "/auth/refresh" },',
    "    },",
    "  });",
    "",
    '(or pass another path: tokenkeep({ configFile: "..." }))',
  ].join("\n");
}

/**
 * The Astro integration. `npx astro add @tokenkeep/astro` adds `tokenkeep()`: no option is needed.
 * Adding it twice (or also exporting its middleware from `src/middleware.ts`) is harmless: the
 * middleware handles each request once.
 */
export function tokenkeep(options: TokenkeepIntegrationOptions = {}): AstroIntegration {
  const { configFile, routes } = parseOptions(integrationOptionsSchema, options, "tokenkeep");
  const injected =
    routes === undefined || routes === false
      ? undefined
      : {
          login: (routes === true ? undefined : routes.login) ?? DEFAULT_LOGIN_ROUTE,
          logout: (routes === true ? undefined : routes.logout) ?? DEFAULT_LOGOUT_ROUTE,
        };
  const relativePath = configFile ?? DEFAULT_CONFIG_FILE;
  return {
    name: INTEGRATION_NAME,
    hooks: {
      "astro:config:setup": ({ config, command, addMiddleware, updateConfig, injectRoute }) => {
        const root = fileURLToPath(config.root);
        const configPath = isAbsolute(relativePath) ? relativePath : resolve(root, relativePath);
        if (!existsSync(configPath)) throw new Error(missingConfigMessage(relativePath));
        // `base` reaches the runtime through the virtual module: protected paths are matched below it.
        // So do the injected routes: protection that covers them is refused when the middleware is created.
        const plugins = [
          configModulePlugin({
            configPath,
            dev: command === "dev",
            base: config.base,
            routes: injected === undefined ? [] : [injected.login, injected.logout],
          }),
        ];
        // With @astrojs/node the server refuses to start without a cookie secret. Other adapters'
        // platforms may only expose secrets per request, so there the first request refuses instead.
        if (config.adapter?.name === NODE_ADAPTER) plugins.push(startupCheckPlugin());
        updateConfig({
          vite: {
            plugins,
            // The middleware imports the virtual module, so Vite must bundle it rather than leave it
            // to Node's resolver.
            ssr: { noExternal: [INTEGRATION_NAME] },
          },
        });
        addMiddleware({ entrypoint: `${INTEGRATION_NAME}/middleware`, order: "pre" });
        if (injected !== undefined) {
          const entrypoint = (name: string) => `${INTEGRATION_NAME}/routes/${name}`;
          injectRoute({ pattern: injected.login, entrypoint: entrypoint("login"), prerender: false });
          injectRoute({ pattern: injected.logout, entrypoint: entrypoint("logout"), prerender: false });
        }
      },
      "astro:config:done": ({ injectTypes }) => {
        injectTypes({ filename: "types.d.ts", content: INJECTED_TYPES });
      },
    },
  };
}
