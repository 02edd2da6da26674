/** Unix seconds after which a value is surely epoch milliseconds (year 5138 as seconds; 1973 as ms). */
const MILLISECONDS_THRESHOLD = 100_000_000_000;

/** Seconds below which an "expiry" is probably a duration typed where a date belongs (before 2001). */
const DURATION_THRESHOLD = 1_000_000_000;

const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace(".000Z", "Z");

/**
 * The expiry `--expires-at` (Unix seconds) or `--expires-in` (seconds from now) asks for, or why it
 * is a mistake, with the value the operator probably meant: both given, a zero duration, epoch
 * milliseconds given as seconds, a time in the past. Each would issue a useless token.
 */
export function checkedExpiry(
  at: number | undefined,
  inSeconds: number | undefined,
  nowSeconds: number,
): { readonly expiresAt: number | undefined } | { readonly problem: string } {
  if (at !== undefined && inSeconds !== undefined) {
    return { problem: "use either --expires-at or --expires-in, not both" };
  }
  if (inSeconds !== undefined) {
    if (inSeconds <= 0) {
      return {
        problem:
          "--expires-in must be longer than 0: a token that expires at once is useless (for example --expires-in 30d; leave --expires-* out for no expiry)",
      };
    }
    return { expiresAt: nowSeconds + inSeconds };
  }
  if (at === undefined) return { expiresAt: undefined };
  if (at >= MILLISECONDS_THRESHOLD) {
    const seconds = Math.floor(at / 1000);
    return {
      problem: `--expires-at ${at} looks like epoch milliseconds (it is year ${new Date(at * 1000).getUTCFullYear()} in seconds); did you mean --expires-at ${seconds} (${iso(seconds)})?`,
    };
  }
  if (at <= nowSeconds) {
    const meant =
      at > 0 && at < DURATION_THRESHOLD
        ? `; did you mean --expires-in ${at}s (${iso(nowSeconds + at)})?`
        : "; give a future time, or --expires-in 30d";
    return {
      problem: `--expires-at ${at} is ${iso(at)}, in the past: the token would be expired at once${meant}`,
    };
  }
  return { expiresAt: at };
}
