/**
 * A body read up to a byte limit: what a server needs of a request body and a client of an answer's
 * body, since `Request.arrayBuffer()` and `Response.text()` read any size into memory.
 */

import { check, isObject, object, optional, type Rule, validate } from "../options/rules.js";

/** Options of {@link readLimited}. */
export interface ReadLimitedOptions {
  /** Required. The most bytes read; one more and the read stops with `undefined`. A whole number, 0 or more. */
  maxBytes: number;
  /**
   * The `Content-Length` the message declared (`headers.get("content-length")`). A number over
   * `maxBytes` gives `undefined` at once, nothing read; anything else (absent, smaller, not a number)
   * is ignored, and the bytes actually sent are counted whatever it claims.
   * @default null (no declared length)
   */
  declaredLength?: string | null | undefined;
  /**
   * Abandons the read: the stream is cancelled and the call rejects with the signal's reason.
   * @default undefined (no signal)
   */
  signal?: AbortSignal | undefined;
}

const noop = () => {};

/** The rule of {@link ReadLimitedOptions}, built by the first call. */
let optionsRule: Rule<unknown> | undefined;

/**
 * Reads `body` to its end, at most `maxBytes` of it, into one `Uint8Array` (an empty one for a `null`
 * body).
 *
 * - `undefined` when the body is larger than `maxBytes`, or declares (`declaredLength`) a larger
 *   size: the stream is cancelled at once and the rest never buffered.
 * - Rejects with the stream's error when the stream fails, and with the signal's reason when `signal`
 *   aborts (already aborted: nothing is read); the stream is then cancelled.
 * - Cancelling is not awaited: a source whose `cancel` never settles cannot hold the caller.
 *
 * @throws TypeError (code `ERR_TOKENKEEP_INVALID_OPTIONS`) when `maxBytes` is missing or not a whole
 *   number of bytes, or another option is invalid.
 *
 * @example
 * ```ts
 * const bytes = await readLimited(request.body, {
 *   maxBytes: 64 * 1024,
 *   declaredLength: request.headers.get("content-length"),
 * });
 * if (bytes === undefined) return new Response(null, { status: 413 });
 * ```
 */
export async function readLimited(
  body: ReadableStream<Uint8Array> | null,
  options: ReadLimitedOptions,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  // Built on the first call, not when the module loads (what does not call it must not ship it),
  // and once: a server reads every request's body through here.
  optionsRule ??= object({
    maxBytes: check((value) => Number.isInteger(value) && (value as number) >= 0, "expected an integer >= 0"),
    declaredLength: optional(
      check((value) => value === null || typeof value === "string", "expected string or null"),
    ),
    signal: optional(
      check((value) => isObject(value) && typeof value.aborted === "boolean", "expected AbortSignal"),
    ),
  });
  const { maxBytes, declaredLength, signal } = validate(
    optionsRule,
    options,
    "readLimited",
  ) as ReadLimitedOptions;
  if (signal?.aborted || Number(declaredLength) > maxBytes) {
    body?.cancel().catch(noop);
    signal?.throwIfAborted();
    return undefined;
  }
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let length = 0;
  // Rejects with the reason on abort; a rejection handled through every race below.
  let onAbort = noop;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal?.reason);
  });
  signal?.addEventListener("abort", onAbort);
  try {
    for (;;) {
      // Without a signal, no race: each one costs a promise and a reaction on `aborted`.
      const { done, value } = await (signal ? Promise.race([reader.read(), aborted]) : reader.read());
      if (done) break;
      length += value.byteLength;
      if (length > maxBytes) {
        reader.cancel().catch(noop);
        return undefined;
      }
      parts.push(value);
    }
  } catch (error) {
    // After an abort the stream is still open; after its own failure, cancelling is a no-op.
    reader.cancel().catch(noop);
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}
