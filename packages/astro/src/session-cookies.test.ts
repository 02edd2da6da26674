import { describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { registerSecret } from "../../../test/reliability/src/secret-registry.js";
import { cookieValues, makeContext, setCookies } from "../test/helpers/context.js";
import { createCookieSealer } from "./cookie-seal.js";
import type { Session } from "./session.js";
import {
  clearSessionCookie,
  isSessionTooLarge,
  readSessionCookie,
  type SessionCookieContext,
  sessionCookieFlags,
  writeSessionCookie,
} from "./session-cookies.js";

// Fixed values, registered (secret-registry.ts): the run searches its output for them.
const SECRET = registerSecret("session-cookie-test-secret-0123456789", "cookie secret");
const NOW = 1_800_000_000_000;
const settings = { name: "tokenkeep", domain: undefined, maxAgeS: 1000 };
const session: Session = {
  accessToken: registerSecret("at-secret-value", "access token"),
  tokenType: "Bearer",
  expiresAt: NOW + 300_000,
  refreshToken: registerSecret("rt-secret-value", "refresh token"),
  refreshTokenExpiresAt: NOW + 3_600_000,
  sessionPayload: { sub: "alice" },
};

function io(
  url: string,
  cookies: Record<string, string> = {},
  overrides: Partial<SessionCookieContext> = {},
) {
  const context = makeContext(url, { cookies });
  const cookieContext: SessionCookieContext = {
    jar: context.cookies,
    secure: new URL(url).protocol === "https:",
    settings,
    sealer: createCookieSealer([SECRET], settings.name),
    now: () => NOW,
    ...overrides,
  };
  return { context, cookieContext };
}

describe("session cookie", () => {
  it("over http: HttpOnly, SameSite=Lax, Path=/, no Secure, no prefix; Max-Age is the refresh token's lifetime", async () => {
    const { context, cookieContext } = io("http://app.test/");
    await writeSessionCookie(cookieContext, session);
    const [header] = setCookies(context);
    expect(header).toMatch(/^tokenkeep=tk1\./);
    expect(header).toContain("HttpOnly");
    expect(header).toContain("SameSite=Lax");
    expect(header).toContain("Path=/");
    expect(header).toContain("Max-Age=3600");
    expect(header).not.toContain("Secure");
    expectNoSecretIn(header, [session.refreshToken!, session.accessToken], "the Set-Cookie header");
  });

  it("over https: Secure and the __Host- prefix, without Domain", async () => {
    const { context, cookieContext } = io("https://app.test/");
    await writeSessionCookie(cookieContext, session);
    const [header] = setCookies(context);
    expect(header).toMatch(/^__Host-tokenkeep=/);
    expect(header).toContain("Secure");
    expect(header).not.toContain("Domain");
  });

  it("a shared domain takes the __Secure- prefix instead", () => {
    expect(sessionCookieFlags({ ...settings, domain: "example.test" }, true).name).toBe("__Secure-tokenkeep");
    expect(sessionCookieFlags({ ...settings, domain: "example.test" }, false).name).toBe("tokenkeep");
  });

  it("reads back what it wrote, and nothing from the other scheme's name", async () => {
    const write = io("https://app.test/");
    await writeSessionCookie(write.cookieContext, session);
    const carried = cookieValues(setCookies(write.context));
    expect(await readSessionCookie(io("https://app.test/", carried).cookieContext)).toEqual(session);
    expect(await readSessionCookie(io("http://app.test/", carried).cookieContext)).toBeUndefined();
  });

  it("without a refresh token the cookie lives as long as the access token; unknown lifetime uses maxAgeS", async () => {
    const short = io("http://app.test/");
    await writeSessionCookie(short.cookieContext, {
      ...session,
      refreshToken: undefined,
      refreshTokenExpiresAt: undefined,
    });
    expect(setCookies(short.context)[0]).toContain("Max-Age=300");
    const unknown = io("http://app.test/");
    await writeSessionCookie(unknown.cookieContext, { ...session, refreshTokenExpiresAt: undefined });
    expect(setCookies(unknown.context)[0]).toContain("Max-Age=1000");
  });

  it("chunks a large session (big JWTs and payload) and reads it back", async () => {
    const big: Session = {
      ...session,
      accessToken: "a".repeat(6000),
      sessionPayload: { blob: "p".repeat(3000) },
    };
    const write = io("https://app.test/");
    await writeSessionCookie(write.cookieContext, big);
    const carried = cookieValues(setCookies(write.context));
    expect(Object.keys(carried).sort()).toEqual([
      "__Host-tokenkeep.0",
      "__Host-tokenkeep.1",
      "__Host-tokenkeep.2",
      "__Host-tokenkeep.3",
    ]);
    expect(await readSessionCookie(io("https://app.test/", carried).cookieContext)).toEqual(big);
  });

  it('a session sealed over maxBytes is not written: SessionTooLargeError names the size and storage: "session"', async () => {
    const big: Session = { ...session, sessionPayload: { blob: "p".repeat(16_000) } };
    const write = io("https://app.test/", {}, { settings: { ...settings, maxBytes: 7_600 } });
    const failure = await writeSessionCookie(write.cookieContext, big).catch((error: unknown) => error);
    expect(isSessionTooLarge(failure)).toBe(true);
    expect(failure).toMatchObject({ code: "ERR_TOKENKEEP_SESSION_TOO_LARGE", maxBytes: 7_600 });
    const { bytes, message } = failure as { bytes: number; message: string };
    expect(bytes).toBeGreaterThan(16_000);
    expect(message).toContain(`${bytes} bytes, over cookie.maxBytes (7600)`);
    expect(message).toContain('storage: "session"');
    expect(setCookies(write.context)).toEqual([]);
    // Two chunks' worth fits.
    const fits = io("https://app.test/", {}, { settings: { ...settings, maxBytes: 7_600 } });
    await writeSessionCookie(fits.cookieContext, { ...session, sessionPayload: { blob: "p".repeat(5_000) } });
    expect(Object.keys(cookieValues(setCookies(fits.context)))).toEqual([
      "__Host-tokenkeep.0",
      "__Host-tokenkeep.1",
    ]);
  });

  it("clearing deletes with the same flags", () => {
    const { context, cookieContext } = io("https://app.test/", { "__Host-tokenkeep": "x" });
    clearSessionCookie(cookieContext);
    const [header] = setCookies(context);
    expect(header).toMatch(/^__Host-tokenkeep=deleted;/);
    expect(header).toContain("Secure");
    expect(header).toContain("Path=/");
  });
});
