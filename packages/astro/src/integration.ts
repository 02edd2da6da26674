/**
 * The integration: checks that the configuration module exists, serves it to the server bundle as a
 * virtual module, registers the middleware with `order: "pre"` and injects the `App.Locals` types.
 */
import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { INVALID_OPTIONS_CODE, parseOptions } from "@tokenkeep/core/options";
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

type ParsedOptions = z.infer<typeof integrationOptionsSchema>;

/**
 * The options of every `tokenkeep()` registration, by its `astro:config:setup` hook: Astro re-creates
 * each integration object as it validates the config (only `name` and `hooks` kept), but the hook
 * functions are the same, so they name a registration in `config.integrations`.
 */
const registrations = new WeakMap<object, ParsedOptions>();

/**
 * The options of the integration listed several times in `astro.config` (an `astro add` after a
 * hand-written entry, say): each option from whichever registration gives it, so `routes` on the
 * second one is injected and checked as on the first. Two registrations giving one option different
 * values are refused: which one was meant cannot be told.
 */
function combinedOptions(listed: readonly ParsedOptions[]): ParsedOptions {
  const combined: ParsedOptions = {};
  const problems: string[] = [];
  for (const key of ["configFile", "routes"] as const) {
    const given = listed.map((options) => options[key]).filter((value) => value !== undefined);
    const distinct = [...new Set(given.map((value) => JSON.stringify(value)))];
    if (distinct.length > 1) {
      problems.push(
        `${key}: given differently by the ${listed.length} registrations (${distinct.join(", ")})`,
      );
    } else if (given.length > 0) {
      (combined as Record<string, unknown>)[key] = given[0];
    }
  }
  if (problems.length > 0) {
    throw Object.assign(
      new TypeError(
        `invalid tokenkeep options: the integration is listed ${listed.length} times in astro.config with different options; list it once. ${problems.join("; ")}`,
      ),
      { code: INVALID_OPTIONS_CODE },
    );
  }
  return combined;
}

/**
 * The Astro integration. `npx astro add @tokenkeep/astro` adds `tokenkeep()`: no option is needed.
 * Adding it twice (or also exporting its middleware from `src/middleware.ts`) is harmless: the
 * middleware handles each request once, and the options are those of whichever registration gives
 * them, its routes injected once (two giving one option differently are refused when the config is
 * set up).
 */
export function tokenkeep(options: TokenkeepIntegrationOptions = {}): AstroIntegration {
  const own = parseOptions(integrationOptionsSchema, options, "tokenkeep");
  const setup: NonNullable<AstroIntegration["hooks"]["astro:config:setup"]> = (hookOptions) => {
    const { config } = hookOptions;
    // Every registration of this integration, in Astro's order; this one alone when Astro's list
    // does not show it (a caller of the hook other than Astro).
    const listed = (config.integrations ?? []).flatMap((integration) => {
      const found =
        integration?.name === INTEGRATION_NAME
          ? registrations.get(integration.hooks?.["astro:config:setup"] as object)
          : undefined;
      return found === undefined ? [] : [{ hook: integration.hooks["astro:config:setup"], options: found }];
    });
    if (!listed.some((entry) => entry.hook === setup)) return setUp(own, hookOptions, true);
    // Each registration sets up with the options of all of them combined, so the virtual module
    // carries the same routes and config file whichever plugin Vite asks first (the middleware, added
    // by each, still handles a request once); only the first injects the routes.
    const combined = combinedOptions(listed.map((entry) => entry.options));
    return setUp(combined, hookOptions, listed[0]!.hook === setup);
  };
  registrations.set(setup, own);
  return {
    name: INTEGRATION_NAME,
    hooks: {
      "astro:config:setup": setup,
      "astro:config:done": ({ injectTypes }) => {
        injectTypes({ filename: "types.d.ts", content: INJECTED_TYPES });
      },
    },
  };
}

/**
 * `astro:config:setup` for the options of one registration (or of all of them, combined);
 * `injectsRoutes`: this registration injects the routes the options ask for.
 */
function setUp(
  { configFile, routes }: ParsedOptions,
  {
    config,
    command,
    addMiddleware,
    updateConfig,
    injectRoute,
  }: Parameters<NonNullable<AstroIntegration["hooks"]["astro:config:setup"]>>[0],
  injectsRoutes: boolean,
): void {
  const injected =
    routes === undefined || routes === false
      ? undefined
      : {
          login: (routes === true ? undefined : routes.login) ?? DEFAULT_LOGIN_ROUTE,
          logout: (routes === true ? undefined : routes.logout) ?? DEFAULT_LOGOUT_ROUTE,
        };
  const relativePath = configFile ?? DEFAULT_CONFIG_FILE;
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
  if (injected !== undefined && injectsRoutes) {
    const entrypoint = (name: string) => `${INTEGRATION_NAME}/routes/${name}`;
    injectRoute({ pattern: injected.login, entrypoint: entrypoint("login"), prerender: false });
    injectRoute({ pattern: injected.logout, entrypoint: entrypoint("logout"), prerender: false });
  }
}
