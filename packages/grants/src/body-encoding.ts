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
  // JSON.stringify leaves out `undefined` members by itself.
  if (encoding === "json") return { body: JSON.stringify(params), contentType: "application/json" };
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const item of [value ?? []].flat()) form.append(key, item);
  }
  return { body: form.toString(), contentType: "application/x-www-form-urlencoded;charset=UTF-8" };
}
