/**
 * Checks the built bundles of @tokenkeep/core and @tokenkeep/grants (every entry of their `exports`
 * map, from `dist`) for Node-only code:
 *
 * 1. their own code imports no Node built-in (`node:fs`, `crypto`, ...) and uses no free Node global
 *    (`process`, `Buffer`, `require`, `__dirname`, `__filename`, `global`, `setImmediate`), found
 *    with esbuild's `define` (only free references are replaced, never a local of the same name);
 * 2. each entry, bundled with its dependencies for `platform: "browser"`, builds with no polyfill,
 *    no error, no warning and no `require` shim.
 *
 * Before checking the packages it checks itself on two deliberately Node-only modules, so a check
 * that can no longer fail fails loudly. Exits 1 on any problem.
 */
import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { styleText } from "node:util";
import { type BuildOptions, build } from "esbuild";

const NODE_GLOBALS = [
  "process",
  "Buffer",
  "require",
  "__dirname",
  "__filename",
  "global",
  "setImmediate",
  "clearImmediate",
];
const MARKER = "__tokenkeep_node_global_";
const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

interface Source {
  /** What the report calls it, e.g. `@tokenkeep/core ./testing`. */
  label: string;
  /** A file to check, or an in-memory module (for the self-test). */
  file?: string;
  contents?: string;
}

function errorText(error: unknown): string {
  const errors = (error as { errors?: { text: string }[] }).errors;
  return errors?.length ? errors.map((entry) => entry.text).join("; ") : String(error);
}

function entryOptions(source: Source): Pick<BuildOptions, "entryPoints" | "stdin"> {
  return source.file
    ? { entryPoints: [source.file] }
    : { stdin: { contents: source.contents ?? "", loader: "js", resolveDir: process.cwd() } };
}

/** The problems of one module; an empty list means it is clean. */
async function problemsOf(source: Source): Promise<string[]> {
  const problems: string[] = [];
  // 1. Own code: every package import external, Node globals replaced by markers.
  try {
    const own = await build({
      ...entryOptions(source),
      bundle: true,
      write: false,
      metafile: true,
      format: "esm",
      platform: "browser",
      packages: "external",
      logLevel: "silent",
      define: Object.fromEntries(NODE_GLOBALS.map((name) => [name, `${MARKER}${name}`])),
    });
    for (const output of Object.values(own.metafile.outputs)) {
      for (const imported of output.imports) {
        if (builtins.has(imported.path)) problems.push(`imports the Node built-in "${imported.path}"`);
      }
    }
    const text = own.outputFiles.map((file) => file.text).join("\n");
    for (const name of NODE_GLOBALS) {
      if (text.includes(`${MARKER}${name}`)) problems.push(`uses the Node global "${name}"`);
    }
    const viaGlobalThis =
      /globalThis\s*(?:\.\s*|\[\s*["'`])(process|Buffer|require|setImmediate|global)\b/.exec(text);
    if (viaGlobalThis) problems.push(`reads the Node global "${viaGlobalThis[1]}" through globalThis`);
  } catch (error) {
    problems.push(`own code does not build for the browser: ${errorText(error)}`);
  }
  // 2. With every dependency, for the browser, nothing polyfilled.
  try {
    const full = await build({
      ...entryOptions(source),
      bundle: true,
      write: false,
      format: "esm",
      platform: "browser",
      logLevel: "silent",
    });
    for (const warning of full.warnings) {
      // tsup's code splitting makes an entry `import "./chunk-X.js"` to keep chunk order; esbuild
      // drops that bare import of a side-effect-free chunk (correctly: nothing in it runs on load)
      // and says so here, but not for a package installed in node_modules, where users bundle it.
      if (
        /^Ignoring this import because ".*\/dist\/chunk-[\w-]+\.js" was marked as having no side effects$/.test(
          warning.text,
        )
      ) {
        continue;
      }
      problems.push(`browser bundle warns: ${warning.text}`);
    }
    if (full.outputFiles.some((file) => file.text.includes("__require("))) {
      problems.push("browser bundle needs a require shim (a CommonJS require of a dependency)");
    }
  } catch (error) {
    problems.push(`does not bundle for the browser: ${errorText(error)}`);
  }
  return problems;
}

/** Every JavaScript entry of a package's `exports` map, resolved to its dist file. */
function entriesOf(packageName: string): Source[] {
  const manifestPath = fileURLToPath(import.meta.resolve(`${packageName}/package.json`));
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
    exports: Record<string, string | { default?: string; import?: string }>;
  };
  return Object.entries(manifest.exports)
    .filter(([subpath]) => !subpath.endsWith(".json"))
    .map(([subpath, target]) => {
      const file = typeof target === "string" ? target : (target.import ?? target.default);
      if (!file) throw new Error(`${packageName} exports ${subpath} without a default file`);
      return { label: `${packageName} ${subpath}`, file: join(dirname(manifestPath), file) };
    });
}

let failed = 0;
const report = (ok: boolean, label: string, detail = "") => {
  if (!ok) failed += 1;
  console.log(ok ? `ok    ${label}${detail}` : styleText("red", `FAIL  ${label}${detail}`));
};

// Self-test: the check must catch what it is for.
const probes: Source[] = [
  {
    label: "self-test: a Buffer use",
    contents: `export const encoded = Buffer.from("x").toString("base64");`,
  },
  {
    label: "self-test: a node: import",
    contents: `import { createHash } from "node:crypto"; export { createHash };`,
  },
  { label: "self-test: process via globalThis", contents: `export const env = globalThis.process?.env;` },
  {
    label: "self-test: a CommonJS require",
    contents: `export const fs = typeof require === "function" ? require("fs") : undefined;`,
  },
];
for (const probe of probes) {
  const problems = await problemsOf(probe);
  report(
    problems.length > 0,
    probe.label,
    problems.length > 0 ? ` (caught: ${problems[0]})` : " was NOT caught: the check is broken",
  );
}
const clean = await problemsOf({
  label: "self-test: a local named Buffer",
  contents: "export function f(Buffer) { return Buffer; }",
});
report(
  clean.length === 0,
  "self-test: a local named Buffer is not a Node global",
  clean.length ? `: ${clean.join("; ")}` : "",
);

for (const packageName of ["@tokenkeep/core", "@tokenkeep/grants"]) {
  let sources: Source[];
  try {
    sources = entriesOf(packageName);
  } catch (error) {
    report(false, packageName, `: ${String(error)}`);
    continue;
  }
  for (const source of sources) {
    try {
      readFileSync(source.file!);
    } catch {
      report(
        false,
        source.label,
        `: ${source.file} is missing (build it: pnpm --filter ${packageName} build)`,
      );
      continue;
    }
    const problems = await problemsOf(source);
    report(
      problems.length === 0,
      `${source.label} is Node-free and bundles for the browser`,
      problems.length ? `:\n      ${problems.join("\n      ")}` : "",
    );
  }
}

console.log(failed === 0 ? "\nbundle checks passed" : styleText("red", `\n${failed} bundle check(s) failed`));
process.exitCode = failed === 0 ? 0 : 1;
