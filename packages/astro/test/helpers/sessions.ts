import { createHash } from "node:crypto";
import { passwordGrant } from "@tokenkeep/grants";
import { mintSecret, registerSecret } from "../../../../test/reliability/src/secret-registry.js";
import { CLIENTS, type OidcProviderServer, USERS } from "../../../grants/test/fixtures/oidc-provider.js";
import { createCookieSealer } from "../../src/cookie-seal.js";
import type { Session } from "../../src/session.js";
import { writeSessionCookie } from "../../src/session-cookies.js";
import { cookieValues, makeContext, setCookies } from "./context.js";

/** The cookie secret the fixture servers get as TOKENKEEP_SECRET. */
export const SECRET = mintSecret("cookie secret", { prefix: "site-test-secret-" }); // random, registered

export const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** The environment a fixture server needs to talk to `provider`. */
export function siteEnv(provider: OidcProviderServer): Record<string, string> {
  return {
    TOKENKEEP_SECRET: SECRET,
    FIXTURE_ISSUER: provider.issuer,
    FIXTURE_CLIENT_ID: CLIENTS.service.id,
    FIXTURE_CLIENT_SECRET: CLIENTS.service.secret,
  };
}

/** A fresh session from the provider (password grant), as a sign-in would store it. */
export async function signIn(provider: OidcProviderServer): Promise<Session> {
  const set = await passwordGrant({
    issuer: provider.issuer,
    clientId: CLIENTS.service.id,
    clientSecret: CLIENTS.service.secret,
    username: "alice",
    password: USERS.alice!,
  })();
  return {
    accessToken: registerSecret(set.accessToken, "access token"),
    tokenType: set.tokenType,
    expiresAt: set.expiresAt,
    refreshToken: set.refreshToken && registerSecret(set.refreshToken, "refresh token"),
  };
}

/** The `Cookie` header carrying `session`, sealed as the site seals it. */
export async function cookieHeader(session: Session, secure = false): Promise<string> {
  const context = makeContext(secure ? "https://x.test/" : "http://x.test/");
  await writeSessionCookie(
    {
      jar: context.cookies,
      secure,
      settings: { name: "tokenkeep", domain: undefined, maxAgeS: 1000 },
      sealer: createCookieSealer([SECRET], "tokenkeep"),
      now: Date.now,
    },
    session,
  );
  return Object.entries(cookieValues(setCookies(context)))
    .map(([name, value]) => `${name}=${value}`)
    .join("; ");
}

/** What the fixture's /api/session answers. */
export interface SessionAnswer {
  signedIn: boolean;
  tokenHash: string | null;
  sessionPayload: unknown;
  sameInStorage: boolean;
  stats: { rotations: number; successorHits: number; lateRequests: number; refreshFailures: number };
  events: Record<string, number>;
}

/** GET /api/session on `baseUrl` with `cookie`. */
export async function getSession(
  baseUrl: string,
  cookie: string | undefined,
  headers: Record<string, string> = {},
): Promise<{ response: Response; body: SessionAnswer; setCookie: string[] }> {
  const response = await fetch(`${baseUrl}/api/session`, {
    headers: { ...headers, ...(cookie === undefined ? {} : { cookie }) },
  });
  return {
    response,
    body: (await response.json()) as SessionAnswer,
    setCookie: response.headers.getSetCookie(),
  };
}

/** The refresh token inside a Set-Cookie the site sent (unsealed with the test's secret). */
export async function refreshTokenIn(setCookie: readonly string[]): Promise<string> {
  const value = setCookie[0]!.split(";")[0]!.split("=").slice(1).join("=");
  const text = await createCookieSealer([SECRET], "tokenkeep").unseal(value);
  return (JSON.parse(text!) as { r: string }).r;
}

/** The Cookie header a browser sends after `setCookie`. */
export const followUp = (setCookie: readonly string[]): string =>
  setCookie
    .map((header) => header.split(";")[0]!)
    .filter((pair) => !pair.endsWith("=deleted"))
    .join("; ");
