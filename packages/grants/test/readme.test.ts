import { execFile } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

// Every ```ts block of the README is type-checked against the source, so the examples keep compiling.
const root = fileURLToPath(new URL("..", import.meta.url));
const dir = `${root}node_modules/.cache/readme-snippets/`;

it("README examples type-check", async () => {
  const readme = await readFile(`${root}README.md`, "utf8");
  const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
  expect(snippets.length).toBeGreaterThanOrEqual(8);

  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await Promise.all(
    snippets.map((code, index) => writeFile(`${dir}snippet-${index}.ts`, `${code}\nexport {};\n`)),
  );
  await writeFile(
    `${dir}tsconfig.json`,
    JSON.stringify({
      extends: "../../../tsconfig.json",
      compilerOptions: { types: ["node"], paths: { "@tokenkeep/grants": ["../../../src/index.ts"] } },
      include: ["*.ts"],
    }),
  );
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const result = await promisify(execFile)(process.execPath, [tsc, "-p", dir, "--noEmit"]).then(
    () => "",
    (error: { stdout?: string }) => error.stdout ?? String(error),
  );
  expect(result).toBe("");
}, 60_000);
