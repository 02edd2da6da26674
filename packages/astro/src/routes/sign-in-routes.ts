/**
 * The optional injected routes `POST /_tokenkeep/login` and `POST /_tokenkeep/logout` (names
 * configurable): form posts and JSON, a same-origin check against login CSRF, a same-origin
 * `returnTo` only, 400 for a malformed body, 413 (unread) for one over 64 KiB. They call
 * `locals.tokenkeep.login()` / `logout()`.
 *
 * Form posts are answered with a 303 redirect (to `returnTo` on success; back to the same-origin
 * page that posted, else `/login`, with `?error=rejected|unavailable|server_error` on failure; both
 * fallbacks, `/` and `/login`, under the site's `base`); JSON requests with JSON. Every answer is
 * `Cache-Control: no-store`. A failure that is neither rejected credentials
 * nor the upstream's own failure (a bug, a session driver that threw, a session over
 * `cookie.maxBytes`) is also logged with `console.error`, by name and message only.
 */
import { isTokenkeepError } from "@tokenkeep/core";
import { readLimited, redactSecrets } from "@tokenkeep/core/http";
import type { APIContext } from "astro";
import { normalizeBase, underBase } from "../base-path.js";
import { DEFAULT_RETURN_TO_PARAM, DEFAULT_SIGN_IN_PATH, SIGN_IN_BODY_MAX_BYTES } from "../defaults.js";
import type { TokenkeepLocals } from "../locals.js";
import { safeReturnTo } from "../route-protection.js";
import { credentialSecrets, isSignInError } from "../sign-in-error.js";

const NO_STORE = { "cache-control": "no-store" };

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...NO_STORE },
  });
}

function redirect(location: string): Response {
  return new Response(null, { status: 303, headers: { location, ...NO_STORE } });
}

/**
 * Whether the request comes from this site: `Sec-Fetch-Site` (`same-origin`, or `none` for a
 * user-typed navigation) when the browser sends it, else `Origin` equal to the site's origin. A
 * request with neither is not a browser's cross-site post (which always carries one) and passes.
 */
export function isSameSite(request: Request, siteOrigin: string): boolean {
  const fetchSite = request.headers.get("sec-fetch-site");
  if (fetchSite !== null) return fetchSite === "same-origin" || fetchSite === "none";
  const origin = request.headers.get("origin");
  return origin === null || origin === siteOrigin;
}

type Body = { readonly kind: "json" | "form"; readonly fields: Record<string, string> };
/** Why a body was not read: a 400 (malformed) or a 413 (over the limit). */
type BodyError = { readonly error: string; readonly status: 400 | 413 };

/** The media types the routes read, by their essence (parameters such as `charset` aside). */
const FORM_TYPES = new Set(["application/x-www-form-urlencoded", "multipart/form-data"]);

/** The request's fields, or the reason it is not read (a body over {@link SIGN_IN_BODY_MAX_BYTES}: 413). */
async function readBody(request: Request): Promise<Body | BodyError> {
  const type = request.headers.get("content-type") ?? "";
  const essence = (type.split(";", 1)[0] ?? "").trim().toLowerCase();
  const json = essence === "application/json";
  if (!json && !FORM_TYPES.has(essence)) {
    await request.body?.cancel().catch(() => {});
    return {
      error: "expected application/json, application/x-www-form-urlencoded or multipart/form-data",
      status: 400,
    };
  }
  let bytes: Uint8Array<ArrayBuffer> | undefined;
  try {
    // `undefined` as soon as it declares or sends more (the rest is cancelled, never buffered).
    bytes = await readLimited(request.body, {
      maxBytes: SIGN_IN_BODY_MAX_BYTES,
      declaredLength: request.headers.get("content-length"),
    });
  } catch {
    return { error: "the body could not be read", status: 400 };
  }
  if (bytes === undefined) {
    return { error: `the request body is over ${SIGN_IN_BODY_MAX_BYTES} bytes`, status: 413 };
  }
  if (json) {
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      return { error: "the body is not valid JSON", status: 400 };
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return { error: "expected a JSON object", status: 400 };
    }
    const fields: Record<string, string> = {};
    for (const [name, field] of Object.entries(value)) {
      if (typeof field !== "string") {
        // The name only, cut short: the answer never echoes much of what was posted.
        const shown = name.length > 40 ? `${name.slice(0, 40)}...` : name;
        return { error: `field ${JSON.stringify(shown)} must be a string`, status: 400 };
      }
      fields[name] = field;
    }
    return { kind: "json", fields };
  }
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { "content-type": type } }).formData();
  } catch {
    return { error: "the form body could not be read", status: 400 };
  }
  const fields: Record<string, string> = {};
  for (const [name, field] of form) {
    if (typeof field === "string") fields[name] = field;
  }
  return { kind: "form", fields };
}

/** The answer to a body that was not read: 413 over the limit, else a 400 naming what is wrong. */
function unread(body: BodyError, what: "sign-in" | "sign-out"): Response {
  return json(body.status, {
    error: body.status === 413 ? body.error : `malformed ${what} request: ${body.error}`,
  });
}

/** Options of the injected routes. */
export interface SignInRouteOptions {
  /**
   * The site's `base` (Astro's option): the fallbacks `/` and `/login` are resolved under it.
   * @default ""
   */
  readonly base?: string | undefined;
  /**
   * The sign-in page (the config's `protect.signInPath`): where a failed form sign-in goes back to
   * when the posting page is unknown.
   * @default "/login"
   */
  readonly signInPath?: string | undefined;
  /**
   * The query parameter the sign-in page reads its `returnTo` from (the config's
   * `protect.returnToParam`, which route protection's redirect uses too): a failed form sign-in
   * sends the posted `returnTo` back under this name.
   * @default "returnTo"
   */
  readonly returnToParam?: string | undefined;
}

/** What the injected routes read of the user's config module (`protect.signInPath`). */
export type SignInPathSource =
  | { readonly protect?: { readonly signInPath?: string; readonly returnToParam?: string } }
  | undefined;

/** The fallbacks of a site served under `base`, and the sign-in page's `returnTo` parameter. */
function fallbacks(options: SignInRouteOptions): {
  readonly home: string;
  readonly login: string;
  readonly returnToParam: string;
} {
  const base = normalizeBase(options.base);
  return {
    home: underBase("/", base),
    login: underBase(options.signInPath ?? DEFAULT_SIGN_IN_PATH, base),
    returnToParam: options.returnToParam ?? DEFAULT_RETURN_TO_PARAM,
  };
}

/** Where a failed form sign-in goes back to: the same-origin page that posted, else `/login`. */
function backTo(
  request: Request,
  siteOrigin: string,
  error: string,
  returnTo: string | undefined,
  paths: ReturnType<typeof fallbacks>,
): string {
  const referer = URL.parse(request.headers.get("referer") ?? "");
  const page = referer !== null && referer.origin === siteOrigin ? referer.pathname : paths.login;
  const query = new URLSearchParams({ error });
  if (returnTo !== undefined) query.set(paths.returnToParam, safeReturnTo(returnTo, paths.home));
  return `${safeReturnTo(page, paths.login)}?${query}`;
}

/** `error` by name, code and message: what a log may show (never a credential or a token). */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const message = error.message.replace(/^@tokenkeep\/astro: /, ""); // the line starts with it already
  return `${error.name}${typeof code === "string" ? ` (${code})` : ""}: ${message}`;
}

/**
 * Logs a failed sign-in that no answer of the upstream explains (the form only says "unavailable"):
 * not a rejection, and not one of the upstream's operational errors (which `onEvent` reports as
 * `sign-in-failure`). A custom upstream's error may quote what it was sent: every posted value is
 * redacted from the line, in clear and encoded.
 */
function reportUnexpected(error: unknown, posted: readonly string[]): void {
  if (isSignInError(error)) {
    if (error.code === "ERR_TOKENKEEP_SIGN_IN_REJECTED") return;
    // A session over cookie.maxBytes is the site's configuration: its cause names the option to change.
    const configuration = error.code === "ERR_TOKENKEEP_SIGN_IN_SESSION_TOO_LARGE";
    if (!configuration && isTokenkeepError(error.cause)) return;
    error = error.cause;
  }
  console.error(`@tokenkeep/astro: sign-in failed: ${redactSecrets(describeError(error), posted)}`);
}

/**
 * How the route answers a failed `login()`: rejected credentials 401; a session over
 * `cookie.maxBytes` 500, since trying again fails the same way until the site's configuration changes
 * (the log line says which option); anything else 503, worth trying again later.
 */
function failureOf(error: unknown): {
  readonly reason: "rejected" | "server_error" | "unavailable";
  readonly status: number;
  readonly error: string;
  readonly message: string;
} {
  const code = isSignInError(error) ? error.code : undefined;
  if (code === "ERR_TOKENKEEP_SIGN_IN_REJECTED") {
    const message = "the credentials were not accepted";
    return { reason: "rejected", status: 401, error: "invalid_credentials", message };
  }
  if (code === "ERR_TOKENKEEP_SIGN_IN_SESSION_TOO_LARGE") {
    const message = "sign-in failed on the server (its log says why)";
    return { reason: "server_error", status: 500, error: "server_error", message };
  }
  const message = "sign-in is unavailable, try again later";
  return { reason: "unavailable", status: 503, error: "unavailable", message };
}

function tokenkeepOf(context: APIContext): TokenkeepLocals | undefined {
  return (context.locals as { tokenkeep?: TokenkeepLocals }).tokenkeep;
}

/** `POST /_tokenkeep/login`: the credentials are every field but `returnTo`. */
export async function loginRoute(context: APIContext, options: SignInRouteOptions = {}): Promise<Response> {
  const { request } = context;
  const paths = fallbacks(options);
  const siteOrigin = context.url.origin;
  if (!isSameSite(request, siteOrigin)) return json(403, { error: "cross-site sign-in is refused" });
  const body = await readBody(request);
  if ("error" in body) return unread(body, "sign-in");
  const { returnTo, ...credentials } = body.fields;
  if (Object.keys(credentials).length === 0) {
    return json(400, { error: "malformed sign-in request: no credentials" });
  }
  const tokenkeep = tokenkeepOf(context);
  if (tokenkeep === undefined) return json(500, { error: "the tokenkeep middleware did not run" });
  try {
    const result = await tokenkeep.login(credentials);
    if (body.kind === "form") return redirect(safeReturnTo(returnTo, paths.home));
    return json(200, {
      signedIn: true,
      sessionPayload: result.sessionPayload ?? null,
      expiresAt: result.expiresAt,
    });
  } catch (error) {
    reportUnexpected(error, credentialSecrets(credentials));
    const failure = failureOf(error);
    if (body.kind === "form") return redirect(backTo(request, siteOrigin, failure.reason, returnTo, paths));
    return json(failure.status, { error: failure.error, message: failure.message });
  }
}

/** `POST /_tokenkeep/logout`: ends the session (cookies cleared even when the upstream is down). */
export async function logoutRoute(context: APIContext, options: SignInRouteOptions = {}): Promise<Response> {
  const { request } = context;
  if (!isSameSite(request, context.url.origin)) return json(403, { error: "cross-site sign-out is refused" });
  const type = request.headers.get("content-type");
  const body = type === null ? { kind: "form" as const, fields: {} } : await readBody(request);
  if ("error" in body) return unread(body, "sign-out");
  const tokenkeep = tokenkeepOf(context);
  if (tokenkeep === undefined) return json(500, { error: "the tokenkeep middleware did not run" });
  const result = await tokenkeep.logout();
  if (body.kind === "form") return redirect(safeReturnTo(body.fields.returnTo, fallbacks(options).home));
  return json(200, { signedOut: true, revoked: result.revoked });
}
