import type { PatHandlerOptions } from "../handler-options";
import { createPatHandler, type PatHandler } from "../pat-handler";
import { createSqliteStore } from "../sqlite/sqlite-store";
import type { PatStore } from "../store";
import { type IssuedToken, type IssueTokenInput, issueToken } from "../token-service";
import { serve } from "./serve";

/** Options of {@link startPatServer}: the handler's options, with the store optional. */
export interface StartPatServerOptions extends Omit<PatHandlerOptions, "store"> {
  /** @default a new in-memory SQLite store, closed with the server */
  readonly store?: PatStore;
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default "127.0.0.1" */
  readonly hostname?: string;
}

/** A PAT server running in this process. */
export interface RunningPatServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`: the client's `endpoint`. */
  readonly url: string;
  readonly handler: PatHandler;
  readonly store: PatStore;
  /**
   * Issues a token straight into the store (no HTTP, no auth), hashed with the server's scrypt cost.
   * @default input `{ owner: "admin", isAdmin: true }`
   */
  issueToken(input?: IssueTokenInput): Promise<IssuedToken>;
  /** Stops the HTTP server, flushes the handler, and closes the store if it created it. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts a PAT server in-process on 127.0.0.1 and a free port: what tests of a client need.
 *
 * ```ts
 * await using server = await startPatServer({ jwtLifetimeSeconds: 5, scryptLog2Cost: 10 });
 * const { token } = await server.issueToken(); // an admin PAT
 * ```
 */
export async function startPatServer(options: StartPatServerOptions = {}): Promise<RunningPatServer> {
  const { store: givenStore, port, hostname, ...handlerOptions } = options;
  const store = givenStore ?? createSqliteStore({ path: ":memory:" });
  let handler: PatHandler;
  let served: Awaited<ReturnType<typeof serve>>;
  try {
    handler = createPatHandler({ ...handlerOptions, store });
    await handler.jwks(); // fail here, not on the first request, when the signing keys do not import
    served = await serve(handler, { port, hostname });
  } catch (error) {
    if (!givenStore) await store.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await served.close();
      await handler.close();
      if (!givenStore) await store.close();
    })();
    return closing;
  };
  return {
    url: served.url,
    handler,
    store,
    async issueToken(input = { owner: "admin", isAdmin: true }) {
      const issued = await issueToken(store, input, {
        prefix: handlerOptions.tokenPrefix,
        scryptLog2Cost: handlerOptions.scryptLog2Cost,
        now: handlerOptions.now,
      });
      if (!issued) throw new Error("A token with this id exists already");
      return issued;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
