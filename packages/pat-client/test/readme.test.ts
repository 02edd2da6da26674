import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

// Names the README's snippets use without declaring them (each snippet is a fragment of a session).
const PRELUDE = `
declare const client: import("@tokenkeep/pat-client").PatAdminClient;
declare const tokenId: string;
declare const idA: string;
declare const idB: string;
`;

it("every TypeScript example of the README type-checks against the built package", () => {
  const readme = readFileSync(`${root}/README.md`, "utf8");
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
  expect(blocks.length).toBeGreaterThan(10);

  // A folder of its own inside the package (so the package's node_modules resolve), never shared with
  // another run of this test going on at the same time.
  mkdirSync(`${root}/.tmp`, { recursive: true });
  const folder = mkdtempSync(`${root}/.tmp/readme-`);
  const files = blocks.map((block, index) => {
    // Imports stay at the top; the rest runs inside an async function, whose own declarations may
    // shadow the prelude's.
    const lines = block.split("\n");
    const imports = lines.filter((line) => line.startsWith("import "));
    const body = lines.filter((line) => !line.startsWith("import "));
    const file = `${folder}/example-${index + 1}.ts`;
    writeFileSync(
      file,
      `${imports.join("\n")}\n${PRELUDE}\nexport async function example() {\n${body.join("\n")}\n}\n`,
    );
    return file;
  });

  const program = ts.createProgram(files, {
    target: ts.ScriptTarget.ES2023,
    module: ts.ModuleKind.Preserve,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2023.d.ts", "lib.dom.d.ts", "lib.esnext.disposable.d.ts"],
    types: ["node"],
    typeRoots: [`${root}/node_modules/@types`],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  });
  const problems = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const where = diagnostic.file
      ? `${diagnostic.file.fileName.slice(folder.length + 1)}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line + 1}`
      : "";
    return `${where} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`;
  });
  rmSync(folder, { recursive: true, force: true });
  expect(problems).toEqual([]);
});
