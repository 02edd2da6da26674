// Runs this package's tests in one mode (`short`: inside the workspace's `npm test`; `long`: the
// README's figures) with an output folder for server logs, error dumps, registered secrets and
// figures, then sweeps the run's stdout, stderr and that folder for every registered secret in clear,
// base64 and URL-encoded forms. A planted canary proves the sweep sees what it should, before it runs.
// Usage: node scripts/run.mjs short|long|storm [vitest arguments...]
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { sweep } from "../src/leak-scan.mjs";

// `storm`: the Astro rotation storm alone, in short mode's sizes, as its own turbo task (`test:storm`),
// which runs after @tokenkeep/astro's tests have built the fixture site it serves.
const requested = process.argv[2] ?? "short";
const mode = requested === "long" || requested === "storm" ? requested : "short";
const pkg = fileURLToPath(new URL("..", import.meta.url));
const out = join(pkg, ".tmp", mode);
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

/** The sweep must find a planted secret in each form, or its "no leak" would mean nothing. */
function canary() {
  const dir = mkdtempSync(join(tmpdir(), "tk-reliability-canary-"));
  try {
    const secret = `canary-${crypto.randomUUID()}+/=`;
    writeFileSync(join(dir, "secrets.jsonl"), `${JSON.stringify({ label: "canary", secret })}\n`);
    writeFileSync(join(dir, "clear.log"), `error: bad secret ${secret}\n`);
    writeFileSync(join(dir, "basic.log"), `authorization: Basic ${btoa(`client:${secret}`)}\n`);
    writeFileSync(join(dir, "form.log"), `body: grant_type=x&client_secret=${encodeURIComponent(secret)}\n`);
    const { leaks } = sweep(dir, [{ where: "stdout", text: "nothing here" }]);
    const found = new Set(leaks.map((leak) => `${leak.where}:${leak.form}`));
    return ["clear.log:clear", "basic.log:base64", "form.log:url"].every((expected) => found.has(expected));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// vitest is the workspace root's dev dependency: found from here by Node's resolution, run by this Node.
const require = createRequire(join(pkg, "package.json"));
const vitestPackage = require.resolve("vitest/package.json");
const vitest = join(dirname(vitestPackage), JSON.parse(readFileSync(vitestPackage, "utf8")).bin.vitest);
const child = spawn(process.execPath, [vitest, "run", ...process.argv.slice(3)], {
  cwd: pkg,
  env: {
    ...process.env,
    RELIABILITY_OUT: out,
    RELIABILITY_MODE: mode === "long" ? "long" : "short",
    ...(mode === "storm" ? { RELIABILITY_STORM: "1" } : {}),
  },
  stdio: ["ignore", "pipe", "pipe"],
});
let stdout = "";
let stderr = "";
child.stdout.on("data", (chunk) => {
  stdout += chunk;
  process.stdout.write(chunk);
});
child.stderr.on("data", (chunk) => {
  stderr += chunk;
  process.stderr.write(chunk);
});
const code = await new Promise((resolve) => {
  child.on("error", (error) => {
    console.error(`reliability: could not start vitest: ${error.message}`);
    resolve(1);
  });
  child.on("close", (status) => resolve(status ?? 1));
});

const sees = canary();
const result = sweep(out, [
  { where: "stdout", text: stdout },
  { where: "stderr", text: stderr },
]);
for (const leak of result.leaks)
  console.error(`LEAK: a registered ${leak.label} appears (${leak.form}) in ${leak.where}`);
if (!sees)
  console.error("no-secret sweep: the planted canary was not found in every form: the sweep is blind");
if (result.secrets === 0)
  console.error("no-secret sweep: no secret was registered, so the sweep proved nothing");
const clean = sees && result.secrets > 0 && result.leaks.length === 0;
console.log(
  `no-secret sweep (${result.secrets} secrets, ${result.searched} outputs, canary ${sees ? "found" : "missed"}): ${clean ? "1 passed, 0 failed" : "0 passed, 1 failed"}`,
);

const figures = join(out, "figures.jsonl");
if (mode === "long" && existsSync(figures)) {
  console.log(
    "\n| fault | variant | callers | callers saw | first / last settled | proxy / server requests | tokens issued, never delivered |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const line of readFileSync(figures, "utf8").split("\n").filter(Boolean)) {
    const f = JSON.parse(line);
    const saw =
      f.tokens === f.callers
        ? "a token"
        : Object.entries(f.codes)
            .map(([c, n]) => `${n} x ${c}`)
            .join(", ");
    console.log(
      `| ${f.fault} | ${f.variant} | ${f.callers} | ${saw} | ${f.firstMs} / ${f.lastMs} ms | ${f.proxyRequests} / ${f.serverRequests} | ${f.issuedNotDelivered} |`,
    );
  }
}
process.exitCode = code === 0 && clean ? 0 : 1;
