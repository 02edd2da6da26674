// Placeholder demo: lists the tokenkeep packages installed in this workspace and what each exports.
// Later issues replace it with the real demo (a backend and an Astro site keeping tokens valid).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const root = resolve(import.meta.dirname, "..");
console.log(`tokenkeep demo - Node ${process.version}\n`);
for (const folder of readdirSync(join(root, "packages")).sort()) {
  const dir = join(root, "packages", folder);
  if (!existsSync(join(dir, "package.json"))) continue;
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const entry = join(dir, "dist", "index.js");
  const exports = existsSync(entry) ? Object.keys(await import(pathToFileURL(entry).href)) : [];
  console.log(`${manifest.name}@${manifest.version}`);
  console.log(`  ${manifest.description}`);
  console.log(`  exports: ${exports.length > 0 ? exports.sort().join(", ") : "(not built)"}\n`);
}
