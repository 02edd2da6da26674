import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
const here = process.cwd();
const r = await build({ stdin: { contents: `export * from ${JSON.stringify(join(here, "dist/index.js"))};`, resolveDir: here, loader: "js" }, bundle: true, minify: true, format: "esm", platform: "neutral", write: false, logLevel: "silent" });
console.log(gzipSync(r.outputFiles[0].contents, { level: 9 }).length);
