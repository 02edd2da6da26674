import { once } from "node:events";
import { createServer, type Server } from "node:net";
import { inspect } from "node:util";
import { isNetworkError, isTimeoutError, isTransientError, NetworkError } from "@tokenkeep/core";
import { createClient, RESP_TYPES } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../test/reliability/src/secret-assert.js";
import { mintSecret, registerSecret } from "../../../test/reliability/src/secret-registry.js";
import { redisUrlOrSkip, uniquePrefix } from "../test/support/redis-url.js";
import { startTcpProxy } from "../test/support/tcp-proxy.js";
import { createRedisStore, type RedisStore } from "./redis-store.js";

const url = redisUrlOrSkip("redis-store.test.ts");
/** A random AES-256 key, registered as base64 (secret-registry.ts); the run searches its output for it. */
const KEY_BYTES = crypto.getRandomValues(new Uint8Array(32));
registerSecret(Buffer.from(KEY_BYTES).toString("base64"), "encryption key");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries `operation` for a few seconds: on a loaded machine the first connection may be slow. */
async function eventually<T>(operation: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= 30) throw error;
      await sleep(100);
    }
  }
}

describe("createRedisStore options", () => {
  it("needs exactly one of client and url", () => {
    expect(() => createRedisStore({})).toThrow(TypeError);
    const client = createClient();
    expect(() => createRedisStore({ client, url: "redis://127.0.0.1:1" })).toThrow(
      /client: give exactly one of client and url/,
    );
  });

  it("reports every bad option as path: message, with a code, never echoing the values", () => {
    let caught: unknown;
    try {
      createRedisStore({
        url: "http://user:hunter2@example.test",
        encryptionKey: "c2hvcnQ=",
        decryptionKeys: [Buffer.from(KEY_BYTES).toString("base64"), "c2hvcnQ="],
        timeoutMs: -1,
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TypeError);
    const error = caught as TypeError & { code: string; cause: string[] };
    expect(error.code).toBe("ERR_TOKENKEEP_INVALID_OPTIONS");
    expect(error.cause).toEqual(
      expect.arrayContaining([
        "url: must be a redis:// or rediss:// URL",
        "encryptionKey: must decode to 32 bytes (AES-256)",
        "decryptionKeys.1: must decode to 32 bytes (AES-256)",
        expect.stringMatching(/^timeoutMs: /),
      ]),
    );
    expectNoSecretIn(
      error.message,
      { "the URL's password": "hunter2", "the key": "c2hvcnQ" },
      "the error's message",
    );
  });

  it("refuses a URL node-redis cannot use with its own TypeError, never echoing any part of it", () => {
    // Base64-like, with a `/` that ends the authority early unless percent-encoded.
    const password = `${mintSecret("a URL's password", { prefix: "Zm9v/" })}+==`;
    const bad = [
      `redis://:${password}@cache.internal:6379`, // base64 with `/`: the authority ends early
      `redis://tk-user:${password.replace("/", "#")}@cache.internal:6379`, // `#`: the rest is a fragment
      `redis://tk-user:${password.replace("/", "?")}@cache.internal:6379`, // `?`: the rest is a query
      `redis://tk-user:6379/${password}@cache.internal`, // a path that is no database number
      `redis://tk-user:${password}%zz@cache.internal:6379`, // a `%` that encodes nothing
      `redis://tk-user:${password.replace("/", "%2F")}@cache.internal:65536`, // a port above 65535
      `redis://tk-user:${password.replace("/", "%2F")}@cache.internal:0`,
      `redis://tk-user:${password.replace("/", "%2F")}@[::1:6379`, // an IPv6 host not closed
      `redis://:${password.replace("/", "%2F")}@/0`,
      // A `?` or `#` in a password that starts with digits, or in a user name: the URL parses, with
      // the user name as its host and the rest of the user info in the query or fragment.
      `redis://tk-user:6379${password.replace("/", "?")}@cache.internal`,
      `redis://tk-user:6379${password.replace("/", "#")}@cache.internal/0`,
      `redis://${password.replace("/", "?")}@cache.internal:6379/0`,
      `rediss://tk-user:6379${password.replace("/", "?")}@cache.internal:6380/0?ssl_cert_reqs=none`,
    ];
    for (const url of bad) {
      let caught: unknown;
      try {
        createRedisStore({ url });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(TypeError);
      const error = caught as TypeError & { code: string; cause: unknown };
      expect(error.code).toBe("ERR_TOKENKEEP_INVALID_OPTIONS");
      expect(error.cause).toEqual([expect.stringMatching(/^url: /)]);
      const secrets = {
        "the URL": url,
        "the password": password,
        "the password's end": password.slice(-20),
        "the user name": "tk-user",
      };
      expectNoSecretIn(error, secrets, "the error");
      expectNoSecretIn(inspect(error, { showHidden: true, depth: 10 }), secrets, "the error, inspected");
      for (let cause: unknown = error.cause, depth = 0; cause !== undefined && depth < 5; depth++) {
        expectNoSecretIn(inspect(cause, { showHidden: true, depth: 10 }), secrets, "the error's cause");
        cause = (cause as { cause?: unknown }).cause;
      }
    }
    // The same password percent-encoded is accepted (node-redis decodes it), as is a database number.
    const encoded = `redis://tk-user:${encodeURIComponent(password)}@127.0.0.1:1/2`;
    return createRedisStore({ url: encoded }).close();
  });

  it("accepts a query or fragment without an `@` (node-redis ignores both)", async () => {
    const password = mintSecret("a URL's password", { prefix: "tk-" });
    const accepted = [
      `rediss://:${password}@cache.internal:6380/0?ssl_cert_reqs=none`,
      "redis://cache.internal:6379#primary",
      `redis://tk-user:${password}@127.0.0.1:1/2?protocol=3&client_name=a#b`,
    ];
    for (const url of accepted) await createRedisStore({ url, timeoutMs: 50 }).close();
  });

  it("accepts a key as base64 (both alphabets), raw bytes or an AES-GCM CryptoKey", async () => {
    const base64 = Buffer.from(KEY_BYTES).toString("base64");
    const base64url = Buffer.from(new Uint8Array(32).fill(251)).toString("base64url");
    const cryptoKey = await crypto.subtle.importKey("raw", KEY_BYTES, "AES-GCM", false, [
      "encrypt",
      "decrypt",
    ]);
    for (const encryptionKey of [base64, base64url, KEY_BYTES, cryptoKey]) {
      const store = createRedisStore({ client: createClient(), encryptionKey });
      await store.close();
    }
    const hmacKey = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    expect(() => createRedisStore({ client: createClient(), encryptionKey: hmacKey })).toThrow(/AES-GCM/);
    expect(() => createRedisStore({ client: createClient(), encryptionKey: new Uint8Array(16) })).toThrow(
      /32 bytes/,
    );
  });
});

describe.skipIf(!url)("createRedisStore on a real Redis", () => {
  const raw = createClient({ url });
  const stores: RedisStore[] = [];
  const open = (options: Partial<Parameters<typeof createRedisStore>[0]> = {}) => {
    const store = createRedisStore({ url, ...options } as Parameters<typeof createRedisStore>[0]);
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    raw.on("error", () => {});
    await raw.connect();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });
  afterAll(async () => {
    await raw.close();
  });

  it("works from a URL with a query and a fragment, which change nothing (database from the path)", async () => {
    const prefix = uniquePrefix("query");
    const base = new URL(url!);
    base.pathname = "/3";
    const store = open({ url: `${base.href}?ssl_cert_reqs=none&db=5#primary`, keyPrefix: prefix });
    await eventually(() => store.set("k", { n: 1 }, 60_000));
    expect(await store.get("k")).toEqual({ n: 1 });
    const db3 = createClient({ url: base.href });
    db3.on("error", () => {});
    await db3.connect();
    try {
      expect(await db3.keys(`${prefix}*`)).toHaveLength(1);
    } finally {
      await db3.close();
    }
  });

  it("stores JSON under hashed keys with PX expiry", async () => {
    const prefix = uniquePrefix("hash");
    const store = open({ keyPrefix: prefix });
    const key = "token:client=my-client&scope=read";
    await store.set(key, { accessToken: "at-123", n: 1, list: [true, null] }, 60_000);
    expect(await store.get(key)).toEqual({ accessToken: "at-123", n: 1, list: [true, null] });

    const keys = await raw.keys(`${prefix}*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(new RegExp(`^${prefix}v:[A-Za-z0-9_-]{43}$`));
    expect(keys[0]).not.toContain("my-client");
    const pttl = await raw.pTTL(keys[0]!);
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);

    await store.delete(key);
    expect(await store.get(key)).toBeUndefined();
    await store.delete(key); // absent: not an error
  });

  it("forgets an entry once its ttl passed", async () => {
    const store = open({ keyPrefix: uniquePrefix("ttl") });
    // Long enough that the get right after the set lands inside it on a loaded machine.
    await store.set("k", "v", 250);
    expect(await store.get("k")).toBe("v");
    await sleep(400);
    expect(await store.get("k")).toBeUndefined();
  });

  it("rejects a ttl that is not > 0", async () => {
    const store = open({ keyPrefix: uniquePrefix("ttl0") });
    await expect(store.set("k", "v", 0)).rejects.toThrow(TypeError);
    await expect(store.acquire("k", Number.NaN)).rejects.toThrow(TypeError);
  });

  it("reads an entry that is not JSON as unreadable, not as absent", async () => {
    const prefix = uniquePrefix("junk");
    const store = open({ keyPrefix: prefix });
    await store.set("k", "v", 60_000);
    const [key] = await raw.keys(`${prefix}*`);
    await raw.set(key!, "{not json", { expiration: { type: "PX", value: 60_000 } });
    expect(await store.get("k")).toEqual({ unreadable: true });
    expect(await store.compareAndDelete("k", { unreadable: true })).toBe(false);
    // compareAndSet compares with what `get` resolves: the unreadable entry can be replaced, but
    // only while it is still that entry.
    expect(await store.compareAndSet("k", "v", "w", 60_000)).toBe(false);
    expect(await store.compareAndSet("k", { unreadable: true }, "w", 60_000)).toBe(true);
    expect(await store.get("k")).toBe("w");
    expect(await store.compareAndSet("k", { unreadable: true }, "x", 60_000)).toBe(false);
  });

  it("encrypts values with AES-GCM bound to their key", async () => {
    const prefix = uniquePrefix("enc");
    const store = open({ keyPrefix: prefix, encryptionKey: KEY_BYTES });
    const secret = {
      accessToken: registerSecret("at-very-secret", "access token"),
      refreshToken: registerSecret("rt-very-secret", "refresh token"),
    };
    await store.set("a", secret, 60_000);
    await store.set("b", "other", 60_000);
    expect(await store.get("a")).toEqual(secret);

    const payloads = await Promise.all((await raw.keys(`${prefix}*`)).map((k) => raw.get(k)));
    for (const payload of payloads) {
      expect(payload).toMatch(/^tk1\./);
      expectNoSecretIn(payload, "very-secret", "a stored payload");
    }

    // Another key, no key, or a ciphertext moved under another Redis key: all unreadable (not absent).
    const unreadable = { unreadable: true };
    expect(await open({ keyPrefix: prefix, encryptionKey: new Uint8Array(32).fill(9) }).get("a")).toEqual(
      unreadable,
    );
    expect(await open({ keyPrefix: prefix }).get("a")).toEqual(unreadable);
    const plain = open({ keyPrefix: uniquePrefix("plain") });
    await plain.set("a", "plain", 60_000);
    expect(await open({ keyPrefix: prefix, encryptionKey: KEY_BYTES }).get("b")).toBe("other");
    const [rawA, rawB] = await Promise.all(
      (await raw.keys(`${prefix}*`)).sort().map(async (k) => [k, await raw.get(k)] as const),
    );
    await raw.set(rawA![0], rawB![1]!, { expiration: { type: "PX", value: 60_000 } });
    await raw.set(rawB![0], rawA![1]!, { expiration: { type: "PX", value: 60_000 } });
    expect(await store.get("a")).toEqual(unreadable);
    expect(await store.get("b")).toEqual(unreadable);
  });

  it("opens values with decryptionKeys too, and seals with encryptionKey only (a key change)", async () => {
    const prefix = uniquePrefix("keys");
    const next = crypto.getRandomValues(new Uint8Array(32));
    registerSecret(Buffer.from(next).toString("base64"), "encryption key");
    const old = open({ keyPrefix: prefix, encryptionKey: KEY_BYTES });
    // Step 1 of a key change: every instance opens with the next key, still seals with the old one.
    const step1 = open({ keyPrefix: prefix, encryptionKey: KEY_BYTES, decryptionKeys: [next] });
    // Step 2: seals with the next key, still opens what the old one sealed.
    const step2 = open({ keyPrefix: prefix, encryptionKey: next, decryptionKeys: [KEY_BYTES] });
    await old.set("from-old", "o", 60_000);
    await step2.set("from-step2", "n", 60_000);
    for (const store of [old, step1, step2]) expect(await store.get("from-old")).toBe("o");
    for (const store of [step1, step2]) expect(await store.get("from-step2")).toBe("n");
    // Only an instance that has the next key opens what it sealed.
    expect(await old.get("from-step2")).toEqual({ unreadable: true });
    expect(await open({ keyPrefix: prefix, encryptionKey: next }).get("from-old")).toEqual({
      unreadable: true,
    });

    // Turning encryption on: without encryptionKey, values are written as JSON text, and sealed ones
    // open with decryptionKeys. With encryptionKey, a plain value never opens (it is not authenticated).
    const plain = open({ keyPrefix: prefix, decryptionKeys: [next] });
    await plain.set("from-plain", "p", 60_000);
    expect(await plain.get("from-plain")).toBe("p");
    expect(await plain.get("from-step2")).toBe("n");
    expect(await plain.get("from-old")).toEqual({ unreadable: true });
    expect(await step2.get("from-plain")).toEqual({ unreadable: true });
    expect(await old.compareAndDelete("from-step2", "n")).toBe(false);
    expect(await step1.compareAndDelete("from-step2", "n")).toBe(true);
    // compareAndSet compares what it opens, with any of its keys, and seals with encryptionKey.
    expect(await old.compareAndSet("from-plain", "p", "x", 60_000)).toBe(false); // unreadable there
    expect(await step2.compareAndSet("from-old", "o", "o2", 60_000)).toBe(true);
    expect(await step1.get("from-old")).toBe("o2");
    expect(await old.get("from-old")).toEqual({ unreadable: true }); // sealed with the next key now
  });

  it("hands a lease to one holder at a time, with keys apart from values", async () => {
    const store = open({ keyPrefix: uniquePrefix("lease") });
    const release = await store.acquire("k", 10_000);
    expect(release).toBeTypeOf("function");
    expect(await store.acquire("k", 10_000)).toBeUndefined();
    expect(await store.get("k")).toBeUndefined();
    await release!();
    await release!(); // twice is fine
    const again = await store.acquire("k", 10_000);
    expect(again).toBeTypeOf("function");
    await again!();
  });

  it("renews a lease only while it still holds it", async () => {
    const prefix = uniquePrefix("renew");
    const a = open({ keyPrefix: prefix });
    const b = open({ keyPrefix: prefix });
    // Long enough that the renewal right after the acquire lands inside it on a loaded machine.
    const held = (await a.acquire("k", 250)) as (() => Promise<void>) & {
      renew(ttlMs: number): Promise<boolean>;
    };
    expect(await held.renew(60_000)).toBe(true);
    await sleep(400);
    expect(await b.acquire("k", 60_000)).toBeUndefined(); // renewed: still held
    await held();
    expect(await held.renew(60_000)).toBe(false);

    const lost = (await a.acquire("other", 40)) as typeof held;
    await sleep(120);
    const taker = await b.acquire("other", 60_000);
    expect(taker).toBeDefined();
    expect(await lost.renew(60_000)).toBe(false); // expired and taken: not stolen back
    expect(await a.acquire("other", 60_000)).toBeUndefined();
    await taker!();
  });

  it("never lets a holder that overran its lease release the next holder's lease", async () => {
    const prefix = uniquePrefix("overrun");
    const a = open({ keyPrefix: prefix });
    const b = open({ keyPrefix: prefix });
    const late = await a.acquire("k", 40);
    expect(late).toBeDefined();
    await sleep(120);
    const current = await b.acquire("k", 10_000);
    expect(current).toBeDefined();
    await late!();
    expect(await a.acquire("k", 10_000)).toBeUndefined();
    await current!();
    expect(await a.acquire("k", 10_000)).toBeDefined();
  });

  it("works with a client whose type mapping returns buffers", async () => {
    const client = createClient({ url }).withTypeMapping({
      [RESP_TYPES.BLOB_STRING]: Buffer,
      [RESP_TYPES.SIMPLE_STRING]: Buffer,
    });
    client.on("error", () => {});
    await client.connect();
    const store = createRedisStore({ client, keyPrefix: uniquePrefix("buffers"), encryptionKey: KEY_BYTES });
    await store.set("k", { n: 1 }, 60_000);
    expect(await store.get("k")).toEqual({ n: 1 });
    const release = await store.acquire("lease", 60_000);
    expect(release).toBeTypeOf("function");
    expect(await store.acquire("lease", 60_000)).toBeUndefined();
    await release!();
    await client.close();
  });

  it("leaves a client it was given open, and closes one it created", async () => {
    const client = createClient({ url });
    client.on("error", () => {});
    await client.connect();
    const prefix = uniquePrefix("given");
    const given = createRedisStore({ client, keyPrefix: prefix });
    await given.set("k", 1, 60_000);
    await given.close();
    expect(client.isOpen).toBe(true);
    expect(await client.keys(`${prefix}*`)).toHaveLength(1);
    await client.close();

    const owned = createRedisStore({ url, keyPrefix: prefix });
    expect(await owned.get("k")).toBe(1);
    await owned[Symbol.asyncDispose]();
    await owned.close();
    const error = await owned.get("k").catch((e: unknown) => e);
    expect(isNetworkError(error)).toBe(true);
  });
});

describe("createRedisStore when Redis fails", () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server) {
      server.close();
      await once(server, "close");
      server = undefined;
    }
  });

  it.skipIf(!url)("times out a Redis that stops answering, with a transient TimeoutError", async () => {
    const proxy = await startTcpProxy(Number(new URL(url!).port));
    try {
      const store = createRedisStore({ url: `redis://127.0.0.1:${proxy.port}`, timeoutMs: 100 });
      await eventually(() => store.set("k", "v", 60_000));
      proxy.freeze();
      const error = await store.get("k").catch((e: unknown) => e);
      expect(isTimeoutError(error)).toBe(true);
      expect(isTransientError(error)).toBe(true);
      proxy.thaw();
      expect(await eventually(() => store.get("k"))).toBe("v");
      await store.close();
    } finally {
      await proxy.close();
    }
  });

  it.skipIf(!url)(
    "a lease whose SET NX timed out and landed later is released: no lease of an owner no one knows blocks the others for its ttl",
    async () => {
      const proxy = await startTcpProxy(Number(new URL(url!).port));
      const prefix = uniquePrefix("orphan");
      const slow = createRedisStore({
        url: `redis://127.0.0.1:${proxy.port}`,
        timeoutMs: 100,
        keyPrefix: prefix,
      });
      const other = createRedisStore({ url: url!, keyPrefix: prefix });
      try {
        await eventually(() => slow.get("warm"));
        proxy.freeze(); // the SET NX is written, held on its way, and lands once thawed
        const error = await slow.acquire("k", 60_000).catch((e: unknown) => e);
        expect(isTimeoutError(error)).toBe(true);
        proxy.thaw();
        // Its connection's next answer comes after everything it wrote before.
        await eventually(() => slow.get("warm"));
        const release = await other.acquire("k", 60_000);
        expect(release).toBeTypeOf("function");
        await release!();
      } finally {
        await slow.close();
        await other.close();
        await proxy.close();
      }
    },
  );

  it("fails fast with a NetworkError while Redis is unreachable, without secrets in the error", async () => {
    server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as { port: number };
    server.close();
    await once(server, "close");
    server = undefined;

    const store = createRedisStore({ url: `redis://user:hunter2@127.0.0.1:${port}`, timeoutMs: 100 });
    const errors: unknown[] = [];
    for (let i = 0; i < 3; i++) errors.push(await store.set("k", "v", 1000).catch((e: unknown) => e));
    for (const error of errors) {
      expect(isTransientError(error)).toBe(true);
      expectNoSecretIn(String((error as Error).message), "hunter2", "the error's message");
      expectNoSecretIn(JSON.stringify(error), "hunter2", "the error's JSON");
    }
    // After the first wait for a connection, a disconnected store fails at once.
    expect(errors.at(-1)).toBeInstanceOf(NetworkError);
    expect(await store.acquire("k", 1000).catch((e: unknown) => e)).toBeInstanceOf(NetworkError);
    await store.close();
  });
});
