import { leftOrigin } from "./http-auth.js";

/**
 * Whether an answer to a request that carried our token says the token itself is bad, so a new one
 * may help: a 401 from the request's origin whose `WWW-Authenticate` challenge for the scheme the
 * token went out with (`Bearer`, `DPoP`) names no `error`, or `invalid_token` (RFC 6750 section 3.1,
 * RFC 9449 section 7.1). Any other error of that challenge is about the request, not the token:
 * `invalid_dpop_proof`, a `use_dpop_nonce` the proof's one retry could not satisfy, `invalid_request`,
 * `insufficient_scope`. A 401 without a challenge for that scheme (no header, only another
 * scheme's) rejects the token, as most APIs mean it. Shared by `createAuthFetch` and `createKyHooks`.
 */
export function rejectsToken(response: Response, url: URL, scheme: string): boolean {
  if (response.status !== 401 || leftOrigin(response, url)) return false;
  let current = "";
  let error: string | undefined;
  // A bare token starts a challenge (or is its token68); `name=value` is a parameter of the last one.
  for (const [, name = "", value] of (response.headers.get("www-authenticate") ?? "").matchAll(
    /([^\s=,]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*))?/g,
  )) {
    if (value === undefined) current = name.toLowerCase();
    else if (current === scheme.toLowerCase() && name.toLowerCase() === "error") error ??= value;
  }
  return error === undefined || /^"?invalid_token"?$/.test(error);
}
