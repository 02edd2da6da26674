import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";

/**
 * A TCP proxy on 127.0.0.1 (port 0) in front of a real server, able to freeze: while frozen it
 * forwards nothing, so the server looks alive but never answers (a slow Redis). `latencyMs` delays
 * every chunk in both directions (order kept), to spike a store's latency under a running fleet.
 * `targetPort` may be changed: connections opened from then on go there, open ones stay where they
 * are (a managed endpoint, or a DNS name, moved to another server).
 */
export interface TcpProxy {
  readonly port: number;
  freeze(): void;
  thaw(): void;
  /** Delay added to every chunk from now on (0 by default). */
  latencyMs: number;
  /**
   * How long a connection opened from now on forwards nothing, either way (0 by default): a server
   * slow to accept a new connection (a handshake far away), while open ones stay fast.
   */
  openDelayMs: number;
  /** Port of the server on 127.0.0.1 that new connections reach. */
  targetPort: number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let frozen = false;
  const control = { latencyMs: 0, openDelayMs: 0, targetPort };
  const server = createServer((inbound) => {
    const outbound = connect(control.targetPort, "127.0.0.1");
    const pair: [Socket, Socket] = [inbound, outbound];
    pairs.add(pair);
    const openAt = Date.now() + control.openDelayMs;
    // Each direction keeps its chunks in order: a chunk never leaves before the one ahead of it.
    const forward = (from: Socket, to: Socket) => {
      let lastDue = openAt;
      from.on("data", (chunk: Buffer) => {
        if (control.latencyMs === 0 && lastDue <= Date.now()) {
          to.write(chunk);
          return;
        }
        lastDue = Math.max(Date.now() + control.latencyMs, lastDue);
        setTimeout(() => to.writable && to.write(chunk), lastDue - Date.now());
      });
    };
    forward(inbound, outbound);
    forward(outbound, inbound);
    if (frozen) {
      inbound.pause();
      outbound.pause();
    }
    const drop = () => {
      pairs.delete(pair);
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on("error", drop).on("close", drop);
    outbound.on("error", drop).on("close", drop);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    port,
    get latencyMs() {
      return control.latencyMs;
    },
    set latencyMs(ms: number) {
      control.latencyMs = ms;
    },
    get openDelayMs() {
      return control.openDelayMs;
    },
    set openDelayMs(ms: number) {
      control.openDelayMs = ms;
    },
    get targetPort() {
      return control.targetPort;
    },
    set targetPort(port: number) {
      control.targetPort = port;
    },
    freeze() {
      frozen = true;
      for (const [a, b] of pairs) {
        a.pause();
        b.pause();
      }
    },
    thaw() {
      frozen = false;
      for (const [a, b] of pairs) {
        a.resume();
        b.resume();
      }
    },
    async close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      server.close();
      await once(server, "close");
    },
  };
}
