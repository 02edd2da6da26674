import { connect } from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { startPatServer } from "../src/node/start-pat-server";

/** What came back on one raw connection, and how it ended. */
interface RawOutcome {
  /** Everything the server sent, as latin1 text. */
  readonly received: string;
  /** `"end"`: the server closed cleanly (FIN); `"reset"`: the connection was reset. */
  readonly ending: "end" | "reset";
}

/**
 * Writes `parts` in order on one TCP connection and collects the answer until the server closes it.
 * A reset (or a write failing on a reset connection) resolves with `ending: "reset"`.
 */
function rawExchange(port: number, parts: readonly (string | Uint8Array)[]): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (ending: RawOutcome["ending"]) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve({ received: Buffer.concat(chunks).toString("latin1"), ending });
    };
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("end", () => settle("end"));
    socket.on("error", () => settle("reset"));
    socket.on("connect", () => {
      for (const part of parts) socket.write(part);
    });
  });
}

/** The status codes and `Connection` headers of the answers in `text`, in order. */
function answers(text: string): { status: number; connection: string | undefined }[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3})[^\r]*\r\n((?:[^\r]+\r\n)*)\r\n/g)].map((match) => ({
    status: Number(match[1]),
    connection: /^connection: *(.+)$/im.exec(match[2]!)?.[1]?.trim().toLowerCase(),
  }));
}

const TWO_MIB = 2 * 1024 * 1024;
const healthz = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

describe("requests whose body the handler does not read", () => {
  it("answers a 2 MiB POST with 413 and Connection: close, then closes cleanly; /healthz answers next", async () => {
    const server = await startPatServer({ scryptLog2Cost: 10 });
    onTestFinished(() => server.close());
    const outcome = await rawExchange(Number(new URL(server.url).port), [
      `POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${TWO_MIB}\r\n\r\n`,
      new Uint8Array(TWO_MIB).fill(0x20),
      healthz, // pipelined on the same connection
    ]);
    // Before the fix: a keep-alive 413, the rest of the body never read, /healthz never answered and
    // the connection reset seconds later.
    expect(outcome.ending).toBe("end");
    expect(answers(outcome.received)).toEqual([{ status: 413, connection: "close" }]);
    // The client was told the connection closes, so it sends /healthz again, on a new one.
    const again = await rawExchange(Number(new URL(server.url).port), [
      healthz.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"),
    ]);
    expect(again.ending).toBe("end");
    expect(answers(again.received)).toMatchObject([{ status: 200 }]);
  });

  it.each([
    ["401, an admin route without a JWT", "POST /admin/tokens", "application/json", 401],
    ["404, an unknown route", "POST /nowhere", "application/json", 404],
    ["415, an exchange of the wrong type", "POST /auth/token", "text/plain", 415],
  ])("%s: Connection: close, then a clean close", async (_name, target, type, status) => {
    const server = await startPatServer({ scryptLog2Cost: 10 });
    onTestFinished(() => server.close());
    const size = 1024 * 1024;
    const outcome = await rawExchange(Number(new URL(server.url).port), [
      `${target} HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nContent-Length: ${size}\r\n\r\n`,
      new Uint8Array(size).fill(0x20),
      healthz,
    ]);
    expect(outcome.ending).toBe("end");
    expect(answers(outcome.received)).toEqual([{ status, connection: "close" }]);
  });

  it("keeps the connection for the next request when the body was read", async () => {
    const server = await startPatServer({ scryptLog2Cost: 10 });
    onTestFinished(() => server.close());
    const body = JSON.stringify({ client_secret: "pat_not-a-token" });
    const outcome = await rawExchange(Number(new URL(server.url).port), [
      `POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      healthz.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"),
    ]);
    expect(outcome.ending).toBe("end");
    expect(answers(outcome.received)).toMatchObject([
      { status: 401, connection: "keep-alive" },
      { status: 200, connection: "close" },
    ]);
  });

  it("answers fetch's 2 MiB POST with 413, and the same client's next request", async () => {
    const server = await startPatServer({ scryptLog2Cost: 10 });
    onTestFinished(() => server.close());
    const response = await fetch(`${server.url}/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new Uint8Array(TWO_MIB).fill(0x20),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get("connection")).toBe("close");
    expect(await response.json()).toMatchObject({ error: { code: "ERR_BODY_TOO_LARGE" } });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
