/**
 * How much Redis memory the rotation coordinator's records take: `node bench/sizing.mjs` after a build
 * (`pnpm --filter @tokenkeep/redis build`), with TOKENKEEP_REDIS_URL set
 * (`eval "$(bash scripts/services/redis.sh start)"`). Rotates refresh tokens through this store with
 * encryption on, then prints `MEMORY USAGE` of a "redeemed" marker (kept `redeemedTtlMs`, a day) and
 * of a successor (kept `successorTtlMs`, 30 s) for access tokens of the sizes given as arguments
 * (bytes; default 40 800 2000), with 64-byte refresh tokens (`REFRESH_BYTES` to change it).
 * Plain JavaScript importing the built package; it writes only under its own random key prefix.
 */
import { createRotationCoordinator } from "@tokenkeep/core/rotation";
import { shareStore } from "@tokenkeep/core/shared";
import { createClient } from "redis";
import { createRedisStore } from "../dist/index.js";

const url = process.env.TOKENKEEP_REDIS_URL;
if (!url) {
  console.error('TOKENKEEP_REDIS_URL is not set: eval "$(bash scripts/services/redis.sh start)"');
  process.exit(1);
}
const sizes = process.argv.slice(2).map(Number);
const refreshBytes = Number(process.env.REFRESH_BYTES ?? 64);
const ROUNDS = 20;
const text = (length) => "x".repeat(length);

const admin = createClient({ url });
admin.on("error", () => {});
await admin.connect();
console.log(`Redis ${(await admin.info("server")).match(/redis_version:(\S+)/)?.[1]}, encrypted values,`);
console.log(`${refreshBytes}-byte refresh tokens; bytes per record (MEMORY USAGE, mean of ${ROUNDS}):`);
for (const accessBytes of sizes.length > 0 ? sizes : [40, 800, 2000]) {
  const prefix = `tk:${crypto.randomUUID().slice(0, 7)}`; // as long as the default "tokenkeep:"
  const store = createRedisStore({ url, keyPrefix: prefix, encryptionKey: new Uint8Array(32).fill(7) });
  let n = 0;
  const rotation = createRotationCoordinator({
    shared: shareStore(store),
    redeem: async () => ({
      access_token: text(accessBytes),
      refresh_token: `${text(refreshBytes - 8)}${String(++n).padStart(8, "0")}`,
      token_type: "Bearer",
      expires_in: 300,
    }),
  });
  for (let round = 0; round < ROUNDS; round++) {
    await rotation.rotate({ refreshToken: `rt-${round}-${text(refreshBytes)}`.slice(0, refreshBytes) });
  }
  const markers = [];
  const successors = [];
  for (const key of await admin.keys(`${prefix}*`)) {
    const bytes = Number(await admin.sendCommand(["MEMORY", "USAGE", key, "SAMPLES", "0"]));
    (Number(await admin.pTTL(key)) > 60_000 ? markers : successors).push(bytes);
  }
  const mean = (list) => Math.round(list.reduce((sum, value) => sum + value, 0) / Math.max(list.length, 1));
  console.log(
    `  access token ${accessBytes} B: marker ${mean(markers)} B (${markers.length}), successor ${mean(successors)} B (${successors.length})`,
  );
  await rotation.dispose?.();
  await Promise.all((await admin.keys(`${prefix}*`)).map((key) => admin.del(key)));
  await store.close();
}
await admin.close();
