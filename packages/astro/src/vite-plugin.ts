/**
 * The Vite plugin serving `virtual:tokenkeep/config`: a module that re-exports the user's
 * configuration file by absolute path, so Vite bundles it into the server like any module (functions
 * keep working, `process.env` is read at runtime, nothing is inlined with `define`). Loading it for the
 * browser fails the build: a client script importing it would ship every secret it holds. The build's
 * prerender environment gets a stand-in instead, so building never evaluates the user's module.
 */
import type { Plugin } from "vite";
import { CONFIG_MODULE_ID } from "./defaults.js";

const RESOLVED_ID = `\0${CONFIG_MODULE_ID}`;

/** Options of {@link configModulePlugin}. */
export interface ConfigModulePluginOptions {
  /** Absolute path of the configuration module. */
  readonly configPath: string;
  /** Whether this is `astro dev`. */
  readonly dev: boolean;
}

/** The error text when client-side code imports the configuration. */
export const CLIENT_IMPORT_MESSAGE =
  `${CONFIG_MODULE_ID} (your tokenkeep config) was imported from client-side code. It holds secrets ` +
  "and server functions and must only be used on the server: remove the import from the <script> or " +
  "client component that pulls it in.";

/** The plugin; add it through `updateConfig({ vite: { plugins } })`. */
export function configModulePlugin(options: ConfigModulePluginOptions): Plugin {
  return {
    name: "@tokenkeep/astro:config",
    enforce: "pre",
    resolveId(id) {
      return id === CONFIG_MODULE_ID ? RESOLVED_ID : undefined;
    },
    load(id) {
      if (id !== RESOLVED_ID) return undefined;
      const environment = this.environment?.name;
      if (environment === "client") this.error(CLIENT_IMPORT_MESSAGE);
      if (environment === "prerender") {
        // Pages rendered at build time need no session: the user's module (which may open a Redis
        // connection or read secrets the build machine lacks) is not evaluated by the build.
        return [
          "export default undefined;",
          `export const dev = ${JSON.stringify(options.dev)};`,
          "export const prerenderOnly = true;",
        ].join("\n");
      }
      return [
        `export { default } from ${JSON.stringify(options.configPath)};`,
        `export const dev = ${JSON.stringify(options.dev)};`,
        "export const prerenderOnly = false;",
      ].join("\n");
    },
  };
}
