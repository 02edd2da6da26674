import type { PatRecord } from "@tokenkeep/pat-protocol";
import Table from "cli-table3";
import { printable } from "../terminal-text";

/** Each unit, its length, and from how far away it is used (days up to 45, as people count them). */
const UNITS: readonly [Intl.RelativeTimeFormatUnit, number, number][] = [
  ["year", 365 * 86_400, 365 * 86_400],
  ["month", 30 * 86_400, 45 * 86_400],
  ["day", 86_400, 86_400],
  ["hour", 3_600, 3_600],
  ["minute", 60, 60],
  ["second", 1, 1],
];

/**
 * A Unix-seconds time relative to `nowSeconds`, in the largest unit it spans, rounded to the nearest
 * whole one: a token issued for 7 days a second ago reads "in 7 days", not "in 6 days".
 * Examples: "in 29 days", "3 hours ago", "now".
 */
export function relativeTime(atSeconds: number, nowSeconds: number, locale = "en"): string {
  const format = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  const delta = atSeconds - nowSeconds;
  for (const [unit, seconds, from] of UNITS) {
    if (Math.abs(delta) >= from) return format.format(Math.round(delta / seconds), unit);
  }
  return format.format(0, "second");
}

/** The state of a record at `nowSeconds`: `revoked`, `expired` or `active` (expiry at `<=`, as the server). */
export function recordStatus(record: PatRecord, nowSeconds: number): "active" | "revoked" | "expired" {
  if (record.revokedAt != null) return "revoked";
  if (record.expiresAt != null && record.expiresAt <= nowSeconds) return "expired";
  return "active";
}

/** "expires in 29 days", "expired 2 days ago", "never expires". */
export function describeExpiry(expiresAt: number | null | undefined, nowSeconds: number): string {
  if (expiresAt == null) return "never expires";
  const when = relativeTime(expiresAt, nowSeconds);
  return expiresAt <= nowSeconds ? `expired ${when}` : `expires ${when}`;
}

const BORDER_CHARS = [
  "top",
  "top-mid",
  "top-left",
  "top-right",
  "bottom",
  "bottom-mid",
  "bottom-left",
  "bottom-right",
  "left",
  "left-mid",
  "mid",
  "mid-mid",
  "right",
  "right-mid",
] as const;

/** A human-readable table of records (no colours, so it reads the same in a file or a pipe). */
export function recordsTable(records: readonly PatRecord[], nowSeconds: number): string {
  const table = new Table({
    head: ["ID", "OWNER", "ADMIN", "ROLES", "STATUS", "CREATED", "LAST USED", "EXPIRES"],
    // Borderless, one line per record, columns two spaces apart (as `kubectl get` prints): easy to read
    // and to cut with awk.
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
    chars: { ...Object.fromEntries(BORDER_CHARS.map((name) => [name, ""])), middle: "  " },
  });
  for (const record of records) {
    // Owners and roles come from the server, and may hold control characters (only NUL is refused).
    table.push([
      printable(record.tokenId),
      printable(record.owner),
      record.isAdmin ? "yes" : "no",
      record.roles.map(printable).join(", "),
      recordStatus(record, nowSeconds),
      relativeTime(record.createdAt, nowSeconds),
      record.lastUsedAt == null ? "never" : relativeTime(record.lastUsedAt, nowSeconds),
      describeExpiry(record.expiresAt, nowSeconds),
    ]);
  }
  return table
    .toString()
    .split("\n")
    .map((line) => line.trimEnd())
    .join("\n");
}
