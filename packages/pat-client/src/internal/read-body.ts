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
 */
export async function readBody(response: Response, limits: BodyLimits): Promise<BodyRead> {
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  const body = response.body;
  if (declared > limits.maxBytes) {
    await body?.cancel().catch(() => undefined);
    return { failure: "too-large" };
  }
  if (body === null) return { text: "" };
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), limits.timeoutMs);
  });
  const give = (read: BodyRead): BodyRead => {
    reader.cancel().catch(() => undefined);
    return read;
  };
  try {
    let text = "";
    let bytes = 0;
    for (;;) {
      const next = await Promise.race([reader.read(), timedOut]);
      if (next === TIMED_OUT) return give({ failure: "timeout" });
      if (next.done) return { text: text + decoder.decode() };
      bytes += next.value.byteLength;
      if (bytes > limits.maxBytes) return give({ failure: "too-large" });
      text += decoder.decode(next.value, { stream: true });
    }
  } catch (cause) {
    return give({ failure: "stream", cause });
  } finally {
    clearTimeout(timer);
  }
}
