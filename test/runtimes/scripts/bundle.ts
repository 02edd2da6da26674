/**
 * Bundles the scenarios once per entry (command line, worker, browser) with esbuild for the browser
 * platform: whatever core and grants import must resolve without Node, and nothing is polyfilled.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

export interface Bundles {
  cli: string;
  worker: string;
  browser: string;
}

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * Prepends `code` to core's built entry inside the bundle only (never the source): how the matrix
 * proves that a Node-only change in core turns rows red. Used by `--inject-node-only`.
 */
function injectIntoCore(code: string): Plugin {
  return {
    name: "inject-into-core",
    setup(context) {
      context.onLoad({ filter: /[\\/]packages[\\/]core[\\/]dist[\\/]index\.js$/ }, async (args) => ({
        contents: `${code}\n${await readFile(args.path, "utf8")}`,
        loader: "js",
      }));
    },
  };
}

/** Writes the three bundles into `outdir` and returns their paths. */
export async function bundleScenarios(
  outdir: string,
  options: { injectIntoCore?: string } = {},
): Promise<Bundles> {
  await build({
    absWorkingDir: root,
    entryPoints: {
      cli: "src/entries/cli.ts",
      worker: "src/entries/worker.ts",
      browser: "src/entries/browser.ts",
    },
    outdir,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    logLevel: "warning",
    plugins: options.injectIntoCore ? [injectIntoCore(options.injectIntoCore)] : [],
  });
  return { cli: `${outdir}/cli.js`, worker: `${outdir}/worker.js`, browser: `${outdir}/browser.js` };
}
