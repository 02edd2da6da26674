// Shared by the example's tests: start the built site as a user does, and a cookie-keeping client.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import type { LocalServers } from "@tokenkeep/example-local-servers";
import { registerSecret } from "../../../test/reliability/src/secret-registry.ts";

export const root = fileURLToPath(new URL("..", import.meta.url));
const start = fileURLToPath(new URL("../server/start.ts", import.meta.url));

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface App {
  readonly url: string;
  readonly output: () => string;
  close(): Promise<void>;
}

export async function startApp(env: Record<string, string>): Promise<App> {
  const port = await freePort();
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(VITEST|TEST$|NODE_ENV$)/.test(name)),
  );
  const child: ChildProcess = spawn(process.execPath, [start], {
    cwd: root,
    env: { ...clean, AUTH_ISSUER: "", PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  const url = `http://127.0.0.1:${port}`;
  // The build is quiet (its log level is baked in): ready once the site answers.
  while (
    !(
      output.includes("site: http") &&
      (await fetch(`${url}/`).then(
        (answer) => answer.ok,
        () => false,
      ))
    )
  ) {
    if (child.exitCode !== null) throw new Error(`the app exited:\n${output}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL"); // never leave it running
      throw new Error(`the app did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    output: () => output,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/**
 * The built site pointed at `servers` (as a user points it at a real upstream), with `cookieSecret`.
 * The secrets it is handed are registered, so the run's closing search looks for them in every log.
 */
export function startAppAgainst(servers: LocalServers, cookieSecret: string): Promise<App> {
  return startApp({
    AUTH_ISSUER: servers.issuer,
    AUTH_CLIENT_ID: servers.clientId,
    AUTH_CLIENT_SECRET: registerSecret(servers.clientSecret, "client secret"),
    API_URL: servers.apiUrl,
    PAT_URL: servers.patUrl,
    PAT_ADMIN_TOKEN: servers.patAdminToken ? registerSecret(servers.patAdminToken, "admin PAT") : "",
    TOKENKEEP_SECRET: registerSecret(cookieSecret, "cookie secret"),
  });
}

/** A browser-like client: a cookie jar, same-origin form posts, no redirects followed. */
export function client(base: string) {
  const jar = new Map<string, string>();
  const keep = (response: Response) => {
    for (const header of response.headers.getSetCookie()) {
      const [pair] = header.split(";");
      const index = pair!.indexOf("=");
      const name = pair!.slice(0, index);
      const value = pair!.slice(index + 1);
      if (value === "deleted" || /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(header)) jar.delete(name);
      else jar.set(name, value);
    }
    return response;
  };
  const cookie = () => [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
  return {
    jar,
    cookie,
    get: async (path: string) =>
      keep(
        await fetch(`${base}${path}`, {
          headers: { cookie: cookie(), accept: "text/html" },
          redirect: "manual",
        }),
      ),
    post: async (path: string, fields: Record<string, string>) =>
      keep(
        await fetch(`${base}${path}`, {
          method: "POST",
          headers: { cookie: cookie(), "sec-fetch-site": "same-origin", accept: "text/html" },
          body: new URLSearchParams(fields),
          redirect: "manual",
        }),
      ),
  };
}
