import { parseOptions } from "@tokenkeep/core/options";
import { z } from "zod";
import { DEFAULT_KEY_PREFIX, DEFAULT_TIMEOUT_MS } from "./defaults.js";

/**
 * What the store needs from a Redis client: node-redis's `sendCommand` (a client made by
 * `createClient` from `redis` or `@redis/client`, connected by its owner). Typed structurally so any
 * node-redis 5/6 client type fits, whatever modules or scripts it was created with.
 */
export interface RedisStoreClient {
  /** Sends one command (`["SET", key, value, "PX", ms]`) and resolves its reply. */
  sendCommand(args: ReadonlyArray<string>, options?: { timeout?: number }): Promise<unknown>;
}

/**
 * What the store needs from a Redis Cluster client: node-redis's `createCluster()`, connected by its
 * owner. Each command is routed by its one key (`firstKey`) to the master owning that key's slot.
 */
export interface RedisStoreClusterClient {
  sendCommand(
    firstKey: string | undefined,
    isReadonly: boolean | undefined,
    args: string[],
    options?: { timeout?: number },
  ): Promise<unknown>;
  nodeClient(node: never): Promise<unknown>;
  getSlotMaster(slot: number): unknown;
}

/**
 * What the store needs from a Redis Sentinel client: node-redis's `createSentinel()`, connected by its
 * owner. Commands go to the master the sentinels name, and follow it across a failover.
 */
export interface RedisStoreSentinelClient {
  sendCommand(
    isReadonly: boolean | undefined,
    args: string[],
    options?: { timeout?: number },
  ): Promise<unknown>;
  /** `createSentinel()` has `getMasterNode`; a client it leased with `acquire()` has `release`. */
  getMasterNode?(): unknown;
  release?(): unknown;
}

/** Any client the store accepts as `client`. */
export type RedisStoreAnyClient = RedisStoreClient | RedisStoreClusterClient | RedisStoreSentinelClient;

/** Options of {@link createRedisStore}. Give exactly one of `client` and `url`. */
export interface RedisStoreOptions {
  /**
   * A connected node-redis client that you own: `createClient()` (one node), `createCluster()`
   * (Redis Cluster) or `createSentinel()` (a master found through Redis Sentinel; or a client it
   * leased with `acquire()`). Each command is routed by its one key. The store never
   * connects, quits or closes it, and you attach its `error` listener. Use it to share one
   * connection with the rest of the app. A single-node client whose node is demoted to a replica
   * answers `READONLY` to every write until you reconnect it (`destroy()`, then `connect()`).
   * @default undefined (give `url` instead)
   */
  client?: RedisStoreAnyClient | undefined;
  /**
   * `redis://[[user]:password@]host[:port][/db]` (or `rediss://` for TLS): the store creates,
   * connects and owns its client, and closes it in {@link RedisStore.close}. Percent-encode
   * `/ # ? @ %` in the user name and password (`encodeURIComponent`); a URL that does not parse is an
   * invalid option, reported without any part of it. A query (`?ssl_cert_reqs=none`) or fragment is
   * ignored, as node-redis ignores it, unless it holds an `@` (the sign of a `?` or `#` left unencoded
   * in the password), which is refused. When the node turns out to be a replica (a
   * `READONLY` reply), the store reconnects, resolving the host again, and fails every command
   * until it reaches a primary (checked at most every 30 s).
   * @default undefined (give `client` instead)
   */
  url?: string | undefined;
  /**
   * Prefix of every Redis key the store writes; give each application its own.
   * @default "tokenkeep:"
   */
  keyPrefix?: string | undefined;
  /**
   * Encrypts every stored value with AES-256-GCM (`crypto.subtle`): a 32-byte key as raw bytes, as
   * base64 text (standard or URL-safe alphabet), or an AES-GCM `CryptoKey` with the `encrypt` and
   * `decrypt` usages. Every instance sharing the store needs the same key. An entry that does not
   * decrypt (another key, tampering, written unencrypted) reads as `{ unreadable: true }`, never as
   * absent: the token manager fetches anew, the rotation coordinator takes that refresh token as in
   * doubt (refused, or presented only once `verifyUnredeemed` says it is unredeemed).
   * @default undefined (values stored as JSON text)
   */
  encryptionKey?: CryptoKey | Uint8Array | string | undefined;
  /**
   * More keys (same forms as `encryptionKey`, at most 4) that open stored values but never seal
   * one: a key change without entries any instance cannot read. First give every instance the new key
   * here, then make it `encryptionKey` with the old one here, and drop the old one once what it
   * sealed has expired (a day: the rotation coordinator's markers). Without `encryptionKey`, values
   * are written as JSON text and sealed ones still open with these keys (turning encryption on).
   * @default [] (only `encryptionKey` opens values)
   */
  decryptionKeys?: ReadonlyArray<CryptoKey | Uint8Array | string> | undefined;
  /**
   * Milliseconds each Redis command may take before it fails with a `TimeoutError`.
   * @default 500
   */
  timeoutMs?: number | undefined;
}

/** {@link RedisStoreOptions} after validation. */
export interface ParsedRedisStoreOptions {
  client?: RedisStoreAnyClient | undefined;
  url?: string | undefined;
  keyPrefix: string;
  encryptionKey?: CryptoKey | Uint8Array | undefined;
  decryptionKeys: Array<CryptoKey | Uint8Array>;
  timeoutMs: number;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

function isAesGcmKey(value: unknown): value is CryptoKey {
  if (typeof CryptoKey === "undefined" || !(value instanceof CryptoKey)) return false;
  return (
    value.algorithm.name === "AES-GCM" && value.usages.includes("encrypt") && value.usages.includes("decrypt")
  );
}

const encryptionKeySchema = z.unknown().transform((value, context): CryptoKey | Uint8Array => {
  if (typeof value === "string") {
    const text = value.replaceAll("-", "+").replaceAll("_", "/");
    const bytes = BASE64.test(text) ? new Uint8Array(Buffer.from(text, "base64")) : undefined;
    if (bytes?.length === 32) return bytes;
    context.addIssue({ code: "custom", message: "must decode to 32 bytes (AES-256)" });
    return z.NEVER;
  }
  if (value instanceof Uint8Array) {
    if (value.length === 32) return value;
    context.addIssue({ code: "custom", message: "must be 32 bytes (AES-256)" });
    return z.NEVER;
  }
  if (isAesGcmKey(value)) return value;
  context.addIssue({
    code: "custom",
    message:
      "must be 32 bytes, their base64 text, or an AES-GCM CryptoKey with the encrypt and decrypt usages",
  });
  return z.NEVER;
});

/** What to percent-encode in the user info, said by every message about a URL that does not parse. */
const ENCODE_HINT = "percent-encode `/ # ? @ %` in the user name and password";

/**
 * Why `url` cannot be the store's Redis URL, or `undefined` when node-redis can use it. Checked with
 * WHATWG `URL` (what node-redis parses it with), so a URL refused here would have made `createClient`
 * throw Node's `ERR_INVALID_URL`, whose `input` holds the whole URL, password included. Each message
 * says what is wrong and never quotes the URL or any part of it.
 */
function redisUrlProblem(text: string): string | undefined {
  if (!URL.canParse(text)) {
    return `is not a valid URL (${ENCODE_HINT}; an IPv6 host goes in brackets; a port is at most 65535)`;
  }
  const url = new URL(text);
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") return "must be a redis:// or rediss:// URL";
  if (url.hostname === "") return "must name a host";
  if (url.port === "0") return "must have a port from 1 to 65535";
  // node-redis reads neither the query nor the fragment, so both are accepted and ignored; but an `@`
  // in them is what an unencoded `?` or `#` in the user info leaves (`redis://user:6379?pw@host`
  // parses as host `user`, port 6379), and connecting there would be the wrong host.
  if (`${url.search}${url.hash}`.includes("@")) {
    return `has an \`@\` after a \`?\` or \`#\`, which is how a password with an unencoded \`?\` or \`#\` reads (${ENCODE_HINT})`;
  }
  if (!/^(?:\/\d{0,9})?$/.test(url.pathname)) {
    return `must have a database number as its path, if any (\`/0\`; ${ENCODE_HINT})`;
  }
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    return `has a \`%\` that starts no percent-encoded byte in its user info (write \`%25\`)`;
  }
  return undefined;
}

const schema = z
  .strictObject({
    client: z
      .custom<RedisStoreAnyClient>(
        (value) =>
          typeof value === "object" &&
          value !== null &&
          typeof (value as { sendCommand?: unknown }).sendCommand === "function",
        "must be a node-redis client (with sendCommand)",
      )
      .optional(),
    url: z
      .string()
      .superRefine((url, context) => {
        const problem = redisUrlProblem(url);
        if (problem !== undefined) context.addIssue({ code: "custom", message: problem });
      })
      .optional(),
    keyPrefix: z.string().max(200).default(DEFAULT_KEY_PREFIX),
    encryptionKey: encryptionKeySchema.optional(),
    decryptionKeys: z.array(encryptionKeySchema).max(4).default([]),
    timeoutMs: z.number().int().positive().max(60_000).default(DEFAULT_TIMEOUT_MS),
  })
  .refine((options) => (options.client === undefined) !== (options.url === undefined), {
    message: "give exactly one of client and url",
    path: ["client"],
  });

/**
 * Validates {@link RedisStoreOptions} once, with core's `parseOptions`: a bad option throws a
 * `TypeError` with `code: "ERR_TOKENKEEP_INVALID_OPTIONS"` and the issues in `cause` as
 * `path: message` lines. Option values (URL passwords, keys) never appear in the message.
 */
export function parseRedisStoreOptions(options: RedisStoreOptions): ParsedRedisStoreOptions {
  return parseOptions(schema, options, "createRedisStore");
}
