/**
 * What the tests leave for the sweep and for the figures: server logs, error dumps and measured
 * figures, appended to files in the run's output folder (`RELIABILITY_OUT`). Without that folder
 * (vitest run by hand) nothing is written and the sweep does not run.
 */
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";

function append(file: string, text: string): void {
  const out = process.env.RELIABILITY_OUT;
  if (out) appendFileSync(join(out, file), text.endsWith("\n") ? text : `${text}\n`);
}

/** One line of a server's log (`token-server.log`, `pat-server.log`...). */
export function logLine(file: string, line: string): void {
  append(file, line);
}

/**
 * Every way an error is commonly printed, into `errors.log`: `String`, the stack, `JSON.stringify`
 * (so `toJSON`), and `util.inspect` with its causes, as a logger would show it.
 */
export function dumpError(context: string, error: unknown): void {
  const json = (() => {
    try {
      return JSON.stringify(error);
    } catch (reason) {
      return `(JSON.stringify threw ${String(reason)})`;
    }
  })();
  const stack = error instanceof Error ? error.stack : undefined;
  append(
    "errors.log",
    [`--- ${context}`, String(error), stack ?? "", json ?? "", inspect(error, { depth: 6 })].join("\n"),
  );
}

/** One measured figure, for the long mode's table (`figures.jsonl`). */
export function recordFigure(figure: Record<string, unknown>): void {
  append("figures.jsonl", JSON.stringify(figure));
}
