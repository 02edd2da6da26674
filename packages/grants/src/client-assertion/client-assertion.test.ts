import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../../test/reliability/src/secret-assert.js";
import { clientCredentialsGrant } from "../index.js";
import { clientSecretJwt, privateKeyJwt } from "./index.js";
import { isCertificateInput } from "./signing-key.js";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" });

function problems(make: () => unknown): string[] {
  try {
    make();
  } catch (error) {
    expect(error).toMatchObject({ name: "TypeError", code: "ERR_TOKENKEEP_INVALID_OPTIONS" });
    return (error as { cause: string[] }).cause;
  }
  throw new Error("expected a TypeError");
}

describe("privateKeyJwt options", () => {
  it("refuses public keys, secrets and certificates as the key, naming no key material", () => {
    const publicJwk = rsa.publicKey.export({ format: "jwk" });
    const spki = rsa.publicKey.export({ format: "pem", type: "spki" }) as string;
    for (const key of [publicJwk, spki, "s3cret", 42]) {
      const found = problems(() => privateKeyJwt({ key: key as never }));
      expect(found).toEqual([expect.stringMatching(/^key: expected a private CryptoKey/)]);
      expectNoSecretIn(found.join(), typeof key === "string" ? key : String(publicJwk.n), "the problems");
    }
  });

  it("needs an algorithm for a PEM or a key of another curve, and one matching a CryptoKey", async () => {
    const pem = rsa.privateKey.export({ format: "pem", type: "pkcs8" }) as string;
    expect(problems(() => privateKeyJwt({ key: pem }))).toEqual([
      expect.stringMatching(/^algorithm: required/),
    ]);
    expect(problems(() => privateKeyJwt({ key: p384.privateKey.export({ format: "jwk" }) }))).toEqual([
      expect.stringMatching(/^algorithm: required/),
    ]);
    const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign"])) as CryptoKeyPair;
    expect(problems(() => privateKeyJwt({ key: pair.privateKey, algorithm: "ES256" }))).toEqual([
      "algorithm: the CryptoKey is not a ES256 key",
    ]);
    expect(() => privateKeyJwt({ key: pem, algorithm: "PS256" })).not.toThrow();
  });

  it("checks audience, lifetime, certificate and unknown keys", () => {
    const key = rsa.privateKey.export({ format: "jwk" });
    expect(
      problems(() =>
        privateKeyJwt({
          key,
          audience: "somewhere",
          lifetimeMs: 0,
          certificate: "<cert>",
          keyid: "x",
        } as never),
      ),
    ).toEqual([
      "(options): unknown option `keyid` - did you mean `keyId`?",
      expect.stringMatching(/^audience: /),
      expect.stringMatching(/^lifetimeMs: /),
      expect.stringMatching(/^certificate: /),
    ]);
  });

  it("refuses an RSA key under 2048 bits, which jose never signs with: at once, or at the first request", async () => {
    const short = (await crypto.subtle.generateKey(
      {
        name: "RSASSA-PKCS1-v1_5",
        modulusLength: 1024,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: "SHA-256",
      },
      true,
      ["sign", "verify"],
    )) as CryptoKeyPair;
    expect(problems(() => privateKeyJwt({ key: short.privateKey }))).toEqual([
      "key: an RSA key needs at least 2048 bits",
    ]);
    // A JWK is only imported at the first request: the same options error, then, and nothing sent.
    const creator = clientCredentialsGrant({
      tokenUrl: "http://127.0.0.1:9/token",
      clientId: "a",
      clientAuthentication: privateKeyJwt({ key: await crypto.subtle.exportKey("jwk", short.privateKey) }),
    });
    await expect(creator()).rejects.toMatchObject({
      code: "ERR_TOKENKEEP_INVALID_OPTIONS",
      message: "invalid privateKeyJwt options: key: not a usable RS256 private key",
    });
  });

  it("a PEM that does not import fails the request as an options error", async () => {
    const pem = rsa.privateKey.export({ format: "pem", type: "pkcs8" }) as string;
    const creator = clientCredentialsGrant({
      tokenUrl: "http://127.0.0.1:9/token",
      clientId: "a",
      clientAuthentication: privateKeyJwt({ key: pem, algorithm: "ES256" }),
    });
    await expect(creator()).rejects.toMatchObject({
      code: "ERR_TOKENKEEP_INVALID_OPTIONS",
      message: "invalid privateKeyJwt options: key: not a usable ES256 private key",
    });
  });
});

describe("isCertificateInput", () => {
  it("takes a PEM or the Base64 of a DER SEQUENCE, never an empty or body-less certificate", () => {
    // The smallest DER SEQUENCE (an INTEGER 0 inside): the shape of a certificate, checked by length.
    const der = "MAMCAQA=";
    const pem = `-----BEGIN CERTIFICATE-----\n${der}\n-----END CERTIFICATE-----\n`;
    const old = `-----BEGIN X509 CERTIFICATE-----\n${der}\n-----END X509 CERTIFICATE-----`;
    const keyFirst = `-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n${pem}`;
    for (const good of [der, pem, old, keyFirst]) {
      expect(isCertificateInput(good)).toBe(true);
    }
    for (const bad of [
      "",
      "   \n",
      "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----",
      "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----",
      btoa("not really DER, but Base64 all the same"),
      "MAQCAQA=", // a SEQUENCE whose length says one byte more than there is
      "MIA=", // an indefinite length, which DER never has
      "MAMCAQ=", // padding short of a multiple of 4, which atob throws for
      "ab=",
      "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678", // a SHA-1 thumbprint in hex
      "under_score",
      "abcde",
      42,
    ]) {
      expect(isCertificateInput(bad)).toBe(false);
    }
  });

  it("makes privateKeyJwt refuse an empty certificate when it is made", () => {
    const key = rsa.privateKey.export({ format: "jwk" });
    expect(problems(() => privateKeyJwt({ key, certificate: "" }))).toEqual([
      expect.stringMatching(/^certificate: /),
    ]);
  });
});

describe("JWT client authentication in a creator's options", () => {
  it("needs clientId but no clientSecret", () => {
    const clientAuthentication = clientSecretJwt({ secret: "s" });
    expect(() => clientCredentialsGrant({ tokenUrl: "https://a.example/t", clientAuthentication })).toThrow(
      "clientId: required with client_secret_jwt",
    );
    expect(() =>
      clientCredentialsGrant({ tokenUrl: "https://a.example/t", clientId: "a", clientAuthentication }),
    ).not.toThrow();
  });

  it("still names the built-in methods for anything else", () => {
    expect(() =>
      clientCredentialsGrant({
        tokenUrl: "https://a.example/t",
        clientId: "a",
        clientAuthentication: { method: "x" } as never,
      }),
    ).toThrow(/clientAuthentication: expected one of "client_secret_basic"/);
  });

  it("clientSecretJwt refuses an empty secret and an unknown algorithm", () => {
    expect(problems(() => clientSecretJwt({ secret: "", algorithm: "RS256" as never }))).toEqual([
      expect.stringMatching(/^secret: /),
      expect.stringMatching(/^algorithm: expected one of "HS256", "HS384", "HS512"/),
    ]);
  });
});
