import type * as nodeCrypto from "node:crypto";
import { randomBytes } from "node:crypto";
import { parseScryptPhc } from "@tokenkeep/pat-protocol";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import { hashSecret, verifySecret } from "./scrypt";

describe("scrypt", () => {
  it("compares the derived key with node:crypto's timingSafeEqual, as the README says", async () => {
    const builtin = process.getBuiltinModule("node:crypto") as typeof nodeCrypto;
    const spy = vi.spyOn(builtin, "timingSafeEqual");
    onTestFinished(() => spy.mockRestore());
    const secret = randomBytes(32);
    const phc = await hashSecret(secret, { log2Cost: 4 });
    expect(await verifySecret(secret, phc)).toBe(true);
    expect(await verifySecret(randomBytes(32), phc)).toBe(false);
    expect(spy).toHaveBeenCalledTimes(2);
  });

  it("hashes with N=16384, r=8, p=1, a 16-byte salt and a 32-byte key by default", async () => {
    const secret = randomBytes(32);
    const phc = await hashSecret(secret);
    const match = /^\$scrypt\$ln=14,r=8,p=1\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$/.exec(phc);
    expect(match).not.toBeNull();
    expect(Buffer.from(match![1]!, "base64")).toHaveLength(16);
    expect(Buffer.from(match![2]!, "base64")).toHaveLength(32);
    expect(await verifySecret(secret, phc)).toBe(true);
  });

  it("hashes at every accepted cost a PHC that verifies, and refuses a cost the protocol would not verify", async () => {
    const secret = randomBytes(32);
    const highest = await hashSecret(secret, { log2Cost: 16 });
    expect(parseScryptPhc(highest)).toMatchObject({ log2Cost: 16 });
    expect(await verifySecret(secret, highest)).toBe(true);
    for (const log2Cost of [0, 17, 20, 1.5]) {
      await expect(hashSecret(secret, { log2Cost })).rejects.toMatchObject({
        name: "TypeError",
        code: "ERR_TOKENKEEP_INVALID_OPTIONS",
      });
    }
  });

  it("names an unknown option and never echoes the secret", async () => {
    const secret = randomBytes(32);
    const error = await hashSecret(secret, { log2cost: 4 } as never).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: "TypeError", code: "ERR_TOKENKEEP_INVALID_OPTIONS" });
    expect(String((error as Error).message)).toContain("log2Cost");
  });

  it("salts every hash", async () => {
    const secret = randomBytes(32);
    expect(await hashSecret(secret, { log2Cost: 4 })).not.toBe(await hashSecret(secret, { log2Cost: 4 }));
  });

  it("rejects another secret, a tampered hash and unsupported PHC strings", async () => {
    const secret = randomBytes(32);
    const phc = await hashSecret(secret, { log2Cost: 4 });
    expect(await verifySecret(randomBytes(32), phc)).toBe(false);
    const tampered = phc.slice(0, -2) + (phc.endsWith("AA") ? "BA" : "AA");
    expect(await verifySecret(secret, tampered)).toBe(false);
    expect(await verifySecret(secret, phc.replace("$scrypt$", "$argon2id$"))).toBe(false);
    expect(await verifySecret(secret, "")).toBe(false);
  });

  it("verifies PHC strings written by other scrypt implementations (node:crypto reference vector)", async () => {
    // RFC 7914 section 12, third vector, truncated to 32 bytes: P="pleaseletmein", S="SodiumChloride", N=16384, r=8, p=1.
    const phc = "$scrypt$ln=14,r=8,p=1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofI";
    expect(await verifySecret(new TextEncoder().encode("pleaseletmein"), phc)).toBe(true);
  });
});
