// This instance's rotation counters as JSON (no session needed, nothing secret), for /account/shared
// on the other instance.
import { stats } from "@tokenkeep/astro/server";
import type { APIRoute } from "astro";

export const GET: APIRoute = () =>
  Response.json(
    { instance: process.env.INSTANCE_NAME ?? "site", ...stats() },
    { headers: { "cache-control": "no-store" } },
  );
