import { describe, expect, it } from "vitest";
import { generateSigningKey } from "./signing-keys";
import { generateToken } from "./token-generator";

const invalid = { name: "TypeError", code: "ERR_TOKENKEEP_INVALID_OPTIONS" };

describe("generateToken and generateSigningKey options", () => {
  it("refuse a malformed token id or prefix, an unknown option, and a cost out of range", async () => {
    await expect(generateToken({ tokenId: "short", scryptLog2Cost: 4 })).rejects.toMatchObject(invalid);
    await expect(generateToken({ prefix: "pat_ with space", scryptLog2Cost: 4 })).rejects.toMatchObject(
      invalid,
    );
    await expect(generateToken({ prefix: "", scryptLog2Cost: 4 })).rejects.toMatchObject(invalid);
    await expect(generateToken({ scryptLog2Cost: 40 })).rejects.toMatchObject(invalid);
    const misspelt = (await generateToken({ tokenID: "x" } as never).catch((error: Error) => error)) as Error;
    expect(misspelt).toMatchObject(invalid);
    expect(misspelt.message).toContain("tokenId");
  });

  it("honour a valid token id and prefix", async () => {
    const tokenId = "AbCdEfGhIjKlMnOpQrStU";
    const made = await generateToken({ tokenId, prefix: "tk_", scryptLog2Cost: 4 });
    expect(made.tokenId).toBe(tokenId);
    expect(made.token.startsWith(`tk_${tokenId}.`)).toBe(true);
  });

  it("refuse an unknown algorithm, an empty kid and an unknown option", async () => {
    await expect(generateSigningKey({ alg: "HS256" as never })).rejects.toMatchObject(invalid);
    await expect(generateSigningKey({ kid: "" })).rejects.toMatchObject(invalid);
    const misspelt = (await generateSigningKey({ algorithm: "RS256" } as never).catch(
      (error: Error) => error,
    )) as Error;
    expect(misspelt).toMatchObject(invalid);
    expect(misspelt.message).toContain("alg");
    expect(await generateSigningKey({ kid: "k1" })).toMatchObject({ kid: "k1", alg: "EdDSA", use: "sig" });
  });
});
