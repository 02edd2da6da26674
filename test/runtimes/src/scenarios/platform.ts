/**
 * The web-platform pieces core and grants build on, checked to behave as they do in Node: if one of
 * these fails in a runtime, the library scenarios' failures there are explained by it.
 */
import { assert, assertEqual, deferred, type MatrixConfig, rejection } from "../harness.ts";

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** SHA-256, HMAC, random values and UUIDs through `crypto`, as core's rotation keys and jitter use. */
export async function cryptoSubtle(): Promise<void> {
  const data = new TextEncoder().encode("abc");
  const digest = await crypto.subtle.digest("SHA-256", data);
  assertEqual(
    hex(digest),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "SHA-256(abc)",
  );

  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode("key"),
    {
      name: "HMAC",
      hash: "SHA-256",
    },
    false,
    ["sign", "verify"],
  );
  const message = new TextEncoder().encode("The quick brown fox jumps over the lazy dog");
  const mac = await crypto.subtle.sign("HMAC", key, message);
  assertEqual(
    hex(mac),
    "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
    "HMAC-SHA256 of the well-known fox vector",
  );
  assert(await crypto.subtle.verify("HMAC", key, mac, message), "HMAC verify of its own signature");

  const random = crypto.getRandomValues(new Uint8Array(32));
  assert(
    random.some((byte) => byte !== 0),
    "getRandomValues filled the array",
  );
  assert(
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(crypto.randomUUID()),
    "UUID v4",
  );
}

async function aborted(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return signal.reason;
  const done = deferred<unknown>();
  signal.addEventListener("abort", () => done.resolve(signal.reason), { once: true });
  return done.promise;
}

function errorName(value: unknown): string {
  return typeof value === "object" && value !== null && "name" in value ? String(value.name) : typeof value;
}

/**
 * `AbortSignal.timeout` fires with a `TimeoutError` reason, `AbortSignal.any` follows its inputs,
 * and `fetch` rejects with `TimeoutError` for a timeout but `AbortError` for a caller's abort: core
 * tells a timeout from an abort by exactly these names.
 */
export async function abortSignalTimeout(config: MatrixConfig): Promise<void> {
  const timeout = AbortSignal.timeout(10);
  assertEqual(errorName(await aborted(timeout)), "TimeoutError", "AbortSignal.timeout reason");

  const controller = new AbortController();
  const combined = AbortSignal.any([controller.signal, AbortSignal.timeout(60_000)]);
  assert(!combined.aborted, "AbortSignal.any starts unaborted");
  controller.abort();
  assertEqual(errorName(await aborted(combined)), "AbortError", "AbortSignal.any follows an aborted input");

  const slow = `${config.origin}/rs/slow`;
  const timedOut = await rejection(fetch(slow, { signal: AbortSignal.timeout(50) }), "fetch with a timeout");
  assertEqual(errorName(timedOut), "TimeoutError", "fetch rejection on AbortSignal.timeout");

  const caller = new AbortController();
  const pending = fetch(slow, { signal: caller.signal });
  setTimeout(() => caller.abort(), 20);
  assertEqual(
    errorName(await rejection(pending, "fetch with an abort")),
    "AbortError",
    "fetch rejection on abort",
  );
}

/**
 * Timers: `clearTimeout` cancels, a timer never fires before its delay, the handle may be `unref`'d
 * and `ref`'d again where the runtime supports it (core calls `unref?.()` and, while a caller waits,
 * `ref?.()`), and microtasks run before any timer. Timers
 * that are all overdue (a loaded machine) may fire in any order - Deno batches them - and core relies
 * on no such order, so the order is checked only between timers far enough apart.
 */
export async function timers(): Promise<void> {
  const order: string[] = [];
  const fired = new Map<string, number>();
  let pending = 4;
  const done = deferred<void>();
  const start = Date.now();
  const mark = (name: string) => {
    order.push(name);
    fired.set(name, Date.now() - start);
    if (--pending === 0) done.resolve();
  };
  const cancelled = setTimeout(() => order.push("cancelled"), 5);
  setTimeout(() => mark("late"), 30);
  setTimeout(() => mark("early"), 10);
  setTimeout(() => mark("zero"), 0);
  clearTimeout(cancelled);
  const unrefable = setTimeout(() => mark("unref"), 1) as unknown as {
    ref?: () => unknown;
    unref?: () => unknown;
  };
  unrefable.unref?.();
  unrefable.ref?.();
  unrefable.unref?.();
  queueMicrotask(() => order.push("microtask"));
  await done.promise;
  // Give a cancelled timer every chance to fire wrongly.
  await new Promise((resolve) => setTimeout(resolve, 10));
  assertEqual([...order].sort().join(","), "early,late,microtask,unref,zero", "timers fired");
  assertEqual(order[0], "microtask", "microtasks before timers");
  // A timer firing early is a correctness bug, not a speed question (1 ms allows clock rounding).
  assert(fired.get("late")! >= 29, `a 30 ms timer fired after ${fired.get("late")} ms`);
  assert(fired.get("early")! >= 9, `a 10 ms timer fired after ${fired.get("early")} ms`);
  // Far enough apart not to be overdue together unless the loop stalled 20 ms: then the order holds.
  if (fired.get("early")! < 25) assert(order.indexOf("early") < order.indexOf("late"), "10 ms before 30 ms");
}

/** The globals core and grants reach for: `Symbol.asyncDispose`, `structuredClone`, `btoa`, `URLSearchParams`, error `cause`. */
export function webGlobals(): void {
  assertEqual(typeof Symbol.asyncDispose, "symbol", "typeof Symbol.asyncDispose");
  assertEqual(typeof structuredClone, "function", "typeof structuredClone");
  assertEqual(btoa("client:s%3Acret"), "Y2xpZW50OnMlM0FjcmV0", "btoa");
  assertEqual(new URLSearchParams({ scope: "a b", x: "+" }).toString(), "scope=a+b&x=%2B", "URLSearchParams");
  const cause = new Error("inner");
  assertEqual(new Error("outer", { cause }).cause, cause, "Error cause");
  assertEqual(new Headers({ Authorization: "Bearer x" }).get("authorization"), "Bearer x", "Headers lookup");
}
