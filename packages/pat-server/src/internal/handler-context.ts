import type { ResolvedPatHandlerOptions } from "../handler-options";
import type { PatStore } from "../store";
import type { JwtKeys } from "./jwt-keys";
import type { RateLimiter } from "./rate-limiter";
import type { UsageRecorder } from "./usage-recorder";

/** What every route of one handler shares. */
export interface HandlerContext {
  readonly options: ResolvedPatHandlerOptions;
  readonly store: PatStore;
  readonly keys: () => Promise<JwtKeys>;
  readonly rateLimiter: RateLimiter | undefined;
  readonly usage: UsageRecorder;
  readonly nowSeconds: () => number;
}
