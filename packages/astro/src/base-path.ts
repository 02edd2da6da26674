/**
 * The site's `base` (Astro's `base` option, e.g. `/app`): `context.url.pathname` includes it, while
 * `protect.paths` and `protect.signInPath` are written as the site's own paths, below it. The
 * integration hands the base to the runtime through its virtual module; these helpers translate.
 */

/**
 * A base as the helpers below take it: `""` for the root, else one leading slash and no trailing one
 * (`"/app/"` and `"app"` become `"/app"`).
 */
export function normalizeBase(base: string | undefined): string {
  const trimmed = (base ?? "").replace(/^\/+|\/+$/g, "");
  return trimmed === "" ? "" : `/${trimmed}`;
}

/**
 * `pathname` as a path below `base` (`/app/account` -> `/account`, `/app` -> `/`). A path outside the
 * base is returned unchanged, so patterns still match it as written (protection never loosens).
 */
export function pathBelowBase(pathname: string, base: string): string {
  if (base === "") return pathname;
  if (pathname === base) return "/";
  return pathname.startsWith(`${base}/`) ? pathname.slice(base.length) : pathname;
}

/** The site's path `path` (`/login`) as the browser requests it (`/app/login`). */
export function underBase(path: string, base: string): string {
  return base === "" ? path : `${base}${path}`;
}

/**
 * The problems of protect settings written with the base in them (`/app/account/*` on a site with
 * `base: "/app"`): matched below the base, such a pattern would protect `/app/app/account/...` only,
 * leaving the pages it names open (or, in `exclude`, protected), so it is refused rather than read.
 * Empty for the root.
 */
export function baseInProtect(
  protect: {
    readonly paths: readonly string[];
    readonly exclude?: readonly string[] | undefined;
    readonly signInPath: string;
  },
  base: string,
): string[] {
  if (base === "") return [];
  const hasBase = (path: string) => path === base || path.startsWith(`${base}/`);
  // An exclusion written with the base would keep protected the pages it names.
  const problems = (["paths", "exclude"] as const).flatMap((key) =>
    (protect[key] ?? []).flatMap((pattern, index) =>
      hasBase(pattern)
        ? [
            `protect.${key}.${index}: ${pattern} includes Astro's base (${base}); write it without the base: ${pathBelowBase(pattern, base)}`,
          ]
        : [],
    ),
  );
  if (hasBase(protect.signInPath)) {
    problems.push(
      `protect.signInPath: ${protect.signInPath} includes Astro's base (${base}); write it without the base: ${pathBelowBase(protect.signInPath, base)}`,
    );
  }
  return problems;
}
