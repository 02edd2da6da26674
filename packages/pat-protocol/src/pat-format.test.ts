import { describe, expect, it } from "vitest";
import { registerSecret } from "../../../test/reliability/src/secret-registry.js";
import { formatPat, isTokenId, parsePat } from "./pat-format";

const id = "AbCdEfGhIjKlMnOpQrStU";
/** A random PAT secret (32 bytes, standard base64), registered: the run searches its output for it. */
const secret = registerSecret(
  btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32)))),
  "PAT secret",
);

describe("parsePat", () => {
  it("splits a well-formed PAT of 70 characters", () => {
    const token = formatPat(id, secret);
    expect(token).toHaveLength(70);
    expect(parsePat(token)).toEqual({ ok: true, tokenId: id, secret });
  });

  it("honours a custom prefix", () => {
    expect(parsePat(formatPat(id, secret, { prefix: "tk_" }), { prefix: "tk_" }).ok).toBe(true);
    expect(parsePat(formatPat(id, secret), { prefix: "tk_" })).toEqual({
      ok: false,
      reason: "invalid_prefix",
    });
  });

  it.each([
    ["wrong prefix", `xat_${id}.${secret}`, "invalid_prefix"],
    ["over 200 characters", `pat_${"a".repeat(200)}`, "invalid_format"],
    ["no dot", `pat_${id}${secret}`, "invalid_format"],
    ["two dots", `pat_${id}.${secret}.x`, "invalid_format"],
    ["short id", `pat_${id.slice(1)}.${secret}`, "invalid_format"],
    ["id with odd characters", `pat_${id.slice(1)}-.${secret}`, "invalid_format"],
    ["url-safe base64", `pat_${id}.${"_".repeat(42)}Q=`, "invalid_format"],
    ["characters the original let through", `pat_${id}.${",.:<@[\\".repeat(6)}Q=`, "invalid_format"],
    ["missing padding", `pat_${id}.${"A".repeat(42)}Q`, "invalid_format"],
    ["non-canonical last character", `pat_${id}.${"A".repeat(42)}B=`, "invalid_format"],
    ["short secret", `pat_${id}.AAAA`, "invalid_format"],
  ])("rejects %s", (_name, token, reason) => {
    expect(parsePat(token)).toEqual({ ok: false, reason });
  });

  it("rejects non-strings without throwing", () => {
    expect(parsePat(42 as unknown as string).ok).toBe(false);
  });
});

describe("isTokenId", () => {
  it("accepts 21 alphanumerics only", () => {
    expect(isTokenId(id)).toBe(true);
    expect(isTokenId(`${id}x`)).toBe(false);
    expect(isTokenId("../../etc/passwd0000000")).toBe(false);
    expect(isTokenId(undefined)).toBe(false);
  });
});
