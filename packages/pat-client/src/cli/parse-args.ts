import { MAX_TIMER_MS } from "@tokenkeep/core/options";
import { InvalidArgumentError } from "commander";

const DURATION_UNITS: Readonly<Record<string, number>> = {
  s: 1,
  m: 60,
  h: 3_600,
  d: 86_400,
  w: 7 * 86_400,
  y: 365 * 86_400,
};

/** The last Unix second a `Date` can hold (+275760-09-13): any later time or duration is a typo. */
export const MAX_UNIX_SECONDS = 8_640_000_000_000;

const TOO_LATE = `Expected at most ${MAX_UNIX_SECONDS} seconds (the year 275760).`;

/** `--expires-in 30d`: a duration (`90s`, `15m`, `12h`, `30d`, `2w`, `1y`) as seconds. */
export function parseDurationSeconds(value: string): number {
  const match = /^(\d+)([smhdwy])$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError("Expected a duration such as 90s, 15m, 12h, 30d, 2w or 1y.");
  const seconds = Number(match[1]) * DURATION_UNITS[match[2]!]!;
  if (!(seconds <= MAX_UNIX_SECONDS)) throw new InvalidArgumentError(TOO_LATE);
  return seconds;
}

/** `--expires-at`: Unix seconds, or a date such as `2027-01-31` or `2027-01-31T12:00:00Z`, as Unix seconds. */
export function parseUnixSeconds(value: string): number {
  const text = value.trim();
  if (/^\d+$/.test(text)) {
    const seconds = Number(text);
    if (!(seconds <= MAX_UNIX_SECONDS)) throw new InvalidArgumentError(TOO_LATE);
    return seconds;
  }
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(at))
    throw new InvalidArgumentError("Expected Unix seconds or an ISO date such as 2027-01-31.");
  return Math.floor(at / 1000);
}

/** `--limit`: an integer from 1 to 1000. */
export function parseLimit(value: string): number {
  const limit = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(limit >= 1 && limit <= 1000)) throw new InvalidArgumentError("Expected an integer from 1 to 1000.");
  return limit;
}

/** `--max-pages`: a positive integer. */
export function parseMaxPages(value: string): number {
  const pages = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(Number.isSafeInteger(pages) && pages >= 1))
    throw new InvalidArgumentError("Expected a positive integer.");
  return pages;
}

/** A repeatable option (`--role a --role b`), also accepting commas (`--role a,b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== ""),
  ];
}

/** `--retries`: an integer from 0 to 10. */
export function parseRetries(value: string): number {
  const retries = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(retries >= 0 && retries <= 10)) throw new InvalidArgumentError("Expected an integer from 0 to 10.");
  return retries;
}

/** `--timeout`: whole milliseconds, from 1 to the longest a timer waits (2^31 - 1, about 24.8 days). */
export function parseTimeoutMs(value: string): number {
  const ms = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(ms >= 1 && ms <= MAX_TIMER_MS)) {
    throw new InvalidArgumentError(`Expected a number of milliseconds from 1 to ${MAX_TIMER_MS}.`);
  }
  return ms;
}

/**
 * `--token`, `--admin-token` and their environment variables: the PAT without the whitespace around it
 * (a PAT holds none). A PAT read from a file keeps what `$(cat token.txt)` does not drop: the CR of a
 * CRLF line end, a BOM; sent as they are, they made the server refuse a valid PAT.
 */
export function parsePat(value: string): string {
  return value.trim();
}
