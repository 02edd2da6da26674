// Served by the integration's Vite plugin (see ../vite-plugin.ts); typed here for this package's build.
declare module "virtual:tokenkeep/config" {
  const config: unknown;
  export default config;
  /** Whether the server runs under `astro dev`. */
  export const dev: boolean;
  /** The site's `base`, normalized (`""` or `/app`). */
  export const base: string;
  /** The routes the integration injected (sign-in, sign-out), below the base. */
  export const routes: readonly string[];
  /** Whether this copy renders prerendered pages at build time only (`default` is then undefined). */
  export const prerenderOnly: boolean;
}
