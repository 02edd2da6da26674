/**
 * Field mapping for custom-endpoint upstreams: reads a login or refresh answer through dotted paths
 * (`data.tokens.access`) or a parser function, and turns it into a token set whose expiry is anchored
 * at the moment the request was sent.
 */
import { InvalidResponseError, type JsonValue, type TokenSet } from "@tokenkeep/core";
import type { FieldMapping, ParsedTokens } from "../config/schema.js";
import { SESSION_PAYLOAD_KEY } from "../session.js";

/** The value at a dotted path (`a.b.0.c`); `undefined` when any step is missing. */
export function readPath(body: unknown, path: string): unknown {
  let value: unknown = body;
  for (const step of path.split(".")) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[step];
  }
  return value;
}

// Without a mapping, the camelCase name (astro-tokenkit's) and then the OAuth wire name are tried.
const FALLBACKS: Readonly<Record<keyof FieldMapping, readonly string[]>> = {
  accessToken: ["accessToken", "access_token"],
  refreshToken: ["refreshToken", "refresh_token"],
  expiresAt: ["expiresAt", "expires_at"],
  expiresIn: ["expiresIn", "expires_in"],
  tokenType: ["tokenType", "token_type"],
  sessionPayload: ["sessionPayload", "user"],
};

function pick(body: unknown, fields: FieldMapping, name: keyof FieldMapping): unknown {
  const mapped = fields[name];
  if (mapped !== undefined) return readPath(body, mapped);
  for (const candidate of FALLBACKS[name]) {
    const value = readPath(body, candidate);
    if (value !== undefined && value !== null) return value;
  }
  return undefined;
}

/** Reads an answer's fields through `fields` into {@link ParsedTokens}. */
export function mapFields(body: unknown, fields: FieldMapping): ParsedTokens {
  const expiresIn = pick(body, fields, "expiresIn");
  return {
    accessToken: pick(body, fields, "accessToken") as string,
    refreshToken: pick(body, fields, "refreshToken") as string | undefined,
    expiresAt: pick(body, fields, "expiresAt") as number | string | undefined,
    expiresIn:
      typeof expiresIn === "string" && expiresIn.trim() !== "" ? Number(expiresIn) : (expiresIn as number),
    tokenType: pick(body, fields, "tokenType") as string | undefined,
    sessionPayload: pick(body, fields, "sessionPayload") as JsonValue | undefined,
  };
}

const invalid = (field: string) => new InvalidResponseError(`field "${field}" is invalid`);

/** Epoch ms of an `expiresAt`: epoch ms, epoch seconds (below 10^11) or an ISO date. */
function expiryMs(value: number | string): number {
  if (typeof value === "number") return value < 1e11 ? value * 1000 : value;
  const parsed = /^\d+$/.test(value) ? expiryMs(Number(value)) : Date.parse(value);
  if (!Number.isFinite(parsed)) throw invalid("expiresAt");
  return parsed;
}

/**
 * The token set of parsed fields, validated: the message of a bad answer names the field, never its
 * value. Without `expiresAt` or `expiresIn`, the set expires after `defaultLifetimeMs`.
 */
export function toTokenSet(
  parsed: ParsedTokens,
  options: { readonly sentAt: number; readonly defaultLifetimeMs: number },
): TokenSet {
  if (typeof parsed !== "object" || parsed === null) throw invalid("accessToken");
  if (typeof parsed.accessToken !== "string" || parsed.accessToken === "") throw invalid("accessToken");
  if (
    parsed.refreshToken !== undefined &&
    parsed.refreshToken !== null &&
    typeof parsed.refreshToken !== "string"
  ) {
    throw invalid("refreshToken");
  }
  if (parsed.tokenType !== undefined && parsed.tokenType !== null && typeof parsed.tokenType !== "string") {
    throw invalid("tokenType");
  }
  let expiresAt: number;
  if (parsed.expiresAt !== undefined && parsed.expiresAt !== null) {
    if (typeof parsed.expiresAt !== "number" && typeof parsed.expiresAt !== "string")
      throw invalid("expiresAt");
    expiresAt = expiryMs(parsed.expiresAt);
  } else if (parsed.expiresIn !== undefined && parsed.expiresIn !== null) {
    if (typeof parsed.expiresIn !== "number" || !Number.isFinite(parsed.expiresIn))
      throw invalid("expiresIn");
    expiresAt = options.sentAt + parsed.expiresIn * 1000;
  } else {
    expiresAt = options.sentAt + options.defaultLifetimeMs;
  }
  const raw: Record<string, JsonValue> = {};
  if (parsed.sessionPayload !== undefined && parsed.sessionPayload !== null) {
    raw[SESSION_PAYLOAD_KEY] = parsed.sessionPayload;
  }
  return {
    accessToken: parsed.accessToken,
    tokenType: parsed.tokenType ?? "Bearer",
    expiresAt,
    refreshToken: parsed.refreshToken ?? undefined,
    raw,
  };
}
