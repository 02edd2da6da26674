/**
 * Route protection: paths that need a session redirect a page request to the sign-in page (with a
 * `returnTo`) and answer 401 to anything else. Redirects are relative, so no origin is derived from
 * the request (behind a proxy Astro may see `http://localhost`); `returnTo` accepts only same-origin
 * paths, so a crafted link cannot send a user elsewhere after sign-in.
 */

/** Whether `pathname` falls under one of `paths` (exact, or a `/prefix/*` pattern). */
export function isProtected(pathname: string, paths: readonly string[]): boolean {
  return paths.some((pattern) => {
    if (pattern.endsWith("/*")) {
      const base = pattern.slice(0, -2);
      return pathname === base || pathname.startsWith(`${base}/`);
    }
    return pathname === pattern || pathname === `${pattern}/`;
  });
}

/**
 * Whether `pathname` needs a session: it falls under `paths` and under none of `exclude` (an
 * exclusion wins over any protected pattern).
 */
export function requiresSession(
  pathname: string,
  protect: { readonly paths: readonly string[]; readonly exclude?: readonly string[] | undefined },
): boolean {
  return isProtected(pathname, protect.paths) && !isProtected(pathname, protect.exclude ?? []);
}

/** A path `pattern` surely matches: the prefix itself for `/prefix/*` (`/` for `/*`), else the path. */
function anchorOf(pattern: string): string {
  return pattern.endsWith("/*") ? pattern.slice(0, -2) || "/" : pattern;
}

/** Whether every path `inner` matches is matched by `outer` too. */
export function patternCovers(outer: string, inner: string): boolean {
  return outer.endsWith("/*") ? isProtected(anchorOf(inner), [outer]) : outer === inner;
}

/** Whether some path matches both patterns (exact paths and `/prefix/*` patterns). */
export function patternsOverlap(a: string, b: string): boolean {
  return isProtected(anchorOf(a), [b]) || isProtected(anchorOf(b), [a]);
}

/**
 * A same-origin path to return to, or `fallback`: only values that start with one `/`, stay on
 * `origin` once resolved, still start with one `/` once their dot segments are resolved, and carry
 * no control characters are accepted (`//evil.test`, `/\evil.test`, `/.//evil.test`,
 * `https://evil.test` and `javascript:` are not). The value returned is the resolved one.
 */
export function safeReturnTo(value: string | null | undefined, fallback = "/"): string {
  if (
    typeof value !== "string" ||
    !value.startsWith("/") ||
    value.startsWith("//") ||
    value.startsWith("/\\")
  ) {
    return fallback;
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return fallback;
  const base = "http://same-origin.invalid";
  const url = URL.parse(value, base);
  if (url === null || url.origin !== base) return fallback;
  // Dot segments are resolved: `/.//evil.test` comes out as `//evil.test`, another origin to a browser.
  const path = url.pathname + url.search + url.hash;
  return path.startsWith("//") ? fallback : path;
}

/** The answer to a request without a session on a protected path. */
export function denyAccess(
  request: Request,
  url: URL,
  options: { readonly signInPath: string; readonly returnToParam: string },
): Response {
  const page =
    (request.method === "GET" || request.method === "HEAD") &&
    (request.headers.get("accept") ?? "").includes("text/html");
  if (!page) {
    return new Response(JSON.stringify({ error: "unauthorized" }), {
      status: 401,
      headers: { "content-type": "application/json", "cache-control": "no-store" },
    });
  }
  const returnTo = safeReturnTo(url.pathname + url.search);
  const location = `${options.signInPath}?${new URLSearchParams({ [options.returnToParam]: returnTo })}`;
  return new Response(null, { status: 302, headers: { location, "cache-control": "no-store" } });
}
