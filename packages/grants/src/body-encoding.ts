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

/**
 * Encodes `params` as a form or a JSON object, dropping `undefined` values, and sets the matching
 * `content-type` in `headers`. Returns the body.
 */
export function encodeBody(
  params: RequestParams,
  encoding: BodyEncoding,
  headers: Record<string, string>,
): string {
  const json = encoding === "json";
  headers["content-type"] = json ? "application/json" : "application/x-www-form-urlencoded;charset=UTF-8";
  // JSON.stringify leaves out `undefined` members by itself.
  if (json) return JSON.stringify(params);
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const item of [value ?? []].flat()) form.append(key, item);
  }
  return form.toString();
}
