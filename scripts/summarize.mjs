// Reads the test suite's output (vitest summaries, the runtime matrix and the pack-and-import test,
// each closing with a count) and prints one closing line for the whole suite:
// "tests: N passed, N failed". Usage: node scripts/summarize.mjs LOGFILE...
import { readFileSync } from "node:fs";

let passed = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips terminal colours
  const text = readFileSync(file, "utf8").replace(/\x1b\[[0-9;]*m/g, "");
  for (const line of text.split("\n")) {
    const vitest = /\bTests\s+(.*)\(\d+\)\s*$/.exec(line);
    const plain = /(?:^|: )(\d+) passed, (\d+) failed\s*$/.exec(line);
    if (vitest) {
      passed += Number(/(\d+) passed/.exec(vitest[1])?.[1] ?? 0);
      failed += Number(/(\d+) failed/.exec(vitest[1])?.[1] ?? 0);
    } else if (plain) {
      passed += Number(plain[1]);
      failed += Number(plain[2]);
    }
  }
}
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
