// Packs every published package with `pnpm pack`, installs the tarballs into a clean temporary folder
// with npm (as a user would), and imports every entry of every exports map under plain Node. It catches
// a broken exports map, a file missing from `files`, or a dependency missing from package.json; and
// checks that every tarball holds the LICENSE and a manifest with the fields a registry page shows.
// Run after `turbo run build`. Prints one line per check and a closing "N passed, N failed".
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const work = mkdtempSync(join(tmpdir(), "tokenkeep-pack-"));
const tarballs = join(work, "tarballs");
const app = join(work, "app");
mkdirSync(tarballs);
mkdirSync(app);

const packages = readdirSync(join(root, "packages"))
  .map((folder) => join(root, "packages", folder))
  .filter((dir) => existsSync(join(dir, "package.json")))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) }))
  .filter(({ manifest }) => !manifest.private);

const MANIFEST_FIELDS = ["license", "author", "homepage", "bugs", "keywords"];

const files = {};
const packed = {};
for (const { dir, manifest } of packages) {
  const out = execFileSync("pnpm", ["pack", "--pack-destination", tarballs, "--json"], {
    cwd: dir,
    encoding: "utf8",
  });
  const result = JSON.parse(out);
  files[manifest.name] = `file:${result.filename}`;
  packed[manifest.name] = result.files.map((file) => file.path);
}

// Peer dependencies (optional ones too, such as pat-server's `pg` for `./postgres`) are installed the
// way a user of every entry installs them: by naming them.
const peers = {};
for (const { manifest } of packages) {
  for (const [name, range] of Object.entries(manifest.peerDependencies ?? {})) {
    if (!name.startsWith("@tokenkeep/")) peers[name] = range;
  }
}

// Every @tokenkeep dependency resolves to its tarball, never to the registry.
writeFileSync(
  join(app, "package.json"),
  JSON.stringify(
    {
      name: "pack-smoke",
      private: true,
      type: "module",
      dependencies: { ...peers, ...files },
      overrides: files,
    },
    null,
    2,
  ),
);
execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", "--no-package-lock"], {
  cwd: app,
  stdio: ["ignore", "inherit", "inherit"],
});

let passed = 0;
let failed = 0;
for (const { manifest } of packages) {
  // The manifest as installed from the tarball, not the workspace's.
  const installed = JSON.parse(
    readFileSync(join(app, "node_modules", ...manifest.name.split("/"), "package.json"), "utf8"),
  );
  const missing = MANIFEST_FIELDS.filter((field) => {
    const value = installed[field];
    return value === undefined || value === "" || (Array.isArray(value) && value.length === 0);
  });
  if (!packed[manifest.name].includes("LICENSE")) missing.push("LICENSE file");
  if (missing.length === 0) {
    console.log(`ok   ${manifest.name} tarball has LICENSE, ${MANIFEST_FIELDS.join(", ")}`);
    passed++;
  } else {
    console.log(`FAIL ${manifest.name} tarball lacks ${missing.join(", ")}`);
    failed++;
  }
}
for (const { manifest } of packages) {
  const subpaths = Object.keys(manifest.exports ?? { ".": null }).filter((key) => !key.endsWith(".json"));
  for (const subpath of subpaths) {
    const specifier = subpath === "." ? manifest.name : `${manifest.name}${subpath.slice(1)}`;
    const entry = manifest.exports?.[subpath];
    const types = typeof entry === "object" && entry !== null ? entry.types : undefined;
    const script = [
      `const m = await import(${JSON.stringify(specifier)});`,
      "if (Object.keys(m).length === 0) throw new Error('no exports');",
      types
        ? `await import('node:fs').then(fs => { if (!fs.existsSync(new URL(import.meta.resolve(${JSON.stringify(specifier)}).replace(/\\/[^/]*$/, '/') + ${JSON.stringify(types.split("/").pop())}))) throw new Error('types file missing: ' + ${JSON.stringify(types)}); });`
        : "",
      "console.log(Object.keys(m).length);",
    ].join("\n");
    try {
      const count = execFileSync("node", ["--input-type=module", "-e", script], {
        cwd: app,
        encoding: "utf8",
      }).trim();
      console.log(`ok   ${specifier} (${count} exports)`);
      passed++;
    } catch (error) {
      console.log(`FAIL ${specifier}\n${String(error.stderr ?? error.message).trim()}`);
      failed++;
    }
  }
}

// An optional peer dependency is optional: with it removed, a package's main entry still loads (only
// the subpath that needs it may not), e.g. @tokenkeep/pat-server without `pg`.
for (const { manifest } of packages) {
  const optional = Object.entries(manifest.peerDependenciesMeta ?? {})
    .filter(([, meta]) => meta?.optional)
    .map(([name]) => name);
  for (const peer of optional) {
    rmSync(join(app, "node_modules", peer), { recursive: true, force: true });
    try {
      execFileSync("node", ["--input-type=module", "-e", `await import(${JSON.stringify(manifest.name)});`], {
        cwd: app,
        encoding: "utf8",
      });
      console.log(`ok   ${manifest.name} loads without its optional peer ${peer}`);
      passed++;
    } catch (error) {
      console.log(
        `FAIL ${manifest.name} needs ${peer}, an optional peer\n${String(error.stderr ?? error.message).trim()}`,
      );
      failed++;
    }
  }
}

rmSync(work, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
