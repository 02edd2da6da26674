import type { Store } from "@tokenkeep/core";
import { describeStoreContract } from "@tokenkeep/core/testing";
import { describe, expect, it } from "vitest";
import { registerSecret } from "../../../test/reliability/src/secret-registry.js";
import { createRedisStore, type RedisStore } from "../src/index.js";
import { redisUrlOrSkip } from "./support/redis-url.js";

/** A random AES-256 key, registered (as base64, the form a deployment configures) by secret-registry. */
const KEY = crypto.getRandomValues(new Uint8Array(32));
registerSecret(btoa(String.fromCharCode(...KEY)), "encryption key");

const url = redisUrlOrSkip("store-contract.test.ts");
const close = (store: Store) => (store as RedisStore).close();

describe.skipIf(!url)("on a real Redis", () => {
  describeStoreContract(
    "redis store",
    () => createRedisStore({ url: url!, keyPrefix: "tktest:contract:" }),
    {
      describe,
      it,
      expect,
    },
    { dispose: close },
  );

  describeStoreContract(
    "redis store with encryption",
    () =>
      createRedisStore({
        url: url!,
        keyPrefix: "tktest:contract-enc:",
        encryptionKey: KEY,
      }),
    { describe, it, expect },
    { dispose: close },
  );
});
