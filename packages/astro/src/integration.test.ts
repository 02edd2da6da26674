import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import tokenkeepDefault, { tokenkeep } from "./index.js";
import { INJECTED_TYPES } from "./inject-types.js";
import { CLIENT_IMPORT_MESSAGE, configModulePlugin } from "./vite-plugin.js";

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function project(withConfig: string | undefined): string {
  const root = mkdtempSync(join(tmpdir(), "tokenkeep-astro-"));
  roots.push(root);
  if (withConfig !== undefined) {
    mkdirSync(join(root, ...withConfig.split("/").slice(0, -1)), { recursive: true });
    writeFileSync(join(root, withConfig), "export default {};\n");
  }
  return root;
}

function setup(
  integration: ReturnType<typeof tokenkeep>,
  root: string,
  command = "build",
  adapter: { name: string } | undefined = undefined,
  base = "/",
) {
  const middlewares: unknown[] = [];
  const updates: Array<{ vite: { plugins: unknown[]; ssr: unknown } }> = [];
  const hook = integration.hooks["astro:config:setup"] as (options: unknown) => void;
  hook({
    config: { root: pathToFileURL(`${root}/`), adapter, base },
    command,
    addMiddleware: (middleware: unknown) => middlewares.push(middleware),
    updateConfig: (update: { vite: { plugins: unknown[]; ssr: unknown } }) => updates.push(update),
    injectRoute: () => undefined,
  });
  return { middlewares, updates };
}

describe("integration", () => {
  it("is the default export, callable with no arguments, named after the package", () => {
    expect(tokenkeepDefault).toBe(tokenkeep);
    expect(tokenkeep().name).toBe("@tokenkeep/astro");
  });

  it("bad options throw a TypeError with ERR_TOKENKEEP_INVALID_OPTIONS", () => {
    for (const bad of [{ configFile: "" }, { config: "x" }, "src/x.ts"]) {
      expect(() => tokenkeep(bad as never)).toThrow(
        expect.objectContaining({ code: "ERR_TOKENKEEP_INVALID_OPTIONS" }),
      );
    }
  });

  it("registers its middleware with order pre and serves the config module to the server bundle", () => {
    const root = project("src/tokenkeep.config.ts");
    const { middlewares, updates } = setup(tokenkeep(), root);
    expect(middlewares).toEqual([{ entrypoint: "@tokenkeep/astro/middleware", order: "pre" }]);
    expect(updates[0]?.vite.ssr).toEqual({ noExternal: ["@tokenkeep/astro"] });
    expect((updates[0]!.vite.plugins[0] as { name: string }).name).toBe("@tokenkeep/astro:config");
  });

  it("with @astrojs/node (only), the built server loads the middleware as it starts: no secret, no start", () => {
    const root = project("src/tokenkeep.config.ts");
    const names = (adapter: { name: string } | undefined) =>
      (setup(tokenkeep(), root, "build", adapter).updates[0]!.vite.plugins as Array<{ name: string }>).map(
        (plugin) => plugin.name,
      );
    expect(names({ name: "@astrojs/node" })).toEqual([
      "@tokenkeep/astro:config",
      "@tokenkeep/astro:startup-check",
    ]);
    // Other platforms may expose secrets per request only: there the first request refuses instead.
    expect(names({ name: "@astrojs/cloudflare" })).toEqual(["@tokenkeep/astro:config"]);
    expect(names(undefined)).toEqual(["@tokenkeep/astro:config"]);
  });

  it("serves the config module with the site's base (Astro's option), for route protection", () => {
    const root = project("src/tokenkeep.config.ts");
    const plugin = setup(tokenkeep(), root, "build", undefined, "/app/").updates[0]!.vite.plugins[0] as {
      load: (this: unknown, id: string) => string | undefined;
    };
    const code = plugin.load.call({ environment: { name: "ssr" } }, "\0virtual:tokenkeep/config");
    expect(code).toContain('export const base = "/app";');
  });

  it("serves the config module with the routes it injects (protection must leave them reachable), none without", () => {
    const root = project("src/tokenkeep.config.ts");
    const code = (options: Parameters<typeof tokenkeep>[0]) => {
      const plugin = setup(tokenkeep(options), root).updates[0]!.vite.plugins[0] as {
        load: (this: unknown, id: string) => string | undefined;
      };
      return plugin.load.call({ environment: { name: "ssr" } }, "\0virtual:tokenkeep/config");
    };
    expect(code({ routes: true })).toContain(
      'export const routes = ["/_tokenkeep/login","/_tokenkeep/logout"];',
    );
    expect(code({ routes: { login: "/auth/in" } })).toContain(
      'export const routes = ["/auth/in","/_tokenkeep/logout"];',
    );
    expect(code({})).toContain("export const routes = [];");
  });

  it("listed twice, with options on either one: both serve the combined options (routes checked), the routes injected once; different options are refused", () => {
    const root = project("src/tokenkeep.config.ts");
    /** Astro's setup of `integrations`: each object re-created (name and hooks only), in order. */
    const setupAll = (...integrations: ReturnType<typeof tokenkeep>[]) => {
      const listed = integrations.map(({ name, hooks }) => ({ name, hooks: { ...hooks } }));
      const injected: unknown[] = [];
      const served: string[] = [];
      for (const integration of listed) {
        const hook = integration.hooks["astro:config:setup"] as (options: unknown) => void;
        hook({
          config: { root: pathToFileURL(`${root}/`), adapter: undefined, base: "/", integrations: listed },
          command: "build",
          addMiddleware: () => undefined,
          updateConfig: (update: { vite: { plugins: unknown[] } }) => {
            const plugin = update.vite.plugins[0] as { load: (this: unknown, id: string) => string };
            served.push(plugin.load.call({ environment: { name: "ssr" } }, "\0virtual:tokenkeep/config"));
          },
          injectRoute: (route: unknown) => injected.push(route),
        });
      }
      return { injected, served };
    };
    const routes = 'export const routes = ["/_tokenkeep/login","/_tokenkeep/logout"];';
    for (const order of [
      [tokenkeep(), tokenkeep({ routes: true })],
      [tokenkeep({ routes: true }), tokenkeep()],
    ]) {
      const { injected, served } = setupAll(...order);
      expect(served).toHaveLength(2);
      for (const code of served) expect(code).toContain(routes);
      expect(injected).toHaveLength(2); // login and logout, once
    }
    // The same options twice are fine; different ones cannot be told apart.
    expect(setupAll(tokenkeep({ routes: true }), tokenkeep({ routes: true })).injected).toHaveLength(2);
    expect(() => setupAll(tokenkeep({ routes: true }), tokenkeep({ routes: { login: "/in" } }))).toThrow(
      expect.objectContaining({
        code: "ERR_TOKENKEEP_INVALID_OPTIONS",
        message: expect.stringContaining("listed 2 times in astro.config with different options"),
      }),
    );
  });

  it("a missing config module is a build error naming the file, with a minimal example", () => {
    const root = project(undefined);
    expect(() => setup(tokenkeep(), root)).toThrow(
      /src\/tokenkeep\.config\.ts does not exist[\s\S]*defineTokenkeepConfig/,
    );
    expect(() => setup(tokenkeep({ configFile: "config/auth.ts" }), root)).toThrow(
      /config\/auth\.ts does not exist/,
    );
    const other = project("config/auth.ts");
    expect(() => setup(tokenkeep({ configFile: "config/auth.ts" }), other)).not.toThrow();
  });

  it("injects App.Locals['tokenkeep'] types as a global script (no top-level import or export)", () => {
    const injected: Array<{ filename: string; content: string }> = [];
    const hook = tokenkeep().hooks["astro:config:done"] as (options: unknown) => void;
    hook({ injectTypes: (file: { filename: string; content: string }) => injected.push(file) });
    expect(injected).toEqual([{ filename: "types.d.ts", content: INJECTED_TYPES }]);
    expect(INJECTED_TYPES).toContain("interface Locals");
    expect(INJECTED_TYPES).not.toMatch(/^(import|export)\s/m); // top level only
  });
});

describe("config module plugin", () => {
  const plugin = configModulePlugin({ configPath: "/project/src/tokenkeep.config.ts", dev: false });
  const load = (environment: string) =>
    (plugin.load as (this: unknown, id: string) => string | undefined).call(
      {
        environment: { name: environment },
        error: (message: string) => {
          throw new Error(message);
        },
      },
      "\0virtual:tokenkeep/config",
    );

  it("re-exports the user's module by absolute path in server environments", () => {
    expect((plugin.resolveId as (id: string) => string | undefined)("virtual:tokenkeep/config")).toBe(
      "\0virtual:tokenkeep/config",
    );
    expect(load("ssr")).toBe(
      'export { default } from "/project/src/tokenkeep.config.ts";\nexport const dev = false;\nexport const base = "";\nexport const routes = [];\nexport const prerenderOnly = false;',
    );
  });

  it("declares every name the module exports, in the types injected into the site and in its own", () => {
    const exported = (code: string) =>
      [...code.matchAll(/export const (\w+)/g)].map((match) => match[1]).sort();
    const served = exported(load("ssr")!);
    expect(served).toEqual(exported(load("prerender")!));
    const own = readFileSync(fileURLToPath(new URL("./middleware/virtual.d.ts", import.meta.url)), "utf8");
    for (const declarations of [INJECTED_TYPES, own]) {
      const module = declarations.slice(declarations.indexOf('declare module "virtual:tokenkeep/config"'));
      expect(exported(module)).toEqual(served);
    }
  });

  it("gives the build's prerender environment a stand-in: the user's module is not evaluated at build time", () => {
    expect(load("prerender")).toBe(
      'export default undefined;\nexport const dev = false;\nexport const base = "";\nexport const routes = [];\nexport const prerenderOnly = true;',
    );
  });

  it("hands Astro's base to the runtime, normalized (protected paths are matched below it)", () => {
    const plugin = (base: string) => configModulePlugin({ configPath: "/p/c.ts", dev: false, base });
    const loaded = (base: string) =>
      (plugin(base).load as (this: unknown, id: string) => string | undefined).call(
        { environment: { name: "ssr" }, error: () => undefined },
        "\0virtual:tokenkeep/config",
      );
    expect(loaded("/app/")).toContain('export const base = "/app";');
    expect(loaded("/app")).toContain('export const base = "/app";');
    expect(loaded("/")).toContain('export const base = "";');
  });

  it("refuses the client environment (a client script would ship the secrets)", () => {
    expect(() => load("client")).toThrow(CLIENT_IMPORT_MESSAGE);
  });
});
