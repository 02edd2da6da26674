import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";

/** A redis-server child process owned by one test (so the test may stop and restart it). */
export interface RedisServerProcess {
  readonly port: number;
  readonly url: string;
  /** The running server's process id (for SIGSTOP), `undefined` while stopped. */
  readonly pid: number | undefined;
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  restart(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

async function launch(port: number, args: readonly string[]): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    [
      ...["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--dir", "/tmp"],
      ...args,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let output = "";
  child.stdout!.setEncoding("utf8");
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: string) => {
      output += chunk;
      if (output.includes("Ready to accept connections")) {
        child.stdout!.off("data", onData);
        child.stdout!.resume();
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${output.slice(-300)}`)));
  });
  return child;
}

/**
 * Starts a private redis-server on 127.0.0.1 (no persistence). It needs the `redis-server` binary,
 * which `scripts/services/redis.sh start` installs. `args` are more `redis-server` arguments
 * (`["--requirepass", "s3cret"]`).
 */
export async function startRedisServer(args: readonly string[] = []): Promise<RedisServerProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined = await launch(port, args);
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    running.kill("SIGKILL");
    await once(running, "exit");
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid;
    },
    stop,
    async restart() {
      await stop();
      child = await launch(port, args);
    },
  };
}
