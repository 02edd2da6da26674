import type { ResolvedPatHandlerOptions } from "../handler-options";
import type { PatStore } from "../store";
import type { JwtKeys } from "./jwt-keys";
import type { RateLimiter } from "./rate-limiter";
import type { UsageRecorder } from "./usage-recorder";
import type { VerifierCache } from "./verifier-cache";

/** What every route of one handler shares. */
export interface HandlerContext {
  readonly options: ResolvedPatHandlerOptions;
  readonly store: PatStore;
  readonly keys: () => Promise<JwtKeys>;
  readonly rateLimiter: RateLimiter | undefined;
  /**
   * scrypt verification through the handler's bounded queue: rejects with a 503 `HttpError` when
   * `maxPendingVerifications` are already waiting or running.
   */
  readonly verifySecret: (secret: Uint8Array, secretPhc: string) => Promise<boolean>;
  /** A PHC string no secret matches, at the handler's scrypt cost (unknown token ids verify against it). */
  readonly unmatchablePhc: string;
  readonly verifierCache: VerifierCache | undefined;
  readonly usage: UsageRecorder;
  readonly nowSeconds: () => number;
}
