import { base64url, EmbeddedJWK, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { createDPoP, type DPoP } from "./dpop.js";

/** The DPoP header the wrapper adds to one request, sent to a fetch that answers at once. */
async function proofOf(dpop: DPoP, url: string, init?: RequestInit): Promise<string> {
  let proof: string | null = null;
  const wrapped = dpop.wrap(async (input, options) => {
    proof = new Request(input, options).headers.get("dpop");
    return new Response(null, { status: 204 });
  });
  await wrapped(url, init);
  if (proof === null) throw new Error("no proof was sent");
  return proof;
}

const sha256 = async (text: string) =>
  base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))));

describe("createDPoP proofs (RFC 9449 section 4.2)", () => {
  it("are dpop+jwt JWS signed by the public JWK in their header, with iat from the now option", async () => {
    const dpop = createDPoP({ now: () => 1_700_000_000_999 });
    const proof = await proofOf(dpop, "https://api.example/items?page=2#top", {
      headers: { authorization: "DPoP the-token" },
    });
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: "dpop+jwt" });
    expect(protectedHeader).toEqual({
      alg: "ES256",
      typ: "dpop+jwt",
      jwk: { kty: "EC", crv: "P-256", x: expect.any(String), y: expect.any(String) },
    });
    expect(payload).toEqual({
      htm: "GET",
      htu: "https://api.example/items",
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      iat: 1_700_000_000,
      ath: await sha256("the-token"),
    });
    const again = await proofOf(dpop, "https://api.example/items", {
      headers: { authorization: "DPoP the-token" },
    });
    expect((await jwtVerify(again, EmbeddedJWK)).payload.jti).not.toBe(payload.jti);
  });

  it("are EdDSA with an Ed25519 key pair", async () => {
    const keyPair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const proof = await proofOf(createDPoP({ keyPair }), "https://auth.example/token", {
      method: "POST",
      body: "grant_type=client_credentials",
    });
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: "dpop+jwt" });
    expect(protectedHeader).toEqual({
      alg: "EdDSA",
      typ: "dpop+jwt",
      jwk: { kty: "OKP", crv: "Ed25519", x: expect.any(String) },
    });
    expect(payload).not.toHaveProperty("ath");
    expect(payload).toMatchObject({ htm: "POST", htu: "https://auth.example/token" });
  });
});
