import { createContext } from "astro/middleware";

/** A real Astro `APIContext` for `url`, carrying `cookies` (a `Cookie` header), as Astro builds it per request. */
export function makeContext(
  url: string,
  options: {
    cookies?: Record<string, string>;
    headers?: Record<string, string>;
    method?: string;
    /** The request's locals: pass another context's to stand for Astro's rewrite, which keeps them. */
    locals?: App.Locals;
  } = {},
) {
  const headers = new Headers(options.headers);
  const cookie = Object.entries(options.cookies ?? {})
    .map(([name, value]) => `${name}=${value}`)
    .join("; ");
  if (cookie !== "") headers.set("cookie", cookie);
  const request = new Request(url, { method: options.method ?? "GET", headers });
  return createContext({
    request,
    params: {},
    defaultLocale: "en",
    locals: options.locals ?? ({} as App.Locals),
  });
}

/** The `Set-Cookie` headers a context's cookies produced. */
export function setCookies(context: { cookies: { headers(): Iterable<string> } }): string[] {
  return [...context.cookies.headers()];
}

/** name -> value of the cookies a list of `Set-Cookie` headers sets (deletions have the value "deleted"). */
export function cookieValues(headers: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const header of headers) {
    const [pair] = header.split(";");
    const index = pair!.indexOf("=");
    out[pair!.slice(0, index)] = pair!.slice(index + 1);
  }
  return out;
}
