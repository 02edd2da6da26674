import {
  createTokenManager,
  isTokenkeepError,
  isTransientError,
  type TokenkeepError,
  type TokenManager,
  type TokenSet,
} from "@tokenkeep/core";
import { endpointOf } from "@tokenkeep/core/http";
import { MAX_TIMER_MS, parseOptions } from "@tokenkeep/core/options";
import {
  type BatchTokensResponse,
  batchTokensResponseSchema,
  type IssueTokenResponse,
  issueTokenResponseSchema,
  isTokenId,
  type ListTokensOptions,
  listTokensResponseSchema,
  type PatRecord,
  type RolesUpdate,
  registerTokenResponseSchema,
  toListTokensSearchParams,
} from "@tokenkeep/pat-protocol";
import * as z from "zod";
import {
  type PatAdminClientOptions,
  type ResolvedClientOptions,
  resolveClientOptions,
} from "./client-options";
import {
  DEFAULT_JWT_SKEW_MS,
  DEFAULT_LIST_ALL_MAX_PAGES,
  DEFAULT_LIST_ALL_PAGE_SIZE,
  MAX_RESPONSE_BYTES,
} from "./defaults";
import { createHttp, type Http, type HttpRequest } from "./internal/http";
import type { Writable } from "./internal/writable";
import { isPatClientError, PatClientError, type PatClientOperation } from "./pat-client-error";
import { patExchangeCreator } from "./pat-exchange";

/** Options of {@link PatAdminClient.list}: filters and the page to read (writable, as the original's). */
export type ListOptions = Writable<ListTokensOptions>;

/** Options of {@link PatAdminClient.listAll}: those of `list`, and a bound on the pages read. */
export interface ListAllOptions extends ListOptions {
  /**
   * Pages read at most. When the server still has a next page after them, the walk fails with
   * `ERR_PAT_CLIENT_PAGE_LIMIT` instead of following a cursor that may never end. A positive integer.
   * @default 1000 (1,000,000 tokens at the default page size)
   */
  maxPages?: number;
}

/** The bound of {@link PatAdminClient.listAll}, checked when the walk starts. */
const listAllBoundSchema = z.object({
  maxPages: z.int().min(1, "Expected a positive integer").default(DEFAULT_LIST_ALL_MAX_PAGES),
});

/** One page of {@link PatAdminClient.listPage}. */
export interface TokenPage {
  readonly records: PatRecord[];
  /**
   * Pass it as `afterTokenId` to read the next page; `null` after the last page. A server that sends no
   * cursor (the original) gets the last id of any non-empty page, so its walk ends with an empty page.
   */
  readonly nextAfterTokenId: string | null;
}

/** Parameters of {@link PatAdminClient.issue}. Times are Unix seconds. */
export interface IssueParams {
  /** Who the token belongs to (e.g. an e-mail address), 1 to 100 characters. */
  readonly owner: string;
  /** @default false */
  readonly isAdmin?: boolean;
  /** At most 50 roles; they behave as a set. @default [] */
  readonly roles?: readonly string[];
  /** When the token stops working, in Unix seconds. @default no expiry */
  readonly expiresAt?: number;
  /** A chosen token id (21 characters of `[A-Za-z0-9]`). @default a random id */
  readonly tokenId?: string;
}

/** Parameters of {@link PatAdminClient.register}: a token generated elsewhere, by its hash. */
export interface RegisterParams {
  /** The id part of the pre-generated token. */
  readonly tokenId: string;
  /** scrypt PHC string of the secret (`$scrypt$ln=14,r=8,p=1$<salt>$<hash>`). */
  readonly secretPhc: string;
  readonly owner: string;
  /** @default false */
  readonly isAdmin?: boolean;
  /** @default [] */
  readonly roles?: readonly string[];
  /** Unix seconds. @default no expiry */
  readonly expiresAt?: number;
}

/** Changes of {@link PatAdminClient.update}; absent fields are kept. */
export interface UpdateParams {
  readonly owner?: string;
  readonly isAdmin?: boolean;
  /** A new scrypt PHC string (rotates the secret). */
  readonly secretPhc?: string;
  /** A replacement list, `{ add: [...] }` or `{ remove: [...] }`. */
  readonly roles?: RolesUpdate;
  /** A new expiry in Unix seconds, or `null` to remove it. */
  readonly expiresAt?: number | null;
}

/** Options of {@link PatAdminClient.revoke}. */
export interface RevokeOptions {
  /** Also set an expiry (Unix seconds), e.g. for cleanup. An existing expiry is kept otherwise. */
  expiresAt?: number;
}

/** Options of {@link PatAdminClient.batchGet}. */
export interface BatchGetOptions {
  /** @default false */
  readonly includeSecretPhc?: boolean;
}

/** Options of {@link PatAdminClient.batchLoad}: those of `@access-tokens/client`'s `batchLoad`. */
export type BatchLoadOptions = Writable<BatchGetOptions>;

/** What {@link PatAdminClient.batchLoad} returns: the records found and the ids not found. */
export type BatchLoadResult = BatchTokensResponse;

/** Per-call options, accepted as the last argument of every method. */
export interface RequestOptions {
  /** Abandons the call (a `PatClientError` with code `ERR_PAT_CLIENT_ABORTED`). */
  readonly signal?: AbortSignal;
}

/** The JWT the client currently uses for the admin routes. */
export interface AccessToken {
  /** The JWT. Secret: never log it. */
  readonly accessToken: string;
  readonly tokenType: string;
  /** Epoch ms, anchored at the moment the exchange was sent. */
  readonly expiresAt: number;
}

function pick<T extends object>(value: T, keys: readonly (keyof T)[]): Partial<T> {
  const result: Partial<T> = {};
  for (const key of keys) if (value[key] !== undefined) result[key] = value[key];
  return result;
}

/**
 * A client of a personal access token service (`@tokenkeep/pat-server`, or any server speaking the
 * protocol of `@access-tokens/express`). It keeps the API of `@access-tokens/client`'s
 * `AccessTokensClient` (also exported under that name), so switching is a change of import.
 *
 * The PAT is exchanged for a short-lived JWT by core's token manager: one exchange however many calls
 * run at once, renewed ahead of its expiry, and after a 401 the failed JWT is dropped and the call
 * replayed once, unless that JWT was itself obtained within 30 s of a refused one (the manager's
 * `unauthorizedCooldownMs`): the 401 is then returned, so a server refusing every JWT costs one
 * request per call and one exchange per 30 s. Failed requests are retried (see {@link PatAdminClientOptions.retry}); issuing is
 * never retried once the request may have reached the server. Every answer is validated.
 *
 * @example
 * ```ts
 * const client = new PatAdminClient({ endpoint: "https://api.example.com", apiKey: process.env.PAT! });
 * const { token, record } = await client.issue({ owner: "ci@example.com", roles: ["deploy"] });
 * ```
 * @throws TypeError with code `ERR_TOKENKEEP_INVALID_OPTIONS` for invalid options.
 */
export class PatAdminClient implements AsyncDisposable {
  readonly #options: ResolvedClientOptions;
  readonly #http: Http;
  readonly #manager: TokenManager;

  constructor(options: PatAdminClientOptions) {
    const resolved = resolveClientOptions(options);
    this.#options = resolved;
    this.#http = createHttp({
      fetch: resolved.fetch,
      timeoutMs: resolved.timeoutMs,
      maxResponseBytes: MAX_RESPONSE_BYTES,
      retry: resolved.retry,
      random: resolved.random,
      now: resolved.now,
      secrets: [resolved.apiKey],
      onRetry: resolved.onRetry,
    });
    // The exchange retries inside the creator, with the client's policy; the manager does not add its
    // own. One bound for the whole exchange - every attempt's two timeouts (its headers, then its body)
    // and every wait between them - is both the creator's limit and the manager's fetch budget (whose
    // 30 s default would cut the policy short), capped at the longest timer a runtime keeps: each option
    // may reach that limit alone.
    const { limit, maxDelayMs } = resolved.retry;
    const exchangeBudgetMs = Math.min(
      MAX_TIMER_MS,
      (limit + 1) * 2 * resolved.timeoutMs + limit * maxDelayMs,
    );
    this.#manager = createTokenManager({
      creator: patExchangeCreator({
        http: this.#http,
        tokenUrl: `${resolved.endpoint}${resolved.authPath}/token`,
        apiKey: resolved.apiKey,
      }),
      skewMs: DEFAULT_JWT_SKEW_MS,
      retry: { retries: 0 },
      creatorTimeoutMs: exchangeBudgetMs,
      fetchTimeoutMs: exchangeBudgetMs,
      now: resolved.now,
      random: resolved.random,
    });
  }

  /**
   * Lists one page of tokens, ordered by `tokenId`. Revoked and expired tokens are left out unless
   * asked for; `limit` (default 100, at most 1000) counts the records returned.
   */
  async list(options: ListOptions = {}, requestOptions: RequestOptions = {}): Promise<PatRecord[]> {
    return (await this.listPage(options, requestOptions)).records;
  }

  /** Lists one page of tokens with the cursor of the next page. */
  async listPage(options: ListOptions = {}, requestOptions: RequestOptions = {}): Promise<TokenPage> {
    const page = await this.#admin(
      {
        operation: "list",
        method: "GET",
        url: this.#tokensUrl(),
        searchParams: toListTokensSearchParams(options),
        idempotent: true,
        signal: requestOptions.signal,
      },
      listTokensResponseSchema,
    );
    // A server that sends no cursor (the original) pages by the last id returned. The original applies
    // `limit` before it filters revoked and expired records, so a short page is not the last one: only
    // an empty page ends the walk.
    const fallback = page.records.at(-1)?.tokenId ?? null;
    return {
      records: page.records,
      nextAfterTokenId: page.nextAfterTokenId === undefined ? fallback : page.nextAfterTokenId,
    };
  }

  /**
   * Every page of tokens matching `options`, as an async iterator: `for await (const page of
   * client.listAll()) ...`. Pages hold up to `options.limit` records (default 1000); at most
   * `options.maxPages` pages (default 1000) are read.
   * @throws TypeError with code `ERR_TOKENKEEP_INVALID_OPTIONS` when `maxPages` is not a positive integer.
   */
  async *listAll(
    options: ListAllOptions = {},
    requestOptions: RequestOptions = {},
  ): AsyncGenerator<PatRecord[]> {
    const { maxPages: asked, ...query } = options;
    const { maxPages } = parseOptions(listAllBoundSchema, { maxPages: asked }, "listAll");
    const limit = query.limit ?? DEFAULT_LIST_ALL_PAGE_SIZE;
    let afterTokenId = query.afterTokenId;
    // A cursor that comes back (A, B, A ...) is a broken server: the walk would never end.
    const passed = new Set<string>();
    for (let pages = 0; ; pages++) {
      if (pages === maxPages) {
        // A cursor that never comes back but never ends either (a new one on every page) is bounded here.
        throw new PatClientError({
          code: "ERR_PAT_CLIENT_PAGE_LIMIT",
          operation: "list",
          endpoint: endpointOf(this.#tokensUrl()),
          detail: `stopped after ${maxPages} pages (maxPages) and the server still has a next page: raise maxPages if the service holds that many tokens`,
        });
      }
      const page = await this.listPage({ ...query, limit, afterTokenId }, requestOptions);
      if (page.records.length > 0) yield page.records;
      if (page.nextAfterTokenId === null || page.nextAfterTokenId === afterTokenId) return;
      if (afterTokenId !== undefined) passed.add(afterTokenId);
      if (passed.has(page.nextAfterTokenId)) {
        const endpoint = endpointOf(this.#tokensUrl());
        const problem = "nextAfterTokenId: a cursor of an earlier page; the pages would never end";
        throw new PatClientError({
          code: "ERR_PAT_CLIENT_INVALID_RESPONSE",
          operation: "list",
          status: 200,
          cause: [problem],
          endpoint,
          detail: `invalid response (200) from ${endpoint}: ${problem}`,
        });
      }
      afterTokenId = page.nextAfterTokenId;
    }
  }

  /**
   * Issues a new token and returns it with its record. The plaintext `token` is returned this once:
   * hand it over securely. Never retried once the request may have reached the server.
   */
  async issue(params: IssueParams, requestOptions: RequestOptions = {}): Promise<IssueTokenResponse> {
    return this.#admin(
      {
        operation: "issue",
        method: "POST",
        url: this.#tokensUrl(),
        json: pick(params, ["tokenId", "owner", "isAdmin", "roles", "expiresAt"]),
        idempotent: false,
        signal: requestOptions.signal,
      },
      issueTokenResponseSchema,
    );
  }

  /**
   * Registers a token generated elsewhere (its id and the PHC of its secret); returns its record. A
   * retried attempt that meets a 409 (the answer to an earlier attempt was lost, but that attempt was
   * processed) reads the token back and resolves with it when it is the one asked for.
   */
  async register(params: RegisterParams, requestOptions: RequestOptions = {}): Promise<PatRecord> {
    let retried = false;
    try {
      const answer = await this.#admin(
        {
          operation: "register",
          method: "PUT",
          url: this.#tokenUrl(params.tokenId),
          json: pick(params, ["secretPhc", "owner", "isAdmin", "roles", "expiresAt"]),
          idempotent: true,
          signal: requestOptions.signal,
          onRetry: () => {
            retried = true;
          },
        },
        registerTokenResponseSchema,
      );
      return answer.record;
    } catch (error) {
      if (!retried || !isPatClientError(error) || error.status !== 409) throw error;
      const record = await this.#registered(params, requestOptions).catch(() => undefined);
      if (record === undefined) throw error;
      return record;
    }
  }

  /** The token `params` registers, when the server holds exactly it (its secret's PHC included). */
  async #registered(params: RegisterParams, requestOptions: RequestOptions): Promise<PatRecord | undefined> {
    const { found } = await this.batchGet([params.tokenId], { includeSecretPhc: true }, requestOptions);
    const record = found.find((candidate) => candidate.tokenId === params.tokenId);
    if (record === undefined) return undefined;
    const { secretPhc, ...rest } = record;
    const roles = (list: readonly string[]) => [...new Set(list)].sort().join("\u0000");
    const same =
      secretPhc === params.secretPhc &&
      record.owner === params.owner &&
      record.isAdmin === (params.isAdmin ?? false) &&
      roles(record.roles) === roles(params.roles ?? []) &&
      (record.expiresAt ?? undefined) === params.expiresAt &&
      record.revokedAt == null;
    return same ? rest : undefined;
  }

  /** Changes a token. `expiresAt: null` removes its expiry; `roles` replaces, adds or removes roles. */
  async update(tokenId: string, updates: UpdateParams, requestOptions: RequestOptions = {}): Promise<void> {
    await this.#admin({
      operation: "update",
      method: "PATCH",
      url: this.#tokenUrl(tokenId),
      json: pick(updates, ["owner", "isAdmin", "secretPhc", "roles", "expiresAt"]),
      idempotent: true,
      signal: requestOptions.signal,
    });
  }

  /** Revokes a token (idempotent). Its existing expiry is kept unless `expiresAt` is given. */
  async revoke(
    tokenId: string,
    options: RevokeOptions = {},
    requestOptions: RequestOptions = {},
  ): Promise<void> {
    await this.#admin({
      operation: "revoke",
      method: "PUT",
      url: this.#tokenUrl(tokenId, "revoke"),
      json: pick(options, ["expiresAt"]),
      idempotent: true,
      signal: requestOptions.signal,
    });
  }

  /** Restores a revoked token (idempotent); its expiry is kept. */
  async restore(tokenId: string, requestOptions: RequestOptions = {}): Promise<void> {
    await this.#admin({
      operation: "restore",
      method: "PUT",
      url: this.#tokenUrl(tokenId, "restore"),
      idempotent: true,
      signal: requestOptions.signal,
    });
  }

  /** Reads several tokens at once (at most 1000 ids): the records found and the ids not found. */
  async batchGet(
    tokenIds: readonly string[],
    options: BatchGetOptions = {},
    requestOptions: RequestOptions = {},
  ): Promise<BatchTokensResponse> {
    return this.#batch("batchGet", tokenIds, options, requestOptions);
  }

  /**
   * `@access-tokens/client`'s name and signature for {@link batchGet}: the ids as a `Set` (or an
   * array), at most 1000; resolves with `{ found, notFound }`. The same request
   * (`POST <adminPath>/tokens/batch`); its errors say "Failed to batch load tokens", as the original's.
   */
  async batchLoad(
    tokenIds: ReadonlySet<string> | readonly string[],
    options: BatchLoadOptions = {},
    requestOptions: RequestOptions = {},
  ): Promise<BatchLoadResult> {
    return this.#batch("batchLoad", Array.from(tokenIds), options, requestOptions);
  }

  /**
   * The JWT the admin calls use, exchanging the PAT when there is no valid one. Useful for calling
   * other APIs that accept the service's JWTs.
   */
  async getAccessToken(requestOptions: RequestOptions = {}): Promise<AccessToken> {
    const set = await this.#token(requestOptions.signal);
    return { accessToken: set.accessToken, tokenType: set.tokenType, expiresAt: set.expiresAt };
  }

  /** Stops renewing the JWT and forgets it. The client must not be used afterwards. */
  async close(): Promise<void> {
    await this.#manager.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #tokensUrl(route?: "batch"): string {
    const base = `${this.#options.endpoint}${this.#options.adminPath}/tokens`;
    return route === undefined ? base : `${base}/${route}`;
  }

  /** The URL of one token's route. */
  #tokenUrl(tokenId: string, action?: "revoke" | "restore"): string {
    // A token id goes into the URL, so into every proxy's access log: a whole PAT pasted in its place
    // (its secret included) is refused before anything is sent, and never repeated.
    // "Whole PAT" only when it has the dot of one; the value itself is never repeated.
    const pasted = String(tokenId).includes(".") ? ", not a whole personal access token" : "";
    if (!isTokenId(tokenId)) {
      throw Object.assign(
        new TypeError(
          `tokenId: expected a token id (21 characters of [A-Za-z0-9])${pasted}; nothing was sent`,
        ),
        { code: "ERR_TOKENKEEP_INVALID_ARGUMENT" },
      );
    }
    return `${this.#tokensUrl()}/${tokenId}${action === undefined ? "" : `/${action}`}`;
  }

  #batch(
    operation: "batchGet" | "batchLoad",
    tokenIds: readonly string[],
    options: BatchGetOptions,
    requestOptions: RequestOptions,
  ): Promise<BatchTokensResponse> {
    return this.#admin(
      {
        operation,
        method: "POST",
        url: this.#tokensUrl("batch"),
        json: { tokenIds, ...pick(options, ["includeSecretPhc"]) },
        idempotent: true,
        signal: requestOptions.signal,
      },
      batchTokensResponseSchema,
    );
  }

  async #token(signal: AbortSignal | undefined): Promise<TokenSet> {
    try {
      return await this.#manager.getToken(signal ? { signal } : undefined);
    } catch (error) {
      throw managerError(error, signal);
    }
  }

  /** Calls an admin route with the JWT; after a 401 drops that JWT and replays the call once. */
  #admin(request: Omit<HttpRequest, "authorization" | "secrets">): Promise<void>;
  #admin<S extends z.ZodType>(
    request: Omit<HttpRequest, "authorization" | "secrets">,
    schema: S,
  ): Promise<z.output<S>>;
  async #admin(
    request: Omit<HttpRequest, "authorization" | "secrets">,
    schema?: z.ZodType,
  ): Promise<unknown> {
    for (let replayed = false; ; replayed = true) {
      const set = await this.#token(request.signal);
      const authorized: HttpRequest = {
        ...request,
        authorization: `Bearer ${set.accessToken}`,
        secrets: [set.accessToken],
      };
      try {
        return schema ? await this.#http.json(authorized, schema) : await this.#http.empty(authorized);
      } catch (error) {
        // A 401 means the JWT was refused before anything ran (expired, or signed by a key the
        // server has since replaced), so even issuing may be replayed with a fresh JWT.
        if (replayed || !isPatClientError(error) || error.status !== 401) throw error;
        // Kept although refused: it replaced a refused JWT moments ago (core's
        // `unauthorizedCooldownMs`), and a replay with it would only be refused again. (Not dropped
        // because another call already dropped it: then the replay gets a new one.)
        const dropped = await this.#manager.invalidate(set);
        if (!dropped && this.#manager.peek()?.accessToken === set.accessToken) throw error;
      }
    }
  }
}

/** A failure of the token manager itself (not of the exchange request) as a {@link PatClientError}. */
function managerError(error: unknown, signal: AbortSignal | undefined): unknown {
  if (isPatClientError(error)) return error;
  const operation: PatClientOperation = "exchange";
  const code = isTokenkeepError(error) ? error.code : undefined;
  if (signal?.aborted || code === "ERR_TOKENKEEP_ABORTED") {
    return new PatClientError({ code: "ERR_PAT_CLIENT_ABORTED", operation, cause: error, detail: "aborted" });
  }
  if (code === "ERR_TOKENKEEP_TIMEOUT") {
    return new PatClientError({
      code: "ERR_PAT_CLIENT_TIMEOUT",
      operation,
      cause: error,
      transient: true,
      detail: "the exchange did not finish in time",
    });
  }
  if (code === "ERR_TOKENKEEP_THROTTLED") {
    // No request was sent: the exchange's last answer asked to wait, and that wait is not over.
    const retryAfterMs = (error as TokenkeepError).retryAfterMs ?? 0;
    return new PatClientError({
      code: "ERR_PAT_CLIENT_THROTTLED",
      operation,
      cause: error,
      transient: true,
      retryAfterMs,
      detail: `the PAT service asked to wait (Retry-After); not sent, retry in ${Math.ceil(retryAfterMs / 1000)} s`,
    });
  }
  if (code === "ERR_TOKENKEEP_DISPOSED") {
    return new PatClientError({
      code: "ERR_PAT_CLIENT_CLOSED",
      operation,
      cause: error,
      transient: isTransientError(error),
      detail: (error as Error).message,
    });
  }
  return new PatClientError({
    code: "ERR_PAT_CLIENT_INVALID_RESPONSE",
    operation,
    cause: error,
    transient: isTransientError(error),
    detail: error instanceof Error ? error.message : "unexpected failure",
  });
}
