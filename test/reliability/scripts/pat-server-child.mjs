// One pat-server instance as a real process, for the PostgreSQL fault tests and the soak: the
// handler of @tokenkeep/pat-server on createPostgresStore (or createSqliteStore), served by its
// `serve` on 127.0.0.1 and a free port. It prints `listening on <url>` once ready. Configured by
// environment (never a secret on the command line): PAT_CHILD_PG_URL and PAT_CHILD_PG_SCHEMA, or
// PAT_CHILD_SQLITE (a file); PAT_CHILD_SIGNING_KEYS (JSON array, shared by every instance).
// scrypt cost 10 (tests only) and no rate limit: the load comes from one address.
import { createPatHandler } from "@tokenkeep/pat-server";
import { serve } from "@tokenkeep/pat-server/node";

const env = process.env;
const store = env.PAT_CHILD_SQLITE
  ? (await import("@tokenkeep/pat-server/sqlite")).createSqliteStore({ path: env.PAT_CHILD_SQLITE })
  : (await import("@tokenkeep/pat-server/postgres")).createPostgresStore({
      connectionString: env.PAT_CHILD_PG_URL,
      schema: env.PAT_CHILD_PG_SCHEMA,
    });
const handler = createPatHandler({
  store,
  signingKeys: JSON.parse(env.PAT_CHILD_SIGNING_KEYS ?? "[]"),
  scryptLog2Cost: 10,
  rateLimit: false,
  // What a deployment logs: the error's name and message (never a request, which holds a PAT).
  onError: ({ error, method, path }) =>
    console.error(
      `pat-server error ${method ?? ""} ${path ?? ""}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    ),
});
const served = await serve(handler, { port: 0, hostname: "127.0.0.1" });
console.log(`listening on ${served.url}`);

// Memory figures for the soak, on request (the parent sends SIGUSR2, the answer is one line).
// Started with --expose-gc: a full collection first, so growth means something kept.
process.on("SIGUSR2", () => {
  globalThis.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  console.log(`memory rss=${rss} heapUsed=${heapUsed}`);
});
process.on("SIGTERM", async () => {
  await served.close();
  await handler.close();
  await store.close();
  process.exit(0);
});
