// Builds the example once for every test file (Astro's programmatic build()); each file starts it.
import { build } from "astro";
import { root } from "./helpers.ts";

export default async function setup(): Promise<void> {
  process.env.ASTRO_TELEMETRY_DISABLED = "1";
  await build({ root, logLevel: "error" });
}
