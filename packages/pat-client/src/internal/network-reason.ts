/**
 * Why a request got no answer (read as @tokenkeep/grants reads it), from the runtime's error: Node's
 * `fetch` throws
 * `TypeError("fetch failed")` whose `cause` (or the cause's cause, or one of an `AggregateError`'s
 * errors) carries a system code such as `ECONNREFUSED`. Only the code is kept: a runtime's message
 * may quote a URL with its query string.
 */

const DESCRIPTIONS: Readonly<Record<string, string>> = {
  ENOTFOUND: "host not found",
  EAI_AGAIN: "DNS lookup failed",
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EPIPE: "connection closed while sending",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  UND_ERR_SOCKET: "connection closed by the server",
};

/** A network failure's code and what it means. */
export interface NetworkReason {
  /** The runtime's code (`ECONNREFUSED`, `ENOTFOUND`, `CERT_HAS_EXPIRED`...). */
  readonly code: string;
  /** What it means, for a message (`connection refused`, `TLS failure`). */
  readonly description: string;
}

function codeOf(value: unknown, depth: number): string | undefined {
  if (typeof value !== "object" || value === null || depth > 5) return undefined;
  const { code } = value as { code?: unknown };
  if (typeof code === "string" && /^[A-Z][A-Z0-9_]+$/.test(code) && code !== "ERR_TOKENKEEP_NETWORK") {
    return code;
  }
  const { errors } = value as { errors?: unknown };
  if (Array.isArray(errors)) {
    for (const inner of errors) {
      const found = codeOf(inner, depth + 1);
      if (found) return found;
    }
  }
  return codeOf((value as { cause?: unknown }).cause, depth + 1);
}

const TLS_CODE = /CERT|SSL|TLS|HANDSHAKE|SELF_SIGNED|ALTNAME|UNABLE_TO_(GET|VERIFY)/;

/** The reason of a network failure, or `undefined` when the runtime gave no code. */
export function networkReason(error: unknown): NetworkReason | undefined {
  const code = codeOf(error, 0);
  if (code === undefined) return undefined;
  const description = DESCRIPTIONS[code] ?? (TLS_CODE.test(code) ? "TLS failure" : "network error");
  return { code, description };
}

/** An endpoint as errors name it: origin and path, never a query string, fragment or credentials. */
export function endpointOf(url: string): string {
  const parsed = URL.parse(url);
  return parsed ? `${parsed.origin}${parsed.pathname}` : "the server";
}
