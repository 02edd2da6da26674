/**
 * Every ```ts and ```js example of every README under packages/ and examples/ is type-checked against the built packages, imported the
 * way a user imports them (`@tokenkeep/core/http`, ...), so a renamed export or option breaks this
 * test instead of a reader's build.
 *
 * Each example is a module of its own. Names an example uses without declaring them (a fragment of a
 * larger program: the `manager` made earlier, the `session` at hand) are declared globally for that
 * README, so an example's own declarations shadow them.
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
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { REPO_ROOT as repo } from "../../reliability/src/repo-root.js";

const here = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

interface Readme {
  /** Relative to the repository. */
  readonly path: string;
  /** At least this many examples, so a README reformatted into no examples does not pass silently. */
  readonly minimum: number;
  /** Global declarations of the names its examples take from context. */
  readonly context: string;
  /** Examples that need a package not installed here, with the reason. */
  readonly skip?: { readonly contains: string; readonly why: string };
}

/** What some READMEs need; every other README under packages/ and examples/ is checked as it is. */
const SETTINGS: Record<string, Omit<Readme, "path">> = {
  "packages/core/README.md": {
    minimum: 8,
    context: `
      declare const creator: import("@tokenkeep/core").TokenCreator;
      declare const url: string;
      declare const store: import("@tokenkeep/core").Store;
      declare const session: import("@tokenkeep/core").TokenSet;
      declare const manager: import("@tokenkeep/core").TokenManager;
      type JsonValue = import("@tokenkeep/core").JsonValue;
      type LeaseRelease = import("@tokenkeep/core").LeaseRelease;
    `,
  },
  "packages/grants/README.md": { minimum: 8, context: "" },
  "packages/pat-client/README.md": {
    minimum: 10,
    context: `
      declare const client: import("@tokenkeep/pat-client").PatAdminClient;
      declare const tokenId: string;
      declare const idA: string;
      declare const idB: string;
    `,
  },
  "packages/redis/README.md": { minimum: 2, context: "" },
  "packages/astro/README.md": { minimum: 4, context: "" },
  "packages/pat-server/README.md": { minimum: 5, context: "" },
};

const READMES: readonly Readme[] = ["packages", "examples"]
  .flatMap((folder) =>
    readdirSync(`${repo}/${folder}`)
      .map((name) => `${folder}/${name}/README.md`)
      .filter((path) => existsSync(`${repo}/${path}`)),
  )
  .map((path) => ({ path, minimum: 0, context: "", ...SETTINGS[path] }));

function typeCheck(readme: Readme): { checked: number; skipped: number; problems: string[] } {
  const text = readFileSync(`${repo}/${readme.path}`, "utf8");
  // ```js examples too (an `astro.config.mjs`), checked as JavaScript with the same types.
  const examples = [...text.matchAll(/```(ts|js)\n([\s\S]*?)```/g)].map((match) => ({
    extension: match[1] === "js" ? "mjs" : "ts",
    code: match[2]!,
  }));
  expect(examples.length, `${readme.path}: examples found`).toBeGreaterThanOrEqual(readme.minimum);
  const kept = examples.filter(({ code }) => !readme.skip || !code.includes(readme.skip.contains));

  // Inside this package, so its node_modules resolve; a folder per run, never shared.
  mkdirSync(`${here}/.tmp`, { recursive: true });
  const folder = mkdtempSync(`${here}/.tmp/readme-`);
  try {
    writeFileSync(`${folder}/context.d.ts`, readme.context);
    const files = kept.map(({ extension, code }, index) => {
      const file = `${folder}/example-${index + 1}.${extension}`;
      writeFileSync(file, `${code}\nexport {};\n`);
      return file;
    });
    const program = ts.createProgram([`${folder}/context.d.ts`, ...files], {
      target: ts.ScriptTarget.ES2023,
      module: ts.ModuleKind.Preserve,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ["lib.es2023.d.ts", "lib.dom.d.ts", "lib.dom.iterable.d.ts", "lib.esnext.disposable.d.ts"],
      types: ["node"],
      typeRoots: [`${here}/node_modules/@types`],
      strict: true,
      allowJs: true,
      checkJs: true,
      noEmit: true,
      skipLibCheck: true,
    });
    const problems = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const where = diagnostic.file
        ? `${diagnostic.file.fileName.slice(folder.length + 1)}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line + 1}`
        : "";
      return `${readme.path} ${where} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`;
    });
    return { checked: kept.length, skipped: examples.length - kept.length, problems };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

describe("README examples type-check against the built packages", () => {
  it("finds every README that has settings", () => {
    for (const path of Object.keys(SETTINGS)) expect(READMES.map((readme) => readme.path)).toContain(path);
  });

  for (const readme of READMES) {
    it(readme.path, () => {
      const { checked, skipped, problems } = typeCheck(readme);
      expect(problems).toEqual([]);
      expect(checked + skipped).toBeGreaterThanOrEqual(readme.minimum);
      // A skip that no longer matches anything is stale: drop it and check that example too.
      if (readme.skip) expect(skipped, `skip "${readme.skip.contains}" matched nothing`).toBeGreaterThan(0);
    }, 60_000);
  }

  // Its one ```typescript example, an Astro Action, needs `astro:actions` and the types the integration
  // injects into an Astro project, so it is not type-checked above: it is the fixture file that the
  // package's tests build and sign in through, word for word (the fixture's own comment lines aside).
  it("packages/astro/README.md: the Action example is the fixture site's", () => {
    const readme = readFileSync(`${repo}/packages/astro/README.md`, "utf8");
    const examples = [...readme.matchAll(/```typescript\n([\s\S]*?)```/g)].map((match) => match[1]);
    const fixture = readFileSync(`${repo}/packages/astro/test/fixtures/site/src/actions/index.ts`, "utf8")
      .split("\n")
      .filter((line) => !line.startsWith("//"))
      .join("\n");
    expect(examples).toEqual([fixture]);
  });

  // A reader copies an example after the README's install line: every package an example imports must
  // be one the README tells them to install (`npm install ...` or `astro add ...`, anywhere in it), or
  // the host the example is written for, which they already have.
  const HOSTS: Record<string, string> = {
    astro: "pat-server's route for an Astro site",
    ky: "core's hooks for an application that sends through ky",
    vitest: "core's store contract, run with your test runner",
  };
  for (const readme of READMES) {
    it(`${readme.path}: its install lines cover what its examples import`, () => {
      const text = readFileSync(`${repo}/${readme.path}`, "utf8");
      const installed = new Set(
        [...text.matchAll(/(?:npm install|astro add) ([^\n`#]+)/g)].flatMap((match) =>
          match[1]!.split(/\s+/).map((word) => word.replace(/(?<=.)@[^@/]*$/, "")),
        ),
      );
      const imported = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].flatMap((match) =>
        match[1]!
          .split("\n")
          .filter((line) => !line.trimStart().startsWith("//"))
          .flatMap((line) => [...line.matchAll(/from "([^".][^"]*)"/g)].map((found) => found[1]!)),
      );
      const missing = imported
        .filter((specifier) => !specifier.startsWith("node:"))
        .map((specifier) =>
          specifier
            .split("/")
            .slice(0, specifier.startsWith("@") ? 2 : 1)
            .join("/"),
        )
        .filter((name) => !installed.has(name) && !(name in HOSTS));
      expect([...new Set(missing)]).toEqual([]);
    });
  }

  it("catches a wrong import (the check itself works)", () => {
    const broken: Readme = { path: "test/docs/test/fixtures/broken.md", minimum: 1, context: "" };
    const { problems } = typeCheck(broken);
    expect(problems.join("\n")).toMatch(/createAuthFetch/);
  });
});
