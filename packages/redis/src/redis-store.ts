import type { JsonValue, LeaseRelease, Store } from "@tokenkeep/core";
import { NetworkError, TimeoutError } from "@tokenkeep/core";
import { invalidOptions } from "@tokenkeep/core/options";
import { createClient } from "redis";
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_RECONNECT_DELAY_MS,
  REPLICA_CHECK_MAX_MS,
  REPLICA_CHECK_MIN_MS,
} from "./defaults.js";
import { type CommandSender, commandSender } from "./internal/command-sender.js";
import { redisKey, replicaCheckKey } from "./internal/key-hash.js";
import {
  COMPARE_AND_DELETE_SCRIPT,
  COMPARE_AND_SET_SCRIPT,
  RELEASE_SCRIPT,
  RENEW_SCRIPT,
} from "./internal/lease-script.js";
import { connectionErrorClass, isReadonlyReply, wrapRedisError } from "./internal/redis-errors.js";
import { importEncryptionKey, type ValueCipher, valueCipher } from "./internal/value-cipher.js";
import { parseRedisStoreOptions, type RedisStoreClient, type RedisStoreOptions } from "./options.js";

/**
 * Core's {@link Store} on Redis, with the lease lock every instance shares. Close it when the
 * process is done with it (`await store.close()` or `await using store = createRedisStore(...)`).
 */
export interface RedisStore extends Store {
  acquire(key: string, ttlMs: number): Promise<LeaseRelease | undefined>;
  compareAndDelete(key: string, expected: JsonValue): Promise<boolean>;
  compareAndSet(
    key: string,
    expected: JsonValue | undefined,
    value: JsonValue,
    ttlMs: number,
  ): Promise<boolean>;
  /**
   * Closes the client the store created from `url` (waiting at most `timeoutMs` for pending
   * commands). A client passed in as `client` is left open: its owner closes it. Idempotent.
   */
  close(): Promise<void>;
  /** Same as {@link RedisStore.close}. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** The part of a node-redis client the store uses when it owns the client. */
type OwnedClient = RedisStoreClient & {
  readonly isReady: boolean;
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  ref(): void;
  unref(): void;
};

/**
 * Creates core's store on Redis (node-redis).
 *
 * - `get`/`set`/`delete`: `GET`, `SET key value PX ttlMs`, `DEL`.
 * - `acquire(key, ttlMs)`: `SET lease owner NX PX ttlMs` with a random owner; its release runs one Lua
 *   script that deletes the lease only while it still holds that owner, and never rejects (a lease
 *   that cannot be released expires by itself). `release.renew(ttlMs)` extends a lease still held
 *   (another owner-checked script) and resolves `false` once it was lost. An `acquire` that fails
 *   (a timeout, a lost connection) sends that release too, since its `SET` may still land.
 * - `compareAndDelete(key, expected)`: reads and compares the value, then one Lua script deletes it
 *   only while its stored bytes are still those it read (atomic, encrypted values included).
 * - `compareAndSet(key, expected, value, ttlMs)`: with `expected` `undefined`, `SET key value NX PX
 *   ttlMs`; otherwise reads and compares the value as `get` resolves it (`{ unreadable: true }`
 *   included), then one Lua script writes only while the stored bytes are still those it read.
 * - Redis keys are `keyPrefix` + `v:` (values) or `l:` (leases) + the SHA-256 of the store key, so no
 *   raw identity or token ever becomes a Redis key. Values are JSON text, or AES-256-GCM sealed when
 *   `encryptionKey` is set; `decryptionKeys` also open what other keys sealed (a key change). An
 *   entry that is there but does not decrypt or is not valid JSON is not
 *   absent: `get` resolves `{ unreadable: true }`, which the token manager takes as a miss (it
 *   fetches and overwrites it) and the rotation coordinator as a refresh token in doubt.
 * - A client created from `url` reconnects, resolving the host again, when a write gets `READONLY`
 *   (its node was demoted to a replica), and fails every command, reads too, until a check finds a
 *   primary (at once, then after 1 s doubling to 30 s); while it cannot connect, errors name why
 *   (`last connection error: WRONGPASS`). A `client` passed in is left to its owner for both.
 * - Every command fails after `timeoutMs` with core's `TimeoutError`; an unreachable Redis
 *   fails at once with `NetworkError`; other Redis errors are a transient `TokenkeepError` with code
 *   `ERR_TOKENKEEP_STORE`. Messages name the command only, never keys, values or the URL.
 * - A client created from `url` holds no reference on the event loop while idle, so it never keeps a
 *   finished process alive (while Redis is unreachable its reconnect timer does: call `close()`). A
 *   caller still waiting between commands (polling a lease) is kept alive by core's timers instead.
 *
 * @example
 * ```ts
 * const store = createRedisStore({ url: process.env.REDIS_URL, encryptionKey: process.env.TOKEN_KEY });
 * const manager = createTokenManager({ creator, shared: shareStore(store) });
 * ```
 */
export function createRedisStore(options: RedisStoreOptions): RedisStore {
  const parsed = parseRedisStoreOptions(options);
  const { keyPrefix, timeoutMs } = parsed;
  const cipher: ValueCipher = valueCipher(
    parsed.encryptionKey === undefined ? undefined : importEncryptionKey(parsed.encryptionKey),
    parsed.decryptionKeys.map(importEncryptionKey),
  );

  const owned =
    parsed.client === undefined ? createOwnedClient(parsed.url!, timeoutMs, keyPrefix) : undefined;
  const sendToRedis: CommandSender = owned?.send ?? commandSender(parsed.client!);
  let closed = false;
  let inFlight = 0;

  /** Sends `args`, whose one key is `args[1]` (every command here names exactly one key). */
  async function send(command: string, args: string[]): Promise<unknown> {
    if (closed) throw new NetworkError(`redis store: ${command} after close()`);
    if (owned && inFlight++ === 0) owned.client.ref();
    try {
      if (owned && !owned.client.isReady) await owned.firstConnect(command);
      const key = args[0] === "EVAL" ? args[3]! : args[1]!;
      return await withTimeout(sendToRedis(args, key, timeoutMs), command, timeoutMs);
    } catch (error) {
      throw isTokenkeepTimeout(error)
        ? error
        : wrapRedisError(command, error, timeoutMs, owned?.lastConnectionError());
    } finally {
      if (owned && --inFlight === 0) owned.client.unref();
    }
  }

  /**
   * The stored payload (sealed when encrypted) and the value it holds, or `value: undefined` when it
   * is there but does not decrypt or parse here (another key, written unencrypted, garbage).
   */
  async function read(rk: string): Promise<{ payload: string; value: JsonValue | undefined } | undefined> {
    const payload = asText(await send("GET", ["GET", rk]));
    if (payload === undefined) return undefined;
    const text = await cipher.open(payload, rk);
    if (text === undefined) return { payload, value: undefined };
    try {
      return { payload, value: JSON.parse(text) as JsonValue };
    } catch {
      return { payload, value: undefined };
    }
  }

  async function get(key: string): Promise<JsonValue | undefined> {
    const found = await read(redisKey(keyPrefix, "v", key));
    if (found === undefined) return undefined;
    // Unreadable is not absent: core's rotation coordinator must not take a marker it cannot read
    // for "never redeemed" (the token manager takes this value as a miss).
    return found.value === undefined ? { unreadable: true } : found.value;
  }

  /**
   * Deletes `key` only while it holds `expected`: the value is read and compared here (it may be
   * encrypted), then one Lua script deletes it only if its stored bytes are still the ones read.
   */
  async function compareAndDelete(key: string, expected: JsonValue): Promise<boolean> {
    const rk = redisKey(keyPrefix, "v", key);
    const current = await read(rk);
    if (current?.value === undefined || JSON.stringify(current.value) !== JSON.stringify(expected)) {
      return false;
    }
    const answer = await send("EVAL", ["EVAL", COMPARE_AND_DELETE_SCRIPT, "1", rk, current.payload]);
    return Number(answer) === 1;
  }

  /**
   * Writes `value` only while `key` holds `expected` as `get` resolves it (absent for `undefined`):
   * compared here (it may be encrypted), then written by one Lua script only if the stored bytes are
   * still the ones read; an absent key is written with `SET NX`.
   */
  async function compareAndSet(
    key: string,
    expected: JsonValue | undefined,
    value: JsonValue,
    ttlMs: number,
  ): Promise<boolean> {
    checkTtl("compareAndSet", ttlMs);
    const rk = redisKey(keyPrefix, "v", key);
    const payload = await cipher.seal(JSON.stringify(value), rk);
    const px = String(Math.ceil(ttlMs));
    if (expected === undefined) {
      return asText(await send("SET NX", ["SET", rk, payload, "NX", "PX", px])) === "OK";
    }
    const current = await read(rk);
    if (current === undefined) return false;
    const seen = current.value === undefined ? { unreadable: true } : current.value;
    if (JSON.stringify(seen) !== JSON.stringify(expected)) return false;
    const answer = await send("EVAL", [
      "EVAL",
      COMPARE_AND_SET_SCRIPT,
      "1",
      rk,
      current.payload,
      payload,
      px,
    ]);
    return Number(answer) === 1;
  }

  async function set(key: string, value: JsonValue, ttlMs: number): Promise<void> {
    checkTtl("set", ttlMs);
    const rk = redisKey(keyPrefix, "v", key);
    const payload = await cipher.seal(JSON.stringify(value), rk);
    await send("SET", ["SET", rk, payload, "PX", String(Math.ceil(ttlMs))]);
  }

  async function remove(key: string): Promise<void> {
    await send("DEL", ["DEL", redisKey(keyPrefix, "v", key)]);
  }

  async function acquire(key: string, ttlMs: number): Promise<LeaseRelease | undefined> {
    checkTtl("acquire", ttlMs);
    const lk = redisKey(keyPrefix, "l", key);
    const owner = crypto.randomUUID();
    let released: Promise<void> | undefined;
    const release = () => {
      released ??= send("EVAL", ["EVAL", RELEASE_SCRIPT, "1", lk, owner]).then(
        () => undefined,
        () => undefined,
      );
      return released;
    };
    let answer: unknown;
    try {
      answer = await send("SET NX", ["SET", lk, owner, "NX", "PX", String(Math.ceil(ttlMs))]);
    } catch (error) {
      // The SET may have landed all the same (a timeout once it was written, a connection lost
      // before its reply): the lease would then be held by an owner no one knows, every other
      // instance waiting on it for its whole ttl. Released at once, as any lease (the script deletes
      // only this owner's); on one connection (a single node's), it goes after that SET. Not awaited.
      void release();
      throw error;
    }
    if (asText(answer) !== "OK") return undefined;
    return Object.assign(release, {
      /** Extends the lease to `ttlMs` from now while still owned; `false` once lost or released. */
      async renew(renewTtlMs: number): Promise<boolean> {
        checkTtl("renew", renewTtlMs);
        if (released !== undefined) return false;
        const answer = await send("EVAL", [
          "EVAL",
          RENEW_SCRIPT,
          "1",
          lk,
          owner,
          String(Math.ceil(renewTtlMs)),
        ]);
        return Number(answer) === 1;
      },
    });
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    if (owned) await owned.shutdown(timeoutMs);
  }

  return {
    get,
    set,
    delete: remove,
    acquire,
    compareAndDelete,
    compareAndSet,
    close,
    [Symbol.asyncDispose]: close,
  };
}

const utf8 = new TextDecoder();

/** A reply as text: a string, or bytes from a client whose type mapping returns buffers. */
function asText(reply: unknown): string | undefined {
  if (typeof reply === "string") return reply;
  if (reply instanceof Uint8Array) return utf8.decode(reply);
  return undefined;
}

function checkTtl(method: string, ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw Object.assign(new TypeError(`redis store: ${method} needs a finite ttlMs above 0`), {
      code: "ERR_TOKENKEEP_INVALID_ARGUMENT",
    });
  }
}

/**
 * node-redis's own `timeout` only covers a command still queued; once written, a reply is awaited
 * for ever (replies are ordered). This bounds the whole round trip; a late reply is ignored.
 */
async function withTimeout<T>(promise: Promise<T>, command: string, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new TimeoutError(`redis store: ${command} took longer than ${timeoutMs} ms`, { timeoutMs }),
            ),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function isTokenkeepTimeout(error: unknown): boolean {
  return error instanceof TimeoutError;
}

/**
 * node-redis's client for `url`. The options schema already refused a URL node-redis cannot parse;
 * should `createClient` throw all the same, its error (Node's `ERR_INVALID_URL` keeps the whole URL,
 * password included, in `input`) never leaves: it becomes the invalid-options `TypeError`, naming
 * its class only.
 */
function clientFromUrl(url: string, timeoutMs: number) {
  try {
    return createClient({
      url,
      // Fail at once while disconnected instead of queueing: the manager then serves per process.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: Math.max(timeoutMs, DEFAULT_CONNECT_TIMEOUT_MS),
        reconnectStrategy: (retries: number) =>
          Math.min(50 * 2 ** Math.min(retries, 10), DEFAULT_MAX_RECONNECT_DELAY_MS) +
          Math.floor(Math.random() * 50),
      },
    }) as unknown as OwnedClient & {
      on(event: "error" | "ready", listener: (error: unknown) => void): unknown;
    };
  } catch (error) {
    const kind = error instanceof Error ? (error.constructor?.name ?? error.name) : typeof error;
    const code = (error as { code?: unknown } | null)?.code;
    const named = typeof code === "string" && /^[A-Z][A-Z0-9_]{1,40}$/.test(code) ? `${kind} ${code}` : kind;
    throw invalidOptions("createRedisStore", [`url: the Redis client refused it (${named})`]);
  }
}

/** A client the store created from a URL, plus its connection bookkeeping. */
function createOwnedClient(url: string, timeoutMs: number, keyPrefix: string) {
  const client = clientFromUrl(url, timeoutMs);
  // node-redis reports every failed (re)connection as an `error` event; an unhandled one would crash
  // the process. Failures reach callers through the commands instead.
  client.on("error", () => {});
  client.unref();
  let connecting: Promise<unknown> | undefined = client.connect().catch(() => undefined);
  let waitedOnce = false;

  // Why the last connection attempt failed, as one log-safe word (`WRONGPASS`, `ECONNREFUSED`):
  // commands failing while disconnected name it, so a wrong password is not just "unreachable".
  let lastError: string | undefined;
  client.on("error", (error) => {
    lastError = connectionErrorClass(error);
  });
  client.on("ready", () => {
    lastError = undefined;
  });
  const lastErrorNote = () => (lastError === undefined ? "" : ` (last connection error: ${lastError})`);

  const sendCommand = commandSender(client);
  // The node the connection reached answered `READONLY`: it is a replica (a failover, `REPLICAOF`, a
  // managed endpoint moved to a new primary). node-redis never reconnects an open connection by
  // itself. Until a check finds a primary, every command fails with why (reads too: a replica may
  // lag, and this store reads primaries only), and nothing is sent but the check: a new connection,
  // resolving the host again, then `DEL` of a key no entry uses (refused by a replica, harmless on a
  // primary). The first check runs at the next command (a failover behind the endpoint is followed
  // at once), then each one waits twice as long as the one before, up to REPLICA_CHECK_MAX_MS.
  let demoted = false;
  // Whether the next check replaces the open connection: it reached a replica (`READONLY`), or a
  // check's `DEL` on it got no answer in time. Only such a connection is dropped. One a check opened
  // that took longer to open than the check could wait is kept and checked once open: dropping it
  // every time would never let a connection slower to open than `timeoutMs` reach a primary.
  let replaceConnection = false;
  let checkAt = 0;
  let checkDelayMs = REPLICA_CHECK_MIN_MS;
  let refusal: unknown;
  let checking: Promise<void> | undefined;
  const checkKey = replicaCheckKey(keyPrefix);

  /**
   * A new connection (in place of one that reached a replica or went mute), then the write a replica
   * refuses, within `commandTimeoutMs` each: a primary clears `demoted`.
   */
  async function checkPrimary(commandTimeoutMs: number): Promise<void> {
    // (Not open, or opening again by itself: a new connection either way.)
    if (replaceConnection && client.isReady) client.destroy();
    replaceConnection = false;
    if (!client.isOpen) {
      connecting = client.connect().catch(() => undefined);
      waitedOnce = false;
    }
    let sent = false;
    try {
      await firstConnect("the replica check", commandTimeoutMs);
      sent = true;
      // Bounded here too: a check that waited for ever would hold every command after it.
      await withTimeout(
        sendCommand(["DEL", checkKey], checkKey, commandTimeoutMs),
        "the replica check",
        commandTimeoutMs,
      );
      demoted = false;
      checkDelayMs = REPLICA_CHECK_MIN_MS;
    } catch (error) {
      // A replica's refusal, or no answer to the `DEL`: the next check replaces this connection.
      if (isReadonlyReply(error) || (sent && error instanceof TimeoutError)) replaceConnection = true;
      refusal = error;
      checkAt = performance.now() + checkDelayMs;
      checkDelayMs = Math.min(checkDelayMs * 2, REPLICA_CHECK_MAX_MS);
      throw error;
    }
  }

  /**
   * Waits (once per connection, at most `waitMs`) for a connection being opened, so the first
   * commands after creation or a replica check do not fail just because the socket is still
   * opening. Later, a disconnected client fails fast.
   */
  async function firstConnect(command: string, waitMs: number): Promise<void> {
    if (waitedOnce || connecting === undefined) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timedOut = await Promise.race([
        connecting.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), waitMs);
        }),
      ]);
      if (timedOut) {
        waitedOnce = true;
        throw new TimeoutError(
          `redis store: ${command} waited ${waitMs} ms for a connection${lastErrorNote()}`,
          {
            timeoutMs: waitMs,
          },
        );
      }
      connecting = undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    client,
    /** The sender of this client: after a `READONLY` reply, nothing but checks until a primary answers. */
    send: (async (args, key, commandTimeoutMs) => {
      if (demoted) {
        if (checking === undefined && performance.now() >= checkAt) {
          checking = checkPrimary(commandTimeoutMs).finally(() => {
            checking = undefined;
          });
        }
        if (checking === undefined) throw refusal;
        await checking;
      }
      try {
        return await sendCommand(args, key, commandTimeoutMs);
      } catch (error) {
        if (isReadonlyReply(error)) {
          replaceConnection = true;
          if (!demoted) {
            demoted = true;
            refusal = error;
            checkAt = 0;
          }
        }
        throw error;
      }
    }) satisfies CommandSender,
    /** The class of the last failed connection attempt, while not connected since. */
    lastConnectionError: (): string | undefined => lastError,
    /** See `firstConnect` above: the first commands wait for the connection being opened. */
    firstConnect: (command: string) => firstConnect(command, timeoutMs),
    async shutdown(timeoutMs: number): Promise<void> {
      if (!client.isOpen) return;
      if (!client.isReady) {
        client.destroy();
        return;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          client.close(),
          new Promise<void>((_, reject) => {
            timer = setTimeout(() => reject(new Error("close timed out")), timeoutMs);
          }),
        ]);
      } catch {
        client.destroy();
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
