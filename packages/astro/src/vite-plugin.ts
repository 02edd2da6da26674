/**
 * The Vite plugin serving `virtual:tokenkeep/config`: a module that re-exports the user's
 * configuration file by absolute path, so Vite bundles it into the server like any module (functions
 * keep working, `process.env` is read at runtime, nothing is inlined with `define`). Loading it for the
 * browser fails the build: a client script importing it would ship every secret it holds.
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
      if (this.environment?.name === "client") this.error(CLIENT_IMPORT_MESSAGE);
      return [
        `export { default } from ${JSON.stringify(options.configPath)};`,
        `export const dev = ${JSON.stringify(options.dev)};`,
      ].join("\n");
    },
  };
}
