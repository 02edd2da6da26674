import { describe, expect, it } from "vitest";
import { registerSecret } from "../../../test/reliability/src/secret-registry.js";
import { cookieValues, makeContext, setCookies } from "../test/helpers/context.js";
import { type CookieSealer, createCookieSealer } from "./cookie-seal.js";
import type { Session } from "./session.js";
import { createSessionCache } from "./session-cache.js";
import { readSessionCookie, type SessionCookieContext, writeSessionCookie } from "./session-cookies.js";

const SECRET = registerSecret("session-cache-test-secret-0123456789", "cookie secret");
const NOW = 1_800_000_000_000;
const settings = { name: "tokenkeep", domain: undefined, maxAgeS: 1000 };
const base: Session = {
  accessToken: registerSecret("cache-at-secret-value", "access token"),
  tokenType: "Bearer",
  expiresAt: NOW + 300_000,
  refreshToken: registerSecret("cache-rt-secret-value", "refresh token"),
};

/** A sealer counting its unseals, and a way to read `session`'s cookie back through a cache. */
async function setup(session: Session, maxEntries = 10) {
  const inner = createCookieSealer([SECRET], settings.name);
  let unseals = 0;
  const sealer: CookieSealer = {
    sealed: true,
    seal: (plaintext) => inner.seal(plaintext),
    unseal: (value) => {
      unseals++;
      return inner.unseal(value);
    },
  };
  const sessions = createSessionCache(maxEntries);
  const written = makeContext("http://app.test/");
  const io = (context: ReturnType<typeof makeContext>): SessionCookieContext => ({
    jar: context.cookies,
    secure: false,
    settings,
    sealer,
    now: () => NOW,
    sessions,
  });
  await writeSessionCookie(io(written), session);
  const cookies = cookieValues(setCookies(written));
  const read = () => readSessionCookie(io(makeContext("http://app.test/", { cookies })));
  return { read, unseals: () => unseals, sessions, cookies };
}

describe("session cache", () => {
  it("a returning session without a payload object is read without unsealing, synchronously", async () => {
    const { read, unseals } = await setup({ ...base, sessionPayload: "alice" });
    expect(await read()).toEqual({ ...base, sessionPayload: "alice" });
    expect(unseals()).toBe(1);
    const again = read();
    expect(again).not.toBeInstanceOf(Promise);
    expect(again).toEqual({ ...base, sessionPayload: "alice" });
    expect(Object.isFrozen(again)).toBe(true);
    expect(unseals()).toBe(1);
  });

  it("a session whose payload is an object is decoded afresh for each request: one page's change stays its own", async () => {
    const { read, unseals } = await setup({ ...base, sessionPayload: { sub: "alice", roles: ["a"] } });
    const first = (await read()) as Session & { sessionPayload: { roles: string[] } };
    first.sessionPayload.roles.push("admin");
    const second = await read();
    expect(second?.sessionPayload).toEqual({ sub: "alice", roles: ["a"] });
    expect(unseals()).toBe(2);
  });

  it("keeps at most maxEntries sessions, dropping the oldest", async () => {
    const sessions = createSessionCache(2);
    sessions.remember("a", base);
    sessions.remember("b", base);
    sessions.remember("c", base);
    expect(sessions.get("a")).toBeUndefined();
    expect(sessions.get("b")).toBe(base);
    expect(sessions.get("c")).toBe(base);
  });

  it("a tampered value is neither kept nor read", async () => {
    const { sessions, cookies } = await setup(base);
    const tampered = `${cookies.tokenkeep!.slice(0, -2)}AA`;
    const context = makeContext("http://app.test/", { cookies: { tokenkeep: tampered } });
    const io: SessionCookieContext = {
      jar: context.cookies,
      secure: false,
      settings,
      sealer: createCookieSealer([SECRET], settings.name),
      now: () => NOW,
      sessions,
    };
    expect(await readSessionCookie(io)).toBeUndefined();
    expect(sessions.get(tampered)).toBeUndefined();
  });
});
