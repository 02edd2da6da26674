import { redactPats } from "./program";

/** Options whose value is a personal access token. */
const SECRET_OPTIONS = ["--token", "--admin-token"] as const;

const HIDDEN = "<hidden>";

/**
 * The process title for `tokenkeep-pat` run with `argv`: the command line with the value of `--token`
 * and `--admin-token` (and any PAT pasted elsewhere) replaced by a placeholder. On Linux, setting
 * `process.title` overwrites the memory `ps` and `/proc/<pid>/cmdline` read the arguments from, so a
 * PAT given as an option is visible there only while the command starts, not for as long as it waits
 * for the server (up to minutes with retries). Other systems keep their own copy of the arguments.
 */
export function processTitle(argv: readonly string[]): string {
  const shown: string[] = ["tokenkeep-pat"];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index]!;
    const option = SECRET_OPTIONS.find((name) => arg === name || arg.startsWith(`${name}=`));
    if (option === undefined) {
      shown.push(arg);
    } else if (arg === option) {
      shown.push(option, HIDDEN);
      index += 1; // its value
    } else {
      shown.push(`${option}=${HIDDEN}`);
    }
  }
  return redactPats(shown.join(" "));
}
