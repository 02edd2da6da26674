// The demo behind `npm run demo`: lists the tokenkeep packages of this workspace, then runs the two
// runnable examples - a Node backend keeping a client-credentials token valid, and an operator
// administering personal access tokens with the client and the CLI, each introduced by its source
// file. Each example starts its own servers on 127.0.0.1 and stops them when done. Packages still
// marked private (not published, in progress) are not listed.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
console.log(`tokenkeep demo - Node ${process.version}\n`);
for (const folder of readdirSync(join(root, "packages")).sort()) {
  const manifest = join(root, "packages", folder, "package.json");
  if (!existsSync(manifest)) continue;
  const { name, version, description, private: unpublished } = JSON.parse(readFileSync(manifest, "utf8"));
  if (unpublished) continue; // in progress (the Astro integration): not listed as working
  console.log(`  ${`${name}@${version}`.padEnd(32)} ${description.split(":")[0]}`);
}

const examples = [
  ["node-backend", "a Node service calling a protected API with client credentials"],
  ["pat-admin", "an operator issuing, listing, revoking and restoring personal access tokens"],
];
let failed = 0;
for (const [folder, what] of examples) {
  console.log(
    `\n=== ${what}\n    source: examples/${folder}/src/main.ts (run it alone: node examples/${folder}/src/main.ts)\n`,
  );
  const run = spawnSync(process.execPath, ["src/main.ts"], {
    cwd: join(root, "examples", folder),
    stdio: "inherit",
  });
  if (run.status !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
