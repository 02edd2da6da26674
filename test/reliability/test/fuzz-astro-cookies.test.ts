/**
 * fast-check: the Astro integration's cookie boundary. Random `Cookie` headers (the session cookie
 * whole and in chunks `<name>.0`, `.1`..., with values that are random text, cut or altered sealed
 * values, sealed values from another key or another cookie name, and sealed non-sessions) go to
 * `readChunked`, the sealer's `unseal`, `readSessionCookie`, and the whole middleware in front of a
 * page: never a thrown error, never a 5xx, and a value that does not unseal into a session is no
 * session. Seeds: see src/fuzz.ts.
 *
 * The cookie modules and the middleware factory are internal to `@tokenkeep/astro` (its public entry
 * is the integration), so they are imported from its source, as its own tests do; so is its test
 * helper that builds a real Astro `APIContext`.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../../packages/astro/src/config/schema";
import { readChunked } from "../../../packages/astro/src/cookie-chunks";
import { createCookieSealer } from "../../../packages/astro/src/cookie-seal";
import { createTokenkeepMiddleware } from "../../../packages/astro/src/middleware/handler";
import { encodeSession } from "../../../packages/astro/src/session";
import { readSessionCookie } from "../../../packages/astro/src/session-cookies";
import { makeContext } from "../../../packages/astro/test/helpers/context";
import { check } from "../src/fuzz";
import { mintSecret } from "../src/secrets";

const NAME = "tokenkeep";
const SECRET = mintSecret("cookie secret").padEnd(40, "x");
const OTHER_SECRET = mintSecret("cookie secret").padEnd(40, "y");
const sealer = createCookieSealer([SECRET], NAME);
const settings = { name: NAME, domain: undefined, maxAgeS: 1000 };
const now = 1_800_000_000_000;

const validSession = fc.record({
  accessToken: fc.string({ minLength: 1, maxLength: 40 }),
  tokenType: fc.constant("Bearer"),
  // Mostly near now: inside the refresh window (so the middleware rotates), expired, or well ahead.
  expiresAt: fc.oneof(
    fc.integer({ min: now - 120_000, max: now + 120_000 }),
    fc.integer({ min: now - 10_000_000, max: now + 10_000_000 }),
  ),
  refreshToken: fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: undefined }),
});

/** A cookie value: random text, or something sealed (then maybe cut, altered or from the wrong key). */
const cookieValue = fc.oneof(
  // An intact session sealed with the right key (a third of the values), so sessions are read.
  {
    arbitrary: validSession.map((session) => ({
      plaintext: encodeSession(session),
      key: "same",
      damage: "whole",
      at: 0,
    })),
    weight: 2,
  },
  fc.string({ maxLength: 60 }),
  fc.string({ unit: fc.constantFrom(...'tk01.abcXYZ-_=%;, "\\'.split("")), maxLength: 80 }),
  fc
    .tuple(
      fc.oneof(validSession.map(encodeSession), fc.json(), fc.string()),
      fc.constantFrom("same", "other key", "other name"),
      fc.constantFrom("whole", "cut", "flip", "prefix", "extra part"),
      fc.nat(),
    )
    .map(([plaintext, key, damage, at]) => ({ plaintext, key, damage, at })),
);

/** The cookie text of a generated value (sealing happens here: fast-check arbitraries are synchronous). */
async function realise(value: unknown): Promise<string> {
  if (typeof value === "string") return value;
  const { plaintext, key, damage, at } = value as {
    plaintext: string;
    key: string;
    damage: string;
    at: number;
  };
  const by =
    key === "same"
      ? sealer
      : key === "other key"
        ? createCookieSealer([OTHER_SECRET], NAME)
        : createCookieSealer([SECRET], "another-cookie");
  const sealed = await by.seal(plaintext);
  const i = at % Math.max(sealed.length, 1);
  switch (damage) {
    case "cut":
      return sealed.slice(0, i);
    case "flip":
      return `${sealed.slice(0, i)}${sealed[i] === "A" ? "B" : "A"}${sealed.slice(i + 1)}`;
    case "prefix":
      return `tk0.${sealed.slice(4)}`;
    case "extra part":
      return `${sealed}.x`;
    default:
      return sealed;
  }
}

/** A jar: the whole cookie, chunks (maybe with a gap), and noise cookies. */
const jar = fc.record({
  whole: fc.option(cookieValue, { nil: undefined }),
  chunks: fc.array(cookieValue, { maxLength: 4 }),
  split: fc.option(cookieValue, { nil: undefined }),
  gap: fc.boolean(),
  noise: fc.dictionary(
    fc.string({ unit: fc.constantFrom(..."abtokenkep.0123".split("")), minLength: 1, maxLength: 12 }),
    fc.string({ maxLength: 20 }),
    { maxKeys: 3 },
  ),
});

async function cookiesOf(generated: {
  whole?: unknown;
  chunks: unknown[];
  split?: unknown;
  gap: boolean;
  noise: Record<string, string>;
}): Promise<Record<string, string>> {
  const cookies: Record<string, string> = {};
  for (const [name, value] of Object.entries(generated.noise)) {
    // A name with `=`, `;` or nothing would not be one cookie; encodeURIComponent keeps them names.
    cookies[encodeURIComponent(name)] = encodeURIComponent(value);
  }
  if (generated.whole !== undefined) cookies[NAME] = await realise(generated.whole);
  const pieces = await Promise.all(generated.chunks.map(realise));
  if (generated.split !== undefined) {
    // A real sealed value spread over chunks, as writeChunked spreads a long one.
    const sealed = await realise(generated.split);
    const third = Math.ceil(sealed.length / 3) || 1;
    for (let start = 0; start < sealed.length; start += third)
      pieces.push(sealed.slice(start, start + third));
  }
  pieces.forEach((piece, index) => {
    if (!(generated.gap && index === 1)) cookies[`${NAME}.${index}`] = piece;
  });
  return cookies;
}

const middleware = createTokenkeepMiddleware(
  parseConfig({
    cookie: { secrets: [SECRET] },
    now: () => now,
    upstream: {
      signIn: async () => {
        throw new Error("not used");
      },
      // A session inside its refresh window rotates: the upstream answers at once, as a healthy one.
      refresh: async ({ refreshToken }) => ({
        accessToken: `${refreshToken}-next-access`,
        tokenType: "Bearer",
        expiresAt: now + 600_000,
        refreshToken: `${refreshToken}-next`,
        raw: {},
      }),
    },
  }),
  { dev: false },
);
afterAll(() => middleware.dispose());

describe("Astro cookies", () => {
  it("readChunked, unseal and readSessionCookie never throw; what does not unseal is no session", async () => {
    let sessions = 0;
    await check(
      "astro cookie read",
      fc.asyncProperty(jar, async (generated) => {
        const cookies = await cookiesOf(generated);
        const context = makeContext("https://app.test/", { cookies });
        const value = readChunked(context.cookies, NAME);
        const plaintext = value === undefined ? undefined : await sealer.unseal(value);
        // It answers synchronously from its session cache, else with a promise: a throw of either kind counts.
        const session = await Promise.resolve()
          .then(() =>
            readSessionCookie({
              jar: context.cookies,
              secure: true,
              settings: { ...settings, name: `__Host-${NAME}` },
              sealer,
              now: () => now,
            }),
          )
          .catch((error: unknown) => ({ threw: error }));
        expect(
          session === undefined || !("threw" in session),
          String((session as { threw?: unknown })?.threw),
        ).toBe(true);
        const plain = await readSessionCookie({
          jar: context.cookies,
          secure: false,
          settings,
          sealer,
          now: () => now,
        });
        if (plaintext === undefined) expect(plain).toBeUndefined();
        if (plain !== undefined) {
          sessions++;
          expect(typeof plain.accessToken).toBe("string");
        }
      }),
    );
    expect(
      sessions,
      "no generated jar carried a readable session: the property tested nothing",
    ).toBeGreaterThan(0);
  });

  it("the middleware in front of a page: never a thrown error, never a 5xx", async () => {
    const before = middleware.stats();
    await check(
      "astro middleware cookies",
      fc.asyncProperty(jar, fc.constantFrom("/", "/account", "/api/x"), async (generated, path) => {
        const cookies = await cookiesOf(generated);
        const context = makeContext(`http://app.test${path}`, { cookies });
        const response = (await middleware(context as never, async () => new Response("page"))) as Response;
        expect(response.status).toBeLessThan(500);
      }),
    );
    // Some requests carried sessions inside their refresh window: the middleware rotated them.
    expect(middleware.stats().rotations).toBeGreaterThan(before.rotations);
  });
});
