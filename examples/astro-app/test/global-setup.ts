// Builds the example once for every test file (Astro's programmatic build()); each file starts it.
// It writes dist/ as the package's own build task does: turbo runs that task first (turbo.json:
// test depends on build), since the two at once broke each other's build (a prerender chunk one
// of them had just removed).
import { build } from "astro";
import { root } from "./helpers.ts";

export default async function setup(): Promise<void> {
  process.env.ASTRO_TELEMETRY_DISABLED = "1";
  await build({ root, logLevel: "error" });
}
