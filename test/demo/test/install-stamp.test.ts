// scripts/lib/toolchain.sh's install stamp, in a scratch folder standing in for a clone: its
// `pnpm-lock.yaml`, its `node_modules/` and a `pnpm` on PATH that only records how it was called. No
// network, no real install: a few bash runs, well under a second.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { REPO_ROOT } from "../../reliability/src/repo-root.ts";

const clones: string[] = [];
afterEach(() => {
  for (const dir of clones.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A scratch clone: a lockfile, `node_modules/`, and a `pnpm` that appends its arguments to `pnpm.log`. */
function scratchClone(): string {
  const root = mkdtempSync(join(tmpdir(), "tk-stamp-"));
  clones.push(root);
  writeFileSync(join(root, "pnpm-lock.yaml"), "lockfileVersion: '9.0'\n");
  mkdirSync(join(root, "node_modules"));
  mkdirSync(join(root, "bin"));
  const pnpm = join(root, "bin", "pnpm");
  writeFileSync(pnpm, `#!/bin/sh\necho "$*" >>"${join(root, "pnpm.log")}"\n`);
  chmodSync(pnpm, 0o755);
  return root;
}

/** `tk_ensure_dependencies <scope>` in `root`; the pnpm command lines it ran. */
function ensure(root: string, scope: "demo" | "all"): string[] {
  const log = join(root, "pnpm.log");
  rmSync(log, { force: true });
  const script = join(REPO_ROOT, "scripts/lib/toolchain.sh");
  const run = spawnSync("bash", ["-c", `. "${script}" && tk_ensure_dependencies ${scope}`], {
    env: { ...process.env, TK_ROOT: root, PATH: `${join(root, "bin")}:${process.env.PATH}` },
    encoding: "utf8",
  });
  expect(run.status, run.stderr).toBe(0);
  return existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [];
}

const stamps = (root: string) =>
  readdirSync(join(root, "node_modules")).filter((name) => name.startsWith("."));

it("a demo install stamped for a shorter project list installs again, with the PAT admin example", () => {
  const root = scratchClone();
  const sum = spawnSync("sh", ["-c", `cksum <"${join(root, "pnpm-lock.yaml")}" | cut -d' ' -f1`], {
    encoding: "utf8",
  }).stdout.trim();
  // What a clone that ran `npm run demo` before the PAT admin example joined the list has.
  writeFileSync(join(root, "node_modules", `.tokenkeep-lock-${sum}-demo`), "");
  const calls = ensure(root, "demo");
  expect(calls).toHaveLength(1);
  expect(calls[0]).toContain("--filter @tokenkeep/example-pat-admin...");
  expect(calls[0]).toContain("--frozen-lockfile");
  // Stamped for this list now: the next demo or example run installs nothing.
  expect(stamps(root)).toEqual([expect.stringMatching(new RegExp(`^\\.tokenkeep-lock-${sum}-demo-\\d+$`))]);
  expect(ensure(root, "demo")).toEqual([]);
  // A full install satisfies a demo run too, and replaces its stamp.
  expect(ensure(root, "all")).toHaveLength(1);
  expect(stamps(root)).toEqual([`.tokenkeep-lock-${sum}`]);
  expect(ensure(root, "demo")).toEqual([]);
});
