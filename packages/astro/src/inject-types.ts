/**
 * The declarations the integration injects (`.astro/integrations/_tokenkeep_astro/types.d.ts`, which
 * Astro's tsconfig presets include): `App.Locals['tokenkeep']` and the virtual module. A global
 * script: a top-level import or export would turn it into a module and the declarations would stop
 * applying, so types are referenced with `import("...")`.
 */
export const INJECTED_TYPES = `declare namespace App {
  interface Locals {
    /** The session of this request (set by @tokenkeep/astro's middleware). */
    tokenkeep: import("@tokenkeep/astro/server").TokenkeepLocals;
    /** The API client bound to this request's session (set by @tokenkeep/astro's middleware). */
    api: import("@tokenkeep/astro/server").ApiClient;
  }
}

declare module "virtual:tokenkeep/config" {
  const config: import("@tokenkeep/astro/config").TokenkeepConfig;
  export default config;
  export const dev: boolean;
  export const base: string;
  export const routes: readonly string[];
  export const prerenderOnly: boolean;
}
`;
