import { isApiError, type PatRecord } from "@tokenkeep/pat-protocol";
import { isPatClientError } from "../pat-client-error";
import { describeExpiry, recordStatus, relativeTime } from "./format";
import { tokenIdOfPat } from "./token-id";

/** The client's option names and the protocol's field names, as the operator typed them. */
const FLAGS: Readonly<Record<string, string>> = {
  endpoint: "--endpoint (TOKENKEEP_PAT_ENDPOINT)",
  apiKey: "--token (TOKENKEEP_PAT)",
  authPath: "--auth-path",
  adminPath: "--admin-path",
  timeoutMs: "--timeout (TOKENKEEP_PAT_TIMEOUT_MS)",
  owner: "--owner",
  isAdmin: "--admin",
  roles: "--role",
  expiresAt: "--expires-at",
  secretPhc: "--secret-phc",
  tokenId: "<tokenId>",
  limit: "--limit",
  afterTokenId: "--after",
  hasRole: "--has-role",
};

/**
 * The problems of the client's options (`path: Message`) as flag problems: "--endpoint
 * (TOKENKEEP_PAT_ENDPOINT): expected an https URL ...".
 */
export function optionProblemsAsFlags(problems: readonly string[]): string[] {
  return problems.map((line) => {
    const colon = line.indexOf(": ");
    const path = colon < 0 ? "" : line.slice(0, colon);
    const message = colon < 0 ? line : line.slice(colon + 2);
    const flag = FLAGS[path.split(".")[0] ?? ""] ?? path;
    const text = message.replace("allowInsecureRequests: true", "--allow-insecure-requests");
    return `${flag}: ${text.charAt(0).toLowerCase()}${text.slice(1)}`;
  });
}

/** A server's validation details (zod's "→ at owner" lines) with the fields named by their flags. */
export function detailsAsFlags(details: string): string {
  return details.replace(/→ at ([A-Za-z]+)([.\w[\]]*)/g, (whole, field: string, rest: string) => {
    const flag = FLAGS[field];
    return flag ? `→ ${flag}${rest}` : whole;
  });
}

/** The lines to add under a server's 400 answer: its validation details, in flag names. */
export function badRequestDetails(error: unknown): string[] {
  if (!isPatClientError(error) || error.status !== 400 || !isApiError(error.cause)) return [];
  const { details } = error.cause.error;
  if (typeof details !== "string" || details === "") return [];
  return detailsAsFlags(details)
    .split("\n")
    .map((line) => `  ${line.trim()}`);
}

/** The line to add under `list --all`'s page limit: the flag that raises it. */
export function pageLimitAdvice(error: unknown): string[] {
  if (!isPatClientError(error) || error.code !== "ERR_PAT_CLIENT_PAGE_LIMIT") return [];
  return ["  Raise the limit with --max-pages <n> if the service holds that many tokens."];
}

/** True when the server refused the PAT itself (the exchange answered 401). */
export function isRefusedPat(error: unknown): boolean {
  return isPatClientError(error) && error.status === 401 && error.operation === "exchange";
}

/** What the operator should check when the server refused their PAT, before any lookup. */
export function refusedPatAdvice(pat: string): string[] {
  const id = tokenIdOfPat(pat);
  if (id === undefined) {
    return [
      "The server refused the personal access token (--token or TOKENKEEP_PAT): it is not shaped like one",
      "(<prefix><21-character id>.<secret>), so check that it was copied whole.",
    ];
  }
  return [
    `The server refused the personal access token with id ${id} (--token or TOKENKEEP_PAT). Check that it`,
    "is not expired or revoked, and that it was copied whole (a mistyped secret is refused the same way).",
  ];
}

/** What the record of a refused PAT says about the refusal. */
export function describeRefusal(tokenId: string, record: PatRecord | undefined, nowSeconds: number): string {
  if (record === undefined) {
    return `No token with id ${tokenId} exists on this server: the PAT is mistyped, or belongs to another server.`;
  }
  const who = `Token ${tokenId} (owner ${record.owner})`;
  switch (recordStatus(record, nowSeconds)) {
    case "revoked":
      return `${who} was revoked ${relativeTime(record.revokedAt ?? nowSeconds, nowSeconds)}: \`tokenkeep-pat restore ${tokenId}\` brings it back.`;
    case "expired":
      return `${who} ${describeExpiry(record.expiresAt, nowSeconds)}: \`tokenkeep-pat update ${tokenId} --expires-in 30d\` extends it.`;
    default:
      return `${who} is active, so the secret part of the PAT is wrong: mistyped, or the secret was rotated.`;
  }
}
