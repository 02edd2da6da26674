import { describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import {
  type CookieSealer,
  createCookieSealer,
  createPlainSealer,
  MIN_SECRET_LENGTH,
  withUnsealCache,
} from "./cookie-seal.js";

const OLD = "old-secret-old-secret-old-secret-0000";
const NEW = "new-secret-new-secret-new-secret-1111";
const TOKEN = "access-token-that-must-not-show-9f8e";

describe("cookie sealing (AES-256-GCM)", () => {
  it("round-trips, and the sealed value shows nothing of the plaintext", async () => {
    const sealer = createCookieSealer([NEW], "tokenkeep");
    const sealed = await sealer.seal(JSON.stringify({ a: TOKEN }));
    expect(sealed).toMatch(/^tk1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expectNoSecretIn(sealed, TOKEN, "the sealed value");
    expectNoSecretIn(
      atob(sealed.split(".")[3]!.replaceAll("-", "+").replaceAll("_", "/")),
      TOKEN,
      "the sealed value's decoded ciphertext",
    );
    expect(await sealer.unseal(sealed)).toBe(JSON.stringify({ a: TOKEN }));
  });

  it("uses a fresh IV per value", async () => {
    const sealer = createCookieSealer([NEW], "tokenkeep");
    expect(await sealer.seal("same")).not.toBe(await sealer.seal("same"));
  });

  it("rejects a value that was tampered with", async () => {
    const sealer = createCookieSealer([NEW], "tokenkeep");
    const sealed = await sealer.seal("payload");
    const parts = sealed.split(".");
    const data = parts[3]!;
    parts[3] = (data[0] === "A" ? "B" : "A") + data.slice(1);
    expect(await sealer.unseal(parts.join("."))).toBeUndefined();
    expect(await sealer.unseal(`${sealed}.extra`)).toBeUndefined();
    expect(await sealer.unseal("tk1.x.y")).toBeUndefined();
    expect(await sealer.unseal("not sealed at all")).toBeUndefined();
  });

  it("binds the value to the cookie name", async () => {
    const sealed = await createCookieSealer([NEW], "tokenkeep").seal("payload");
    expect(await createCookieSealer([NEW], "other").unseal(sealed)).toBeUndefined();
  });

  it("rotates keys: the first secret seals, every listed secret unseals, a dropped one does not", async () => {
    const before = await createCookieSealer([OLD], "tokenkeep").seal("old session");
    const rotated = createCookieSealer([NEW, OLD], "tokenkeep");
    expect(await rotated.unseal(before)).toBe("old session");
    const after = await rotated.seal("new session");
    expect(await createCookieSealer([NEW], "tokenkeep").unseal(after)).toBe("new session");
    expect(await createCookieSealer([NEW], "tokenkeep").unseal(before)).toBeUndefined();
    expect(await createCookieSealer([OLD], "tokenkeep").unseal(after)).toBeUndefined();
  });

  it("derives its keys again after a derivation that failed", async () => {
    const sealer = createCookieSealer([NEW], "tk_s");
    const deriveKey = crypto.subtle.deriveKey;
    crypto.subtle.deriveKey = () => Promise.reject(new Error("no key this time"));
    try {
      await expect(sealer.seal("x")).rejects.toThrow("no key this time");
    } finally {
      crypto.subtle.deriveKey = deriveKey;
    }
    expect(await sealer.unseal(await sealer.seal("x"))).toBe("x");
  });

  it("refuses short secrets and an empty list", () => {
    expect(() => createCookieSealer(["x".repeat(MIN_SECRET_LENGTH - 1)], "tokenkeep")).toThrow(TypeError);
    expect(() => createCookieSealer([], "tokenkeep")).toThrow(TypeError);
  });

  it("the development sealer only encodes, and says so", async () => {
    const plain = createPlainSealer();
    expect(plain.sealed).toBe(false);
    const value = await plain.seal("hello");
    expect(value.startsWith("tk0.")).toBe(true);
    expect(await plain.unseal(value)).toBe("hello");
    // A sealed value is not mistaken for a plain one, nor the other way round.
    expect(await plain.unseal(await createCookieSealer([NEW], "t").seal("x"))).toBeUndefined();
    expect(await createCookieSealer([NEW], "t").unseal(value)).toBeUndefined();
  });

  it("the unseal cache decrypts a value once, never caches a failure, and stays bounded", async () => {
    const inner = createCookieSealer([NEW], "tokenkeep");
    let decryptions = 0;
    const counting: CookieSealer = {
      sealed: true,
      seal: (plaintext) => inner.seal(plaintext),
      unseal: (value) => {
        decryptions++;
        return inner.unseal(value);
      },
    };
    const cached = withUnsealCache(counting, 2);
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((text) => cached.seal(text)));
    expect(await cached.unseal(a!)).toBe("a");
    expect(await cached.unseal(a!)).toBe("a");
    expect(decryptions).toBe(1);
    expect(await cached.unseal(`${a!}x`)).toBeUndefined();
    expect(await cached.unseal(`${a!}x`)).toBeUndefined();
    expect(decryptions).toBe(3);
    await cached.unseal(b!);
    await cached.unseal(c!); // a is the least recently used: dropped
    expect(await cached.unseal(a!)).toBe("a");
    expect(decryptions).toBe(6);
  });
});
