import {
  check,
  duration,
  func,
  number,
  oneOf,
  optional,
  problem,
  type Rule,
  type RuleOutput,
  record,
  string,
} from "@tokenkeep/core/options";
import type { BodyEncoding } from "./body-encoding.js";
import type { ClientAuthentication, ClientAuthenticator } from "./client-authentication.js";
import {
  DEFAULT_ALLOW_INSECURE_REQUESTS,
  DEFAULT_BODY_ENCODING,
  DEFAULT_CLIENT_AUTHENTICATION,
  DEFAULT_TIMEOUT_MS,
} from "./defaults.js";
import { issuerIdentifier } from "./discovery.js";
import { isStrings } from "./internal/params.js";
import {
  CREDENTIALS_IN_URL_MESSAGE,
  insecureUrlProblem,
  isSecureEnough,
} from "./internal/transport-security.js";

/**
 * The part of a ky instance tokenkeep calls: `ky(url, options)` resolving to a `Response`. Typed
 * structurally so ky is not a dependency; any `ky.create(...)` or `ky.extend(...)` instance fits.
 * tokenkeep always passes `retry: 0`, `timeout: false` and `throwHttpErrors: false`: the token
 * manager owns retries, the grant owns the timeout, and error answers are read, not thrown.
 *
 * The endpoint is passed as a `URL`, which ky takes as it is: the instance's `prefix` and `baseUrl`
 * (made for API paths) never apply to it, and its `searchParams` are unset. Its `headers`, hooks and
 * `fetch` do apply: the authorization server sees them.
 */
export type KyLike = (
  url: string | URL,
  options: {
    method: string;
    headers: Record<string, string>;
    body?: string | undefined;
    signal: AbortSignal;
    redirect: RequestRedirect;
    searchParams: undefined;
    retry: number;
    timeout: false;
    throwHttpErrors: false;
  },
) => PromiseLike<Response>;

/**
 * Options every grant creator and {@link revokeToken} share.
 */
export interface GrantOptions {
  /**
   * The token endpoint. Either this or `issuer` is required; when both are given, `tokenUrl` wins.
   * Must be `https:` unless the host is loopback or `allowInsecureRequests` is set, and hold no user
   * name or password (the client's credentials are `clientId` and `clientSecret`).
   */
  tokenUrl?: string | URL | undefined;
  /**
   * The authorization server's issuer identifier: its metadata (RFC 8414 or OpenID Connect
   * discovery) is read, cached, and gives the token and revocation endpoints. Compared exactly with
   * the metadata's `issuer` (RFC 8414 section 3.3): spell it as the server does, trailing slash
   * included. A `URL` is its `href` without the `/` that `URL` adds to an empty path
   * (`new URL("https://auth.example")` is `https://auth.example`): give an issuer that ends in a lone
   * `/` as a string. Must be `https:` unless the host is loopback or `allowInsecureRequests` is set,
   * and hold no user name or password.
   */
  issuer?: string | URL | undefined;
  /** The client identifier. Required unless `clientAuthentication` is `none`. */
  clientId?: string | undefined;
  /** The client secret. Required for `client_secret_basic` and `client_secret_post`. Secret. */
  clientSecret?: string | undefined;
  /**
   * How the client authenticates: HTTP Basic, body parameters, not at all (public client), or a
   * {@link ClientAuthenticator} such as `privateKeyJwt(...)` or `clientSecretJwt(...)` from
   * `@tokenkeep/grants/client-assertion` (which need `clientId` but no `clientSecret`).
   * @default "client_secret_basic"
   */
  clientAuthentication?: ClientAuthentication | undefined;
  /**
   * How the request body is encoded: a form (RFC 6749) or JSON (for JSON-only endpoints).
   * @default "form"
   */
  bodyEncoding?: BodyEncoding | undefined;
  /**
   * Extra body parameters sent with every request. A parameter the grant sets takes precedence; one it
   * leaves unset (no `scope`, `audience` or `token_type_hint` given) is sent from here.
   * @default {}
   */
  extraParams?: Readonly<Record<string, string | readonly string[]>> | undefined;
  /**
   * Extra request headers (for example a `user-agent`). A name or value that `new Headers()` refuses
   * (a line break in a value) is an invalid option, and so is `authorization` (any letter case) with
   * `client_secret_basic` or a {@link ClientAuthenticator}, which write their own.
   * @default {}
   */
  headers?: Readonly<Record<string, string>> | undefined;
  /**
   * How long one request may take, in milliseconds, including reading the answer.
   * @default 30_000
   */
  timeoutMs?: number | undefined;
  /**
   * The `fetch` to use.
   * @default globalThis.fetch
   */
  fetch?: typeof globalThis.fetch | undefined;
  /**
   * A ky instance to send requests through instead of `fetch` (its retry is off). Its `prefix`,
   * `baseUrl` and `searchParams` never apply (see {@link KyLike}); its `headers`, hooks and `fetch`
   * do, so the authorization server receives those headers: give the grant its own instance rather
   * than one made for an API with an API key in its headers.
   */
  ky?: KyLike | undefined;
  /**
   * Lifetime assumed when an answer has no `expires_in`, in milliseconds.
   * @default 3_600_000 (core's `DEFAULT_LIFETIME_MS`)
   */
  defaultLifetimeMs?: number | undefined;
  /**
   * The clock, in epoch milliseconds, used to anchor `expiresAt` at the moment a request is sent.
   * @default Date.now
   */
  now?: (() => number) | undefined;
  /**
   * Lets `tokenUrl`, `issuer`, `revocationUrl` and the endpoints the issuer's metadata names be
   * plain `http:` to any host. Without it, `http:` is refused (a `TypeError` when the creator is
   * made) unless the host is `localhost`, in 127.0.0.0/8 or `::1`: the client secret, password or
   * refresh token would otherwise cross the network in clear text. The name oauth4webapi and
   * openid-client use.
   * @default false
   */
  allowInsecureRequests?: boolean | undefined;
}

/**
 * An absolute http(s) URL without credentials in it, as a string or a `URL`; parsed as a string (by
 * `asString`).
 */
export const urlRule =
  (asString: (value: unknown) => string = String): Rule<string> =>
  (value, problems, path) => {
    const url = (typeof value === "string" || value instanceof URL) && URL.parse(String(value));
    const message = !(url && /^https?:$/.test(url.protocol))
      ? "expected an absolute http(s) URL"
      : (url.username || url.password) && CREDENTIALS_IN_URL_MESSAGE;
    if (message) problems.push(problem(path, message));
    return asString(value);
  };

/**
 * A shared option that one factory does not take (`revokeToken` has no use for `tokenUrl`): any value
 * is core's unknown-option problem, naming `instead` rather than the nearest key by spelling (which,
 * for `tokenUrl`, is `token`). `undefined` passes, so a spread of grant options with the key unset
 * still fits.
 */
export const notTaken =
  (name: string, instead?: string): Rule<undefined> =>
  (value, problems) => {
    const hint = instead === undefined ? "" : ` - did you mean \`${instead}\`?`;
    if (value !== undefined) problems.push(problem("", `unknown option \`${name}\`${hint}`));
    return undefined;
  };

/** A string, or a list of strings (scope, resource). */
export const stringsRule = (): Rule<string | readonly string[]> =>
  check(isStrings, "expected a string or an array of strings");

/** A built-in method's name, or an object with `method` and `authenticate` (a {@link ClientAuthenticator}). */
const clientAuthenticationRule = (): Rule<ClientAuthentication> => {
  const names = oneOf([
    "client_secret_basic",
    "client_secret_post",
    "none",
    "tls_client_auth",
    "self_signed_tls_client_auth",
  ]);
  return (value, problems, path) =>
    typeof (value as ClientAuthenticator | undefined)?.authenticate === "function"
      ? (value as ClientAuthenticator)
      : names(value, problems, path);
};

/**
 * The rules of {@link GrantOptions}; each creator's rule spreads them and adds its own fields. What
 * they return is what the request code uses: defaults applied, URLs as strings. Built on first use,
 * so a bundle that never makes a creator drops them.
 */
export const grantOptionsShape = () => ({
  tokenUrl: optional(urlRule()),
  issuer: optional(urlRule(issuerIdentifier)),
  clientId: optional(string(1)),
  clientSecret: optional(string(1)),
  clientAuthentication: optional(clientAuthenticationRule(), DEFAULT_CLIENT_AUTHENTICATION),
  bodyEncoding: optional(oneOf(["form", "json"]), DEFAULT_BODY_ENCODING),
  extraParams: optional(record(stringsRule()), {}),
  headers: optional(record(string()), {}),
  timeoutMs: optional(duration(), DEFAULT_TIMEOUT_MS),
  fetch: optional(func<typeof globalThis.fetch>()),
  ky: optional(func<KyLike>()),
  defaultLifetimeMs: optional(number({ above: 0 })),
  // Read per call, never captured: fake timers and polyfills may replace Date.now later.
  now: optional(func<() => number>(), () => Date.now()),
  allowInsecureRequests: optional(
    check<boolean>((value) => typeof value === "boolean", "expected a boolean"),
    DEFAULT_ALLOW_INSECURE_REQUESTS,
  ),
});

/** {@link GrantOptions} after validation: defaults applied, URLs as strings. */
export type ResolvedGrantOptions = {
  readonly [K in keyof ReturnType<typeof grantOptionsShape>]: RuleOutput<
    ReturnType<typeof grantOptionsShape>[K]
  >;
};

/**
 * The checks that span several options: an endpoint (`tokenUrl`, or the option `name` of `options`,
 * `revocationUrl` for instance) or an issuer is known, endpoints are https unless loopback or
 * `allowInsecureRequests`, credentials match the chosen client authentication, headers are what
 * `fetch` can send, and only one transport is given. Problems are `path: message` lines.
 */
export function checkGrantOptions(options: ResolvedGrantOptions, name = "tokenUrl"): string[] {
  const value = (options as Readonly<Record<string, unknown>>)[name];
  const problems: string[] = [];
  if (value === undefined && options.issuer === undefined) {
    problems.push(`${name}: either ${name} or issuer is required`);
  }
  for (const [option, url] of [
    [name, value],
    ["issuer", options.issuer],
  ] as const) {
    if (url !== undefined && !isSecureEnough(url as string | URL, options.allowInsecureRequests)) {
      problems.push(insecureUrlProblem(option));
    }
  }
  const method = options.clientAuthentication;
  const methodName = typeof method === "string" ? method : method.method;
  if (method !== "none") {
    if (options.clientId === undefined) problems.push(`clientId: required with ${methodName}`);
    // A string method with a secret: client_secret_basic or client_secret_post.
    if (
      method === methodName &&
      methodName.startsWith("client_secret_") &&
      options.clientSecret === undefined
    ) {
      problems.push(`clientSecret: required with ${methodName}`);
    }
  }
  // What `new Headers()` refuses (a line break in a value) is refused now, not by `fetch` at every
  // request. An `Authorization` header (any case) is refused with `client_secret_basic` (the method
  // string, or an authenticator object of that name), which writes one: both would go out joined, or
  // one silently replace the other, and RFC 6749 section 2.3 allows one authentication method per
  // request. The JWT assertions go in the body, so a gateway's header may go beside them. Problems
  // name the header, never its value.
  for (const name in options.headers) {
    try {
      new Headers({ [name]: options.headers[name] as string });
    } catch {
      problems.push(`headers.${name}: invalid header name or value`);
    }
    if (/^authorization$/i.test(name) && methodName === "client_secret_basic") {
      problems.push(`headers.${name}: not with ${methodName}`);
    }
  }
  if (options.fetch !== undefined && options.ky !== undefined) {
    problems.push("ky: pass either fetch or ky, not both");
  }
  return problems;
}
