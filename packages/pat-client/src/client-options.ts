import { INSECURE_URL_MESSAGE, isSecureEnough } from "@tokenkeep/core/http";
import { MAX_TIMER_MS, parseOptions } from "@tokenkeep/core/options";
import * as z from "zod";
import {
  DEFAULT_ADMIN_PATH,
  DEFAULT_ALLOW_INSECURE_REQUESTS,
  DEFAULT_AUTH_PATH,
  DEFAULT_RETRY_BASE_DELAY_MS,
  DEFAULT_RETRY_LIMIT,
  DEFAULT_RETRY_MAX_DELAY_MS,
  DEFAULT_RETRY_STATUS_CODES,
  DEFAULT_TIMEOUT_MS,
} from "./defaults";
import type { PatClientError, PatClientOperation } from "./pat-client-error";
import type { PatRetryOptions, ResolvedRetryPolicy } from "./retry-policy";

/** What {@link PatAdminClientOptions.onRetry} receives before each retry. */
export interface PatRetryState {
  /** The method being retried. */
  readonly operation: PatClientOperation;
  /** The attempt about to start: 2 for the first retry. */
  readonly attempt: number;
  /** Attempts in all, the first included (`retry.limit + 1`). */
  readonly attempts: number;
  /** Why the previous attempt failed (free of secrets, like every error of the client). */
  readonly error: PatClientError;
}

/** Options of {@link PatAdminClient}: those of the original `AccessTokensClient`, plus `retry` and `timeoutMs`. */
export interface PatAdminClientOptions {
  /**
   * Base URL of the PAT service, e.g. `https://api.example.com`. Must be `https:` unless the host is
   * loopback (`localhost`, 127.0.0.0/8, `::1`) or `allowInsecureRequests` is set; no user or password,
   * query string or fragment.
   */
  readonly endpoint: string;
  /** The personal access token. It is sent only to the exchange route, never to the admin routes. */
  readonly apiKey: string;
  /**
   * Where the exchange route is mounted (`POST <authPath>/token`).
   * @default "/auth"
   */
  readonly authPath?: string;
  /**
   * Where the admin routes are mounted (`<adminPath>/tokens...`).
   * @default "/admin"
   */
  readonly adminPath?: string;
  /**
   * The `fetch` to use (a proxy agent, a test double, another runtime's fetch).
   * @default globalThis.fetch
   */
  readonly fetch?: typeof globalThis.fetch;
  /**
   * Retry policy: 3 retries of 408, 429, 500, 502, 503 and 504 and of network errors, 1 s doubling to
   * at most 30 s, jittered, `Retry-After` honoured. `false` turns retrying off. Issuing a token is
   * never retried once the request may have reached the server.
   * @default { limit: 3, baseDelayMs: 1000, maxDelayMs: 30000, statusCodes: [408, 429, 500, 502, 503, 504] }
   */
  readonly retry?: PatRetryOptions | false;
  /**
   * Each HTTP attempt is abandoned when its answer's headers take longer than this, or its body takes
   * this long again after them (a `PatClientError` with code `ERR_PAT_CLIENT_TIMEOUT`).
   * @default 30000
   */
  readonly timeoutMs?: number;
  /**
   * Random numbers in [0, 1), for the retry jitter.
   * @default Math.random
   */
  readonly random?: () => number;
  /**
   * The clock in epoch ms, for the JWT's expiry and `Retry-After` dates.
   * @default Date.now
   */
  readonly now?: () => number;
  /**
   * Called before each retry, after the backoff delay, with what failed: for telling a user that the
   * client is still trying (the `tokenkeep-pat` command prints it). Errors it throws are ignored.
   * @default undefined
   */
  readonly onRetry?: (state: PatRetryState) => void;
  /**
   * Lets `endpoint` be plain `http:` to a host that is not loopback. Without it such an endpoint is
   * refused (the options `TypeError`): the PAT and the JWT would cross the network in clear text.
   * @default false
   */
  readonly allowInsecureRequests?: boolean;
}

/** Options after validation, every default applied. */
export interface ResolvedClientOptions {
  readonly endpoint: string;
  readonly apiKey: string;
  readonly authPath: string;
  readonly adminPath: string;
  readonly fetch: typeof globalThis.fetch | undefined;
  readonly retry: ResolvedRetryPolicy;
  readonly timeoutMs: number;
  readonly random: () => number;
  readonly now: () => number;
  readonly allowInsecureRequests: boolean;
  readonly onRetry: ((state: PatRetryState) => void) | undefined;
}

const fn = <T>() => z.custom<T>((value) => typeof value === "function", "Expected a function");
const path = z
  .string()
  .regex(/^(\/[^/?#\s]+)*\/?$/, "Expected a path such as /auth")
  .transform((value) => value.replace(/\/+$/, ""));

const retrySchema = z.strictObject({
  limit: z.int().min(0).max(10).default(DEFAULT_RETRY_LIMIT),
  baseDelayMs: z.number().min(0).max(MAX_TIMER_MS).default(DEFAULT_RETRY_BASE_DELAY_MS),
  maxDelayMs: z.number().min(0).max(MAX_TIMER_MS).default(DEFAULT_RETRY_MAX_DELAY_MS),
  statusCodes: z.array(z.int().min(400).max(599)).readonly().default(DEFAULT_RETRY_STATUS_CODES),
});

const schema = z
  .strictObject({
    endpoint: z
      .url({ protocol: /^https?$/, error: "Expected an http or https URL" })
      .transform((value) => value.replace(/\/+$/, "")),
    apiKey: z.string().min(1, "Expected a personal access token"),
    authPath: path.default(DEFAULT_AUTH_PATH),
    adminPath: path.default(DEFAULT_ADMIN_PATH),
    fetch: fn<typeof globalThis.fetch>().optional(),
    retry: z
      .union([z.literal(false), retrySchema])
      .prefault({})
      .transform((retry) => (retry === false ? retrySchema.parse({ limit: 0 }) : retry)),
    timeoutMs: z.int().min(1).max(MAX_TIMER_MS).default(DEFAULT_TIMEOUT_MS),
    random: fn<() => number>().default(() => Math.random),
    now: fn<() => number>().default(() => Date.now),
    allowInsecureRequests: z.boolean().default(DEFAULT_ALLOW_INSECURE_REQUESTS),
    onRetry: fn<(state: PatRetryState) => void>().optional(),
  })
  .superRefine((options, context) => {
    if (!isSecureEnough(options.endpoint, options.allowInsecureRequests)) {
      context.addIssue({ code: "custom", path: ["endpoint"], message: INSECURE_URL_MESSAGE });
    }
    // The routes' paths are appended to the endpoint, and fetch refuses a URL with credentials (its
    // error quoting the URL, password included): such an endpoint can only fail, later and louder.
    const url = new URL(options.endpoint);
    if (url.username !== "" || url.password !== "") {
      context.addIssue({
        code: "custom",
        path: ["endpoint"],
        message: "Expected no user or password in the URL (the PAT is the credential)",
      });
    }
    if (/[?#]/.test(options.endpoint)) {
      context.addIssue({
        code: "custom",
        path: ["endpoint"],
        message: "Expected no query string or fragment: the routes' paths are appended to the endpoint",
      });
    }
  });

/**
 * Validates the client's options once, with core's `parseOptions`: a bad option is a `TypeError` with
 * code `ERR_TOKENKEEP_INVALID_OPTIONS` (as in every tokenkeep package) whose `cause` lists the problems
 * as `path: message`, an unknown key naming the nearest known one, never a value (the `apiKey` is a
 * secret).
 */
export function resolveClientOptions(options: PatAdminClientOptions): ResolvedClientOptions {
  return parseOptions(schema, options, "PatAdminClient") as ResolvedClientOptions;
}
