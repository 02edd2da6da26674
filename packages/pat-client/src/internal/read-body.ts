import { readLimited } from "@tokenkeep/core/http";

/**
 * A response body read with two bounds that `fetch` and ky leave out: ky's `timeout` stops once the
 * headers arrive, so a server that sends them and then trickles (or never ends) its body would hold
 * the call forever; and `Response.json()` reads any size into memory, so a hostile or broken server
 * could exhaust it.
 */
export type BodyRead =
  | { readonly text: string }
  /** The body did not end within `timeoutMs` of the headers. */
  | { readonly failure: "timeout" }
  /** The body (or its declared `Content-Length`) is larger than `maxBytes`. */
  | { readonly failure: "too-large" }
  /** The stream failed (connection reset, or the caller's signal aborted it). */
  | { readonly failure: "stream"; readonly cause: unknown };

/** Limits of {@link readBody}. */
export interface BodyLimits {
  /** The body must end within this long after the headers arrived. */
  readonly timeoutMs: number;
  /** Largest body read, in bytes. */
  readonly maxBytes: number;
}

const TIMED_OUT = Symbol("timed out");

/**
 * The body of `response` as UTF-8 text (a leading BOM dropped, as `Response.json()` does), or why it
 * could not be read within `limits`. On a failure the stream is cancelled, which closes the connection.
 * The time bound starts now (the headers have arrived) and aborts core's bounded read when it passes.
 */
export async function readBody(response: Response, limits: BodyLimits): Promise<BodyRead> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(TIMED_OUT), limits.timeoutMs);
  try {
    const bytes = await readLimited(response.body, {
      maxBytes: limits.maxBytes,
      declaredLength: response.headers.get("content-length"),
      signal: deadline.signal,
    });
    return bytes === undefined ? { failure: "too-large" } : { text: new TextDecoder().decode(bytes) };
  } catch (cause) {
    return cause === TIMED_OUT ? { failure: "timeout" } : { failure: "stream", cause };
  } finally {
    clearTimeout(timer);
  }
}
