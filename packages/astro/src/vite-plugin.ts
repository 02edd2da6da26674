/**
 * The Vite plugin serving `virtual:tokenkeep/config`: a module that re-exports the user's
 * configuration file by absolute path, so Vite bundles it into the server like any module (functions
 * keep working, `process.env` is read at runtime, nothing is inlined with `define`). Loading it for the
 * browser fails the build: a client script importing it would ship every secret it holds. The build's
 * prerender environment gets a stand-in instead, so building never evaluates the user's module.
 */
import { posix } from "node:path";
import type { Plugin } from "vite";
import { normalizeBase } from "./base-path.js";
import { CONFIG_MODULE_ID, STARTUP_MODULE_ID } from "./defaults.js";

const RESOLVED_ID = `\0${CONFIG_MODULE_ID}`;
const RESOLVED_STARTUP_ID = `\0${STARTUP_MODULE_ID}`;

/** Options of {@link configModulePlugin}. */
export interface ConfigModulePluginOptions {
  /** Absolute path of the configuration module. */
  readonly configPath: string;
  /** Whether this is `astro dev`. */
  readonly dev: boolean;
  /**
   * The site's `base` (Astro's option), normalized: `""` or `/app`. The runtime matches protected
   * paths below it and redirects under it.
   * @default ""
   */
  readonly base?: string | undefined;
  /**
   * The routes the integration injects (its sign-in and sign-out endpoints), as the site's own paths:
   * the runtime refuses `protect` settings that would put them behind a session.
   * @default []
   */
  readonly routes?: readonly string[] | undefined;
}

/** The error text when client-side code imports the configuration. */
export const CLIENT_IMPORT_MESSAGE =
  `${CONFIG_MODULE_ID} (your tokenkeep config) was imported from client-side code. It holds secrets ` +
  "and server functions and must only be used on the server: remove the import from the <script> or " +
  "client component that pulls it in.";

/** `import.meta.env` names Astro and Vite define for every build: the same in every environment. */
const BUILT_IN_ENV = new Set(["MODE", "DEV", "PROD", "SSR", "BASE_URL", "SITE", "ASSETS_PREFIX"]);

/**
 * What of `import.meta.env` a module's code reads that the build would fix: each private name
 * (`import.meta.env.X` or `["X"]`, neither `PUBLIC_*` nor a built-in), and `import.meta.env` itself
 * when it is used whole (destructured or passed on). Comments are not read.
 */
export function buildTimeEnvReads(code: string): string[] {
  const source = code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
  const found = new Set<string>();
  for (const match of source.matchAll(
    /\bimport\.meta\.env\b(?:\.([A-Za-z_$][\w$]*)|\[\s*(["'`])([^"'`]+)\2\s*\])?/g,
  )) {
    const name = match[1] ?? match[3];
    if (name === undefined) found.add("import.meta.env");
    else if (!name.startsWith("PUBLIC_") && !BUILT_IN_ENV.has(name)) found.add(`import.meta.env.${name}`);
  }
  return [...found];
}

/** The error text when the configuration reads private `import.meta.env` values. */
export function buildTimeEnvMessage(reads: readonly string[], configPath: string): string {
  const names = reads.map((read) => read.replace(/^import\.meta\.env\.?/, "")).filter(Boolean);
  const fix = names.length > 0 ? names.map((name) => `process.env.${name}`).join(", ") : "process.env";
  return (
    `${configPath} reads ${reads.join(", ")}: Astro replaces these with the values the build machine ` +
    "has, so a secret would be written into the built server and a URL fixed for every environment. " +
    `Read them when the server starts instead: ${fix} (or astro:env/server).`
  );
}

/** The plugin; add it through `updateConfig({ vite: { plugins } })`. */
export function configModulePlugin(options: ConfigModulePluginOptions): Plugin {
  const base = [
    `export const base = ${JSON.stringify(normalizeBase(options.base))};`,
    `export const routes = ${JSON.stringify(options.routes ?? [])};`,
  ].join("\n");
  return {
    name: "@tokenkeep/astro:config",
    enforce: "pre",
    resolveId(id) {
      return id === CONFIG_MODULE_ID ? RESOLVED_ID : undefined;
    },
    transform(code, id) {
      // Before Vite's own `define` step (this plugin is `pre`), so the reads are still in the code.
      if (id.split("?")[0]!.replaceAll("\\", "/") !== options.configPath.replaceAll("\\", "/")) return;
      const reads = buildTimeEnvReads(code);
      if (reads.length > 0) this.error(buildTimeEnvMessage(reads, options.configPath));
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
          base,
          "export const prerenderOnly = true;",
        ].join("\n");
      }
      return [
        `export { default } from ${JSON.stringify(options.configPath)};`,
        `export const dev = ${JSON.stringify(options.dev)};`,
        base,
        "export const prerenderOnly = false;",
      ].join("\n");
    },
  };
}

/**
 * Makes the built server load the middleware module (which checks the configuration and the cookie
 * secret) as it starts, rather than on the first request as Astro does: the server's entry chunks
 * import a small chunk that imports `@tokenkeep/astro/middleware`, so a production server without a
 * secret exits at once with the error naming `TOKENKEEP_SECRET`. Build only, server environment only;
 * the build itself never runs the entry.
 */
export function startupCheckPlugin(): Plugin {
  return {
    name: "@tokenkeep/astro:startup-check",
    apply: "build",
    applyToEnvironment: (environment) => environment.name === "ssr",
    buildStart() {
      this.emitFile({ type: "chunk", id: STARTUP_MODULE_ID, name: "tokenkeep-startup" });
    },
    resolveId(id) {
      return id === STARTUP_MODULE_ID ? RESOLVED_STARTUP_ID : undefined;
    },
    load(id) {
      return id === RESOLVED_STARTUP_ID ? 'import "@tokenkeep/astro/middleware";\n' : undefined;
    },
    generateBundle(_options, bundle) {
      const chunks = Object.values(bundle).filter((item) => item.type === "chunk");
      const startup = chunks.find((chunk) => chunk.facadeModuleId === RESOLVED_STARTUP_ID);
      if (startup === undefined) return;
      for (const chunk of chunks) {
        if (!chunk.isEntry || chunk === startup) continue;
        const relative = posix.relative(posix.dirname(chunk.fileName), startup.fileName);
        const statement = `import ${JSON.stringify(relative.startsWith(".") ? relative : `./${relative}`)};`;
        // Prepended on the first line, so the chunk's source map stays aligned; once, however many
        // times the integration was added.
        if (!chunk.code.startsWith(statement)) chunk.code = `${statement}${chunk.code}`;
      }
    },
  };
}
