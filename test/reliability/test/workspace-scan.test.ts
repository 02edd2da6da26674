/**
 * The workspace run's closing search (scripts/secret-scan.mjs over .tmp/turbo.log): it reads every
 * package's registry and finds a planted leak in a log, coloured or encoded; a clean log passes.
 */
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
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MIN_SECRET_LENGTH } from "../src/leak-scan.mjs";
import { REPO_ROOT } from "../src/repo-root";
import { expectNoSecretIn } from "../src/secret-assert";
import {
  MIN_REGISTERED_SECRET_LENGTH,
  mintSecret,
  registeredEntries,
  registerSecret,
  WORKSPACE_SECRETS_FILE,
} from "../src/secret-registry";
import { PACKAGE_SECRETS_FILE, scanWorkspace } from "../src/workspace-scan.mjs";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function workspace(registries: Record<string, string[]>, logs: Record<string, string>) {
  const root = mkdtempSync(join(tmpdir(), "tk-secret-scan-"));
  dirs.push(root);
  for (const [pkg, secrets] of Object.entries(registries)) {
    mkdirSync(join(root, pkg), { recursive: true });
    writeFileSync(
      join(root, pkg, PACKAGE_SECRETS_FILE),
      secrets.map((secret) => `${JSON.stringify({ label: "PAT", secret })}\n`).join(""),
    );
  }
  const paths = Object.entries(logs).map(([name, text]) => {
    writeFileSync(join(root, name), text);
    return join(root, name);
  });
  return { root, paths };
}

describe("scanWorkspace", () => {
  const grants = `grants-secret-${crypto.randomUUID()}`;
  const pat = `pat_${crypto.randomUUID()}.x+/=`;

  it("finds a planted leak: in clear between colour codes, in Basic credentials, URL-encoded", () => {
    const { root, paths } = workspace(
      { "packages/grants": [grants], "packages/pat-server": [pat] },
      {
        "turbo.log": `@tokenkeep/grants:test: \x1b[31m${grants}\x1b[39m\n`,
        "basic.log": `authorization: Basic ${btoa(`id:${pat}`)}\n`,
        "form.log": `body: client_secret=${encodeURIComponent(pat)}\n`,
      },
    );
    const result = scanWorkspace(root, paths);
    expect(result).toMatchObject({ secrets: 2, packages: 2, logs: 3 });
    expect(result.leaks.map((leak) => `${leak.label} ${leak.form} ${leak.where.slice(root.length)}`)).toEqual(
      [
        "packages/grants: PAT clear /turbo.log",
        "packages/pat-server: PAT base64 /basic.log",
        "packages/pat-server: PAT url /form.log",
      ],
    );
    expectNoSecretIn(JSON.stringify(result.leaks), grants, "the leaks found");
  });

  it("passes a clean log, and counts no secret when no package registered one", () => {
    const clean = workspace({ "test/reliability": [pat] }, { "turbo.log": "tests: 12 passed, 0 failed\n" });
    expect(scanWorkspace(clean.root, clean.paths)).toMatchObject({ secrets: 1, leaks: [] });
    const none = workspace({}, { "turbo.log": pat });
    expect(scanWorkspace(none.root, none.paths)).toMatchObject({ secrets: 0, leaks: [] });
  });
});

describe("registerSecret", () => {
  it("appends to the package's test-secrets.jsonl when TOKENKEEP_TEST_SECRETS=1", () => {
    const previous = process.env.TOKENKEEP_TEST_SECRETS;
    process.env.TOKENKEEP_TEST_SECRETS = "1";
    try {
      const secret = registerSecret(`registry-${crypto.randomUUID()}`, "probe");
      const lines = readFileSync(join(process.cwd(), WORKSPACE_SECRETS_FILE), "utf8").split("\n");
      expect(lines).toContain(JSON.stringify({ label: "probe", secret }));
    } finally {
      if (previous === undefined) delete process.env.TOKENKEEP_TEST_SECRETS;
      else process.env.TOKENKEEP_TEST_SECRETS = previous;
    }
  });

  it("holds the same minimum length as the search", () => {
    expect(MIN_REGISTERED_SECRET_LENGTH).toBe(MIN_SECRET_LENGTH);
    expect(() => registerSecret("short")).toThrow(/too short/);
  });
});

describe("mintSecret", () => {
  it("makes a fresh secret each time, registered under its label, odd characters in the middle when asked", () => {
    const [one, two] = [mintSecret("probe"), mintSecret("probe")];
    expect(one).not.toBe(two);
    expect(one).toMatch(/^s_[A-Za-z0-9_-]{24}$/);
    const odd = mintSecret("odd probe", { prefix: "p%+:", odd: true });
    expect(odd).toMatch(/^p%\+:[A-Za-z0-9_-]{12}\+\/=% :&[A-Za-z0-9_-]{12}$/);
    expect(registeredEntries()).toEqual(
      expect.arrayContaining([
        { label: "probe", secret: one },
        { label: "probe", secret: two },
        { label: "odd probe", secret: odd },
      ]),
    );
  });
});

describe("the workspace's registries", () => {
  const root = REPO_ROOT;
  const read = (path: string) => readFileSync(join(root, path), "utf8");
  /** Whether any source file under `dir` (not node_modules, dist) imports the registry. */
  const registers = (dir: string): boolean =>
    readdirSync(join(root, dir), { recursive: true, withFileTypes: true }).some(
      (entry) =>
        entry.isFile() &&
        /\.(ts|mts|mjs)$/.test(entry.name) &&
        !/(^|\/)(node_modules|dist)(\/|$)/.test(join(entry.parentPath, entry.name).slice(root.length)) &&
        /secret-registry|src\/secrets/.test(readFileSync(join(entry.parentPath, entry.name), "utf8")),
    );

  it("every package whose tests register keeps test-secrets.jsonl as its turbo test output, git-ignored", () => {
    const rootTest = JSON.parse(read("turbo.json")).tasks.test;
    expect(rootTest.outputs).toContain(WORKSPACE_SECRETS_FILE);
    expect(rootTest.env).toContain("TOKENKEEP_TEST_SECRETS");
    expect(read(".gitignore").split("\n")).toContain(WORKSPACE_SECRETS_FILE);
    const registering: string[] = [];
    for (const group of ["packages", "examples", "test"]) {
      for (const name of readdirSync(join(root, group))) {
        const dir = `${group}/${name}`;
        if (!existsSync(join(root, dir, "package.json")) || !registers(dir)) continue;
        registering.push(dir);
        const own = existsSync(join(root, dir, "turbo.json"))
          ? JSON.parse(read(`${dir}/turbo.json`)).tasks?.test
          : undefined;
        expect(own?.outputs ?? rootTest.outputs, dir).toContain(WORKSPACE_SECRETS_FILE);
      }
    }
    // The packages the README's "Covered packages" table names, at least.
    expect(registering).toEqual(
      expect.arrayContaining([
        "packages/astro",
        "packages/core",
        "packages/grants",
        "packages/pat-client",
        "packages/pat-protocol",
        "packages/pat-server",
        "packages/redis",
        "examples/astro-app",
        "examples/node-backend",
        "test/demo",
        "test/reliability",
        "test/runtimes",
      ]),
    );
  });
});
