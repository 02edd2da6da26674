import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type ExportedJWKSCache,
  errors,
  type JSONWebKeySet,
  type JWKSCacheInput,
  type JWTVerifyGetKey,
  jwksCache,
  jwtVerify,
} from "jose";
import * as z from "zod";
import {
  DEFAULT_ISSUER,
  DEFAULT_JWKS_ERROR_REPORT_INTERVAL_MS,
  DEFAULT_JWKS_RECOVERY_PROBE_INTERVAL_MS,
  DEFAULT_JWKS_RETRY_AFTER_SECONDS,
} from "./defaults";
import { type AccessRequirement, authenticate } from "./internal/authenticate";
import { errorResponse, HttpError } from "./internal/http";
import { parseOptions } from "./internal/options";
import { createOutageReports, outageMs, tell } from "./internal/outage-reports";
import type { PatAuthResult } from "./pat-handler";

/** Options of {@link createPatGuard}. */
export interface PatGuardOptions {
  /**
   * The PAT server's public keys: the URL of its JWKS document (fetched and cached, refetched for an
   * unknown `kid`), or the document itself.
   */
  readonly jwks: URL | JSONWebKeySet;
  /**
   * The `iss` the PAT server signs with.
   * @default "tokenkeep-pat-server"
   */
  readonly issuer?: string;
  /** Clock in epoch milliseconds (token expiry, and the spacing of `onError` reports). @default Date.now */
  readonly now?: () => number;
  /**
   * Called when the JWKS document cannot be fetched (the request then answers 503): unreachable, too
   * slow, a status other than 200, or a body that is no JWKS. Not once per request: at the first
   * failure of an outage, then at most once per `errorReportIntervalMs` while it lasts, with
   * `failures`, the requests it has failed so far (this one included). An outage ends when the document
   * is fetched again (`onRecover`); the next failure starts a new one and is reported at once. A
   * listener that throws, or rejects, changes no answer.
   * @default logs the error's name and message, and the failures, to `console.error`
   */
  readonly onError?: (state: JwksErrorState) => void;
  /**
   * Called once when the JWKS document is fetched again after an outage reported to `onError`, with
   * the requests it failed and how long it lasted (from its first failure). That is at most
   * `recoveryProbeIntervalMs` after the PAT server serves it again, as long as requests arrive.
   * @default logs one line to `console.info`
   */
  readonly onRecover?: (state: JwksRecoveryState) => void;
  /**
   * While an outage lasts, requests verified with the keys cached before it (a token of a known `kid`)
   * fetch nothing themselves; the first of them at least this long, in milliseconds, after the last
   * fetch attempt starts one in the background (the request does not wait for it), so the outage's end
   * is seen, and told to `onRecover`, within this interval rather than at the cache's expiry (jose's 10
   * minutes). A failed attempt fails no request and is not reported; `0` tries at every such request
   * (one fetch at a time).
   * @default 30000
   */
  readonly recoveryProbeIntervalMs?: number;
  /**
   * Least time between two `onError` reports of the same outage, in milliseconds; `0` reports every
   * failed request.
   * @default 60000
   */
  readonly errorReportIntervalMs?: number;
}

/** What {@link PatGuardOptions.onError} is told. */
export interface JwksErrorState {
  /** Why the document could not be fetched this time. */
  readonly error: unknown;
  /** Requests this outage has failed so far, this one included (1 in its first report). */
  readonly failures: number;
}

/** What {@link PatGuardOptions.onRecover} is told. */
export interface JwksRecoveryState {
  /** Requests the outage failed. */
  readonly failures: number;
  /** From the outage's first failure to the request that found the keys again, in milliseconds. */
  readonly outageMs: number;
}

/** Verifies JWTs of a PAT server in another process, for an API's own routes. */
export interface PatGuard {
  /**
   * Checks `Authorization: Bearer <JWT>` and the requirement (`admin`, `role`). A bad token answers 401
   * or 403; a JWKS document that cannot be fetched answers 503 with `Retry-After`.
   */
  authenticate(request: Request, requirement?: AccessRequirement): Promise<PatAuthResult>;
}

const optionsSchema = z.object({
  jwks: z.union([z.instanceof(URL), z.looseObject({ keys: z.array(z.record(z.string(), z.unknown())) })]),
  issuer: z.string().min(1).default(DEFAULT_ISSUER),
  now: z.custom<() => number>((value) => typeof value === "function").optional(),
  onError: z.custom<(state: JwksErrorState) => void>((value) => typeof value === "function").optional(),
  onRecover: z.custom<(state: JwksRecoveryState) => void>((value) => typeof value === "function").optional(),
  errorReportIntervalMs: z.int().nonnegative().default(DEFAULT_JWKS_ERROR_REPORT_INTERVAL_MS),
  recoveryProbeIntervalMs: z.int().nonnegative().default(DEFAULT_JWKS_RECOVERY_PROBE_INTERVAL_MS),
});

/**
 * True when the key lookup failed because the JWKS document could not be fetched or read, not because
 * of the token: jose's timeout, a document that is no JWKS (or holds no public keys), its generic error
 * for a status other than 200 or a body that is not JSON, and `fetch`'s own failures (refused, DNS,
 * TLS), which are not JOSE errors. A token whose `kid` matches no key (`ERR_JWKS_NO_MATCHING_KEY`),
 * or that matches several, is the token's fault.
 */
function isJwksUnavailable(error: unknown): boolean {
  if (!(error instanceof errors.JOSEError)) return true;
  return ["ERR_JWKS_TIMEOUT", "ERR_JWKS_INVALID", "ERR_JOSE_GENERIC"].includes(error.code);
}

function defaultOnError({ error, failures }: JwksErrorState): void {
  const { name, message } = error instanceof Error ? error : { name: "Error", message: String(error) };
  const count = failures === 1 ? "" : ` (${failures} requests failed so far)`;
  console.error(`[tokenkeep/pat-server] createPatGuard: JWKS unavailable: ${name}: ${message}${count}`);
}

function defaultOnRecover({ failures, outageMs }: JwksRecoveryState): void {
  const seconds = Math.round(outageMs / 1000);
  console.info(
    `[tokenkeep/pat-server] createPatGuard: JWKS available again after ${failures} failed request${failures === 1 ? "" : "s"} over ${seconds} s`,
  );
}

/**
 * Creates a route guard for an API that trusts a PAT server: JWT signature (from the server's JWKS),
 * issuer, expiry, then the `admin` claim or a role. Answers the protocol's 401/403 error bodies for a
 * bad token, and 503 (`ERR_JWKS_UNAVAILABLE`, with `Retry-After`) while the JWKS document cannot be
 * fetched, so clients keep their JWT and retry later rather than exchange their PAT again.
 * Revocation reaches such an API only when the JWT expires: keep `jwtLifetimeSeconds` short.
 * @throws TypeError with code `ERR_TOKENKEEP_INVALID_OPTIONS` for bad options.
 */
export function createPatGuard(options: PatGuardOptions): PatGuard {
  const parsed = parseOptions(optionsSchema, options, "createPatGuard");
  const now = parsed.now ?? (() => Date.now());
  const keySet: JWTVerifyGetKey =
    parsed.jwks instanceof URL
      ? remoteKeys(parsed.jwks, {
          onError: parsed.onError ?? defaultOnError,
          onRecover: parsed.onRecover ?? defaultOnRecover,
          intervalMs: parsed.errorReportIntervalMs,
          probeIntervalMs: parsed.recoveryProbeIntervalMs,
          now,
        })
      : createLocalJWKSet(parsed.jwks as JSONWebKeySet);
  const verify = async (jwt: string) =>
    (
      await jwtVerify(jwt, keySet, {
        issuer: parsed.issuer,
        algorithms: ["EdDSA", "RS256"],
        typ: "JWT",
        currentDate: new Date(now()),
      })
    ).payload;
  return {
    async authenticate(request, requirement = {}) {
      try {
        return { ok: true, claims: await authenticate(request, verify, requirement) };
      } catch (error) {
        if (error instanceof HttpError) return { ok: false, response: errorResponse(error) };
        throw error;
      }
    },
  };
}

/** How {@link remoteKeys} reports outages. */
interface OutageReporting {
  readonly onError: (state: JwksErrorState) => void;
  readonly onRecover: (state: JwksRecoveryState) => void;
  readonly intervalMs: number;
  readonly probeIntervalMs: number;
  readonly now: () => number;
}

/** What the guard keeps with an outage of the JWKS document (see {@link createOutageReports}). */
interface JwksOutage {
  /** The document jose held when the outage began: a fetch that succeeds replaces it. */
  readonly keys: unknown;
  /** When the document was last asked for: a request's failed fetch, or a probe. */
  attemptedAt: number;
}

/**
 * The remote key set, with a failure to fetch the document turned into a 503 (never a 401) and
 * reported per outage, not per request. The outage ends with a successful fetch, seen through jose's
 * cache object (it writes each fetched document there): a key found among those cached before the
 * outage (a token of a known `kid`, while one of an unknown `kid` needs a fetch that fails) does not
 * end it. Such a request fetches nothing (jose fetches again only for an unknown `kid` or at its
 * cache's expiry), so while an outage lasts the first of them per `probeIntervalMs` starts a fetch in
 * the background, whose success ends the outage.
 */
function remoteKeys(url: URL, reporting: OutageReporting): JWTVerifyGetKey {
  // Empty: jose starts without keys, as without a cache, and fills it at each successful fetch.
  const cache: Partial<ExportedJWKSCache> = {};
  const remote = createRemoteJWKSet(url, { [jwksCache]: cache as JWKSCacheInput });
  const { onError, onRecover, intervalMs, probeIntervalMs, now } = reporting;
  const outages = createOutageReports<JwksOutage>({ intervalMs, now });
  /** Ends the outage when a document was fetched since it began, whoever fetched it. */
  const endIfFetched = () => {
    if (!outages.current || cache.jwks === outages.current.detail.keys) return;
    const ended = outages.end()!;
    void tell(() => onRecover({ failures: ended.failures, outageMs: outageMs(ended, now()) }));
  };
  /** Asks for the document again when the outage has not tried for `probeIntervalMs`. */
  const probe = () => {
    const at = now();
    const outage = outages.current?.detail;
    if (!outage || at - outage.attemptedAt < probeIntervalMs) return;
    outage.attemptedAt = at;
    // jose joins a fetch already under way, and a failure leaves the outage as it is.
    remote.reload().then(endIfFetched, () => {});
  };
  return async (header, token) => {
    let key: Awaited<ReturnType<JWTVerifyGetKey>> | undefined;
    let failure: { readonly error: unknown } | undefined;
    try {
      key = await remote(header, token);
    } catch (error) {
      failure = { error };
    }
    // A document fetched since the outage began ends it, whatever this request's own outcome.
    endIfFetched();
    if (!failure || !isJwksUnavailable(failure.error)) {
      probe();
      if (failure) throw failure.error;
      return key as Awaited<ReturnType<JWTVerifyGetKey>>;
    }
    const { error } = failure;
    const at = now();
    const { outage, report } = outages.fail(() => ({ keys: cache.jwks, attemptedAt: at }), at);
    outage.detail.attemptedAt = at;
    const { failures } = outage;
    if (report) void tell(() => onError({ error, failures }));
    throw new HttpError(503, "The PAT server's public keys are unavailable", {
      code: "ERR_JWKS_UNAVAILABLE",
      headers: { "retry-after": String(DEFAULT_JWKS_RETRY_AFTER_SECONDS) },
    });
  };
}
