import { readLimited } from "@tokenkeep/core/http";
import type { ApiError } from "@tokenkeep/pat-protocol";

/**
 * The content type of every JSON body we send, without parameters: JSON is UTF-8 by definition
 * (RFC 8259 section 8.1), and the `@access-tokens` client reads an error body only when the type is
 * exactly `application/json`.
 */
export const JSON_CONTENT_TYPE = "application/json";

/** A failure that maps to one protocol-shaped error response. Never carries a secret. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  readonly status: number;
  readonly code: string | undefined;
  readonly details: string | Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    status: number,
    message: string,
    extra: {
      code?: string;
      details?: string | Record<string, unknown>;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.status = status;
    this.code = extra.code;
    this.details = extra.details;
    this.headers = extra.headers;
  }
}

/** A JSON response with our content type. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": JSON_CONTENT_TYPE, "cache-control": "no-store", ...headers },
  });
}

/** An empty response (204). */
export function emptyResponse(status = 204): Response {
  return new Response(null, { status, headers: { "cache-control": "no-store" } });
}

/** The protocol's error body for an {@link HttpError}. */
export function errorResponse(error: HttpError): Response {
  const body: ApiError = {
    error: {
      message: error.message,
      ...(error.code !== undefined && { code: error.code }),
      ...(error.details !== undefined && { details: error.details }),
    },
  };
  return jsonResponse(error.status, body, error.headers);
}

/** The media type of a `Content-Type` header, lowercased, without parameters; `""` when absent. */
export function mediaType(request: Request): string {
  return (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
}

/** True for `application/json` and `application/<x>+json`. */
export function isJsonMediaType(type: string): boolean {
  return type === "application/json" || /^application\/[a-z0-9.!#$&^_-]+\+json$/.test(type);
}

/** Reads the body up to `maxBytes`; more is a 413, whatever `Content-Length` claims. */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  // A declared length over the limit is a 413 with the body left alone, as before `readLimited`
  // (which would cancel it): an adapter that maps a cancel to destroying the socket could lose the
  // answer. Only a body that turns out larger than it said is cancelled.
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  const body = await readLimited(request.body, { maxBytes });
  if (body === undefined) throw tooLarge(maxBytes);
  return body;
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(413, "Request body too large", {
    code: "ERR_BODY_TOO_LARGE",
    details: `at most ${maxBytes} bytes`,
  });
}

/** An unsupported content type (415). */
export function unsupportedMediaType(expected: string): HttpError {
  return new HttpError(415, "Unsupported content type", {
    code: "ERR_UNSUPPORTED_MEDIA_TYPE",
    details: `expected ${expected}`,
  });
}

/**
 * Reads a JSON body. An empty body is `emptyValue` when given, else a 400; a non-empty body must have a
 * JSON media type (415 otherwise) and parse (400 otherwise).
 */
export async function readJsonBody(
  request: Request,
  maxBytes: number,
  emptyValue?: unknown,
): Promise<unknown> {
  const type = mediaType(request);
  if (type !== "" && !isJsonMediaType(type)) throw unsupportedMediaType("application/json");
  const bytes = await readBody(request, maxBytes);
  if (bytes.byteLength === 0) {
    if (emptyValue !== undefined) return emptyValue;
    throw new HttpError(400, "Invalid request body", {
      code: "ERR_VALIDATION",
      details: "A JSON object is required",
    });
  }
  if (type === "") throw unsupportedMediaType("application/json");
  return parseJson(bytes);
}

/** Parses JSON bytes; a failure is a 400 that does not echo the input. */
export function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new HttpError(400, "Invalid JSON body", { code: "ERR_INVALID_JSON" });
  }
}
