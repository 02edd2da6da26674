import { describe, expect, it } from "vitest";
import { readLimited } from "./read-limited.js";

const bytesOf = (text: string) => new TextEncoder().encode(text);

/**
 * A stream that hands out `chunks` one per pull (none ahead of a read), then ends, or with
 * `endless` waits forever; it records how many chunks were pulled and whether it was cancelled.
 */
function source(chunks: readonly string[], { endless = false } = {}) {
  const seen = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const next = chunks[seen.pulled];
        if (next !== undefined) {
          seen.pulled += 1;
          controller.enqueue(bytesOf(next));
        } else if (!endless) controller.close();
        // endless: never enqueue again, so the next read waits forever
      },
      cancel() {
        seen.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, seen };
}

describe("readLimited", () => {
  it("reads a Response's body whole, and a null body as empty", async () => {
    const bytes = await readLimited(new Response("héllo wörld").body, { maxBytes: 100 });
    expect(new TextDecoder().decode(bytes)).toBe("héllo wörld");
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(await readLimited(null, { maxBytes: 0 })).toEqual(new Uint8Array(0));
  });

  it("joins chunks up to exactly maxBytes", async () => {
    const { stream, seen } = source(["abc", "de", "fgh"]);
    const bytes = await readLimited(stream, { maxBytes: 8 });
    expect(new TextDecoder().decode(bytes)).toBe("abcdefgh");
    expect(seen.cancelled).toBe(false);
  });

  it("gives undefined one byte past maxBytes, cancelling the rest unread", async () => {
    const { stream, seen } = source(["abc", "de", "fgh", "never pulled"]);
    expect(await readLimited(stream, { maxBytes: 7 })).toBeUndefined();
    expect(seen).toEqual({ pulled: 3, cancelled: true });
  });

  it("stops on a stream that never ends once it passes maxBytes", async () => {
    const { stream, seen } = source(["0123456789", "0123456789"], { endless: true });
    expect(await readLimited(stream, { maxBytes: 15 })).toBeUndefined();
    expect(seen.cancelled).toBe(true);
  });

  it("gives undefined at once for a declared Content-Length over maxBytes, even when the body is small", async () => {
    const { stream, seen } = source(["tiny"]);
    expect(await readLimited(stream, { maxBytes: 10, declaredLength: "11" })).toBeUndefined();
    expect(seen).toEqual({ pulled: 0, cancelled: true });
    // with no body at all, too
    expect(await readLimited(null, { maxBytes: 10, declaredLength: "1000" })).toBeUndefined();
  });

  it("counts the bytes sent when the declared Content-Length understates them", async () => {
    const { stream, seen } = source(["01234", "56789"]);
    expect(await readLimited(stream, { maxBytes: 8, declaredLength: "3" })).toBeUndefined();
    expect(seen.cancelled).toBe(true);
  });

  it("ignores a declared length that is absent, within the limit or not a number", async () => {
    for (const declaredLength of [null, undefined, "10", "5", "", "abc"]) {
      const bytes = await readLimited(source(["01234", "56789"]).stream, { maxBytes: 10, declaredLength });
      expect(bytes?.byteLength, String(declaredLength)).toBe(10);
    }
  });

  it("rejects with the stream's own error", async () => {
    const failure = new Error("connection reset");
    let sent = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) controller.error(failure);
        else controller.enqueue(bytesOf("partial"));
        sent = true;
      },
    });
    await expect(readLimited(stream, { maxBytes: 100 })).rejects.toBe(failure);
  });

  it("rejects with the signal's reason and cancels the stream when the signal aborts mid-read", async () => {
    const { stream, seen } = source(["first"], { endless: true });
    const controller = new AbortController();
    const reason = new Error("give up");
    const read = readLimited(stream, { maxBytes: 100, signal: controller.signal });
    await new Promise((resolve) => setImmediate(resolve)); // the first chunk is read, the next waits
    expect(seen.pulled).toBe(1);
    controller.abort(reason);
    await expect(read).rejects.toBe(reason);
    expect(seen.cancelled).toBe(true);
  });

  it("reads nothing when the signal is already aborted", async () => {
    const { stream, seen } = source(["data"]);
    const reason = new Error("too late");
    await expect(readLimited(stream, { maxBytes: 100, signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );
    expect(seen).toEqual({ pulled: 0, cancelled: true });
  });

  it("leaves no abort listener on the signal once the read ended, however it ended", async () => {
    // A long-lived signal (a server's shutdown) passed to many reads must not gather their listeners.
    const controller = new AbortController();
    const { signal } = controller;
    const listening = new Set<unknown>();
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((type: string, listener: EventListener) => {
      listening.add(listener);
      add(type, listener);
    }) as typeof signal.addEventListener;
    signal.removeEventListener = ((type: string, listener: EventListener) => {
      listening.delete(listener);
      remove(type, listener);
    }) as typeof signal.removeEventListener;
    const whole = await readLimited(new Response("done").body, { maxBytes: 10, signal });
    expect(await readLimited(source(["0123456789", "!"]).stream, { maxBytes: 10, signal })).toBeUndefined();
    const failure = new Error("connection reset");
    const failing = new ReadableStream<Uint8Array>({ pull: (stream) => stream.error(failure) });
    await expect(readLimited(failing, { maxBytes: 10, signal })).rejects.toBe(failure);
    expect(listening.size).toBe(0);
    // And an abort after them disturbs nothing.
    controller.abort(new Error("later"));
    expect(new TextDecoder().decode(whole)).toBe("done");
  });

  it("throws a TypeError with the options code for invalid options", async () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /maxBytes: expected an integer >= 0/],
      [{ maxBytes: -1 }, /maxBytes: expected an integer >= 0/],
      [{ maxBytes: 1.5 }, /maxBytes: expected an integer >= 0/],
      [{ maxBytes: 10, declaredLength: 12 }, /declaredLength: expected string or null/],
      [{ maxBytes: 10, signal: "stop" }, /signal: expected AbortSignal/],
      [{ maxByte: 10 }, /maxBytes/],
    ];
    for (const [options, message] of cases) {
      const read = readLimited(null, options as never);
      await expect(read, JSON.stringify(options)).rejects.toThrow(TypeError);
      await expect(read).rejects.toMatchObject({ code: "ERR_TOKENKEEP_INVALID_OPTIONS" });
      await expect(read).rejects.toThrow(message);
    }
  });
});
