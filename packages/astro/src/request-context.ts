/**
 * The per-request state, reachable from library code without passing Astro's context: an
 * `AsyncLocalStorage` kept on `globalThis` under `Symbol.for(...)`, so every copy of this module a
 * bundler may produce shares one, and entered with `run` (never `enterWith`) around `next()`.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { ApiSession } from "./api/client.js";
import type { TokenkeepLocals } from "./locals.js";

const KEY = Symbol.for("tokenkeep.astro.request-context");

/** What the middleware binds for the rest of the request. */
export interface RequestContext {
  readonly locals: TokenkeepLocals;
  /** The session as the API client sees it (renewed after a 401 while cookies can still be set). */
  readonly api: ApiSession;
}

type Holder = { [KEY]?: AsyncLocalStorage<RequestContext> };

/** This copy's handle on the process-wide storage (looked up on `globalThis` once, not per call). */
let storage: AsyncLocalStorage<RequestContext> | undefined;

/** The process-wide storage. */
export function requestStorage(): AsyncLocalStorage<RequestContext> {
  if (storage !== undefined) return storage;
  const holder = globalThis as Holder;
  holder[KEY] ??= new AsyncLocalStorage<RequestContext>();
  storage = holder[KEY];
  return storage;
}

/** The state of the request being handled, when inside the middleware's `next()`. */
export function currentRequest(): RequestContext | undefined {
  return requestStorage().getStore();
}
