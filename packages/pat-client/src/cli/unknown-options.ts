import type { Command, Option } from "commander";

/** An option on the command line that neither the program nor the chosen command knows. */
export interface UnknownOption {
  /** As typed, without any `=value`. */
  readonly flag: string;
  /** The whole argument, `=value` included (to check it for a pasted PAT before echoing it). */
  readonly arg: string;
  /** The closest known flag, when one is close enough to be a typo. */
  readonly suggestion: string | undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps cost 1. */
function distance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      }
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}

/** The known flag closest to `flag`, if it is within a typo's reach (2 edits, 3 for long names). */
export function closestFlag(flag: string, known: readonly string[]): string | undefined {
  let best: { flag: string; distance: number } | undefined;
  for (const candidate of known) {
    const d = distance(flag, candidate);
    if (best === undefined || d < best.distance) best = { flag: candidate, distance: d };
  }
  const reach = flag.length > 10 ? 3 : 2;
  return best !== undefined && best.distance <= reach ? best.flag : undefined;
}

const longFlags = (options: readonly Option[]): string[] =>
  options.flatMap((option) => (option.long ? [option.long] : []));

const takesValue = (options: readonly Option[], flag: string): boolean =>
  options.some((option) => option.long === flag && (option.required || option.optional));

/**
 * The first option in `argv` that the program and the command it runs do not know, checked before
 * commander parses: commander reports a missing required option first, so `issue --ownr x` would
 * otherwise read "required option '--owner' not specified" instead of naming the typo.
 */
export function findUnknownOption(program: Command, argv: readonly string[]): UnknownOption | undefined {
  const globals = [...program.options];
  let options: Option[] = globals;
  let command: Command | undefined;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    if (arg === "--") return undefined;
    if (!arg.startsWith("-") || arg === "-") {
      if (command === undefined) {
        command = program.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
        if (command === undefined) return undefined; // commander names an unknown command itself
        options = [...globals, ...command.options];
      }
      continue;
    }
    if (!arg.startsWith("--")) continue; // short flags: only -h, which commander handles
    const flag = arg.includes("=") ? arg.slice(0, arg.indexOf("=")) : arg;
    const known = [...longFlags(options), "--help"];
    if (!known.includes(flag)) return { flag, arg, suggestion: closestFlag(flag, known) };
    if (!arg.includes("=") && takesValue(options, flag)) index += 1; // its value may start with "-"
  }
  return undefined;
}
