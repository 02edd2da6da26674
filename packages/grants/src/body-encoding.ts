/**
 * How request parameters travel in the body.
 *
 * - `form`: `application/x-www-form-urlencoded`, as RFC 6749 requires; arrays repeat the key
 *   (`resource=a&resource=b`, RFC 8707).
 * - `json`: `application/json`, for endpoints that only accept JSON; arrays stay arrays.
 */
export type BodyEncoding = "form" | "json";

/** Request parameters by name; `undefined` values are left out, arrays are repeated or kept. */
export type RequestParams = Record<string, string | readonly string[] | undefined>;

/** An encoded request body and its media type. */
export interface EncodedBody {
  readonly body: string;
  readonly contentType: string;
}

/** Encodes `params` as a form or a JSON object, dropping `undefined` values. */
export function encodeBody(params: RequestParams, encoding: BodyEncoding): EncodedBody {
  if (encoding === "json") {
    const object: Record<string, string | readonly string[]> = {};
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined) object[key] = value;
    }
    return { body: JSON.stringify(object), contentType: "application/json" };
  }
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    for (const item of typeof value === "string" ? [value] : value) form.append(key, item);
  }
  return { body: form.toString(), contentType: "application/x-www-form-urlencoded;charset=UTF-8" };
}
