/**
 * The astro-add test's loopback registry forwards through the proxy the environment names: an https
 * registry through a CONNECT tunnel (HTTPS_PROXY or https_proxy), trusting inside the tunnel only the
 * CA it was given; an http one through HTTP_PROXY; straight when NO_PROXY matches or nothing is set.
 * Everything is local: a tiny CONNECT proxy that counts what it carries, and an HTTPS "registry"
 * with a self-signed certificate made by the openssl CLI.
 */
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUpstream, type ProxyEnv, startLocalRegistry } from "./helpers/registry.js";

/** A self-signed certificate for 127.0.0.1 (key and cert written into `dir`). */
function makeCertificate(dir: string): string {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
  return readFileSync(join(dir, "cert.pem"), "utf8");
}

async function listen(server: Server): Promise<string> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

/**
 * Answers any path with a small packument naming it, and counts what it answered. `/tarred` is a
 * package document (gzipped when asked) whose newest tarball is under `origin()`; a tarball path
 * (`/-/`) answers its own path as its bytes.
 */
const registryHandler =
  (hits: string[], origin: () => string = () => "") =>
  (request: import("node:http").IncomingMessage, response: import("node:http").ServerResponse) => {
    const url = request.url ?? "";
    hits.push(url);
    if (url.includes("/-/")) {
      response.writeHead(200, { "content-type": "application/octet-stream" }).end(`bytes of ${url}`);
      return;
    }
    if (url === "/tarred") {
      const document = JSON.stringify({
        name: "tarred",
        versions: {
          "1.0.0": { dist: { tarball: `${origin()}/tarred/-/tarred-1.0.0.tgz` } },
          "0.9.0": { dist: { tarball: "https://elsewhere.example/tarred-0.9.0.tgz" } },
        },
      });
      const gzip = String(request.headers["accept-encoding"]).includes("gzip");
      response.writeHead(200, {
        "content-type": "application/json",
        ...(gzip ? { "content-encoding": "gzip" } : {}),
      });
      response.end(gzip ? gzipSync(document) : document);
      return;
    }
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ name: url.slice(1) }));
  };

const tlsHits: string[] = [];
const plainHits: string[] = [];
// Made in beforeAll (a key written to disk only while the tests run, removed after).
let dir: string | undefined;
let cert: string;
let tlsRegistry: Server | undefined;
const plainRegistry = createHttpServer(registryHandler(plainHits));

/** A forward proxy: CONNECT tunnels (counted by target) and absolute-form GETs for plain HTTP. */
const tunnels: string[] = [];
const forwarded: string[] = [];
const proxy = createHttpServer((request, response) => {
  forwarded.push(request.url ?? "");
  const upstream = httpRequest(
    request.url ?? "",
    { method: request.method, headers: request.headers },
    (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    },
  );
  upstream.on("error", () => response.destroy());
  request.pipe(upstream);
});
proxy.on("connect", (request, socket, head) => {
  tunnels.push(request.url ?? "");
  const [host, port] = (request.url ?? "").split(":");
  const target = connect(Number(port), host, () => {
    socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    target.write(head);
    target.pipe(socket);
    socket.pipe(target);
  });
  target.on("error", () => socket.destroy());
  socket.on("error", () => target.destroy());
});

let tlsHost: string;
let plainHost: string;
let proxyUrl: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tokenkeep-registry-proxy-"));
  cert = makeCertificate(dir);
  tlsRegistry = createHttpsServer(
    { key: readFileSync(join(dir, "key.pem")), cert },
    registryHandler(tlsHits, () => `https://${tlsHost}`),
  );
  [tlsHost, plainHost, proxyUrl] = await Promise.all([
    listen(tlsRegistry),
    listen(plainRegistry),
    listen(proxy).then((host) => `http://${host}`),
  ]);
});
afterAll(() => {
  for (const server of [tlsRegistry, plainRegistry, proxy]) {
    server?.closeAllConnections();
    server?.close();
  }
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** One forwarded GET through a loopback registry (which serves no package of its own). */
async function forward(url: string, env: ProxyEnv, ca?: string[]) {
  const upstream = createUpstream({ url, ca: ca ?? [cert], env });
  const registry = await startLocalRegistry(dir!, upstream);
  try {
    const answer = await fetch(`${registry.url}/left-pad`);
    return {
      status: answer.status,
      body: (await answer.json()) as unknown,
      failures: [...registry.failures],
    };
  } finally {
    await registry.close();
    upstream.agent.destroy();
    upstream.plainAgent.destroy();
  }
}

describe("the loopback registry's forwarding", () => {
  it("tunnels to an https registry through HTTPS_PROXY or https_proxy with CONNECT", async () => {
    for (const env of [{ HTTPS_PROXY: proxyUrl }, { https_proxy: proxyUrl }]) {
      const [tunnelsBefore, hitsBefore] = [tunnels.length, tlsHits.length];
      const answer = await forward(`https://${tlsHost}`, env);
      expect(answer, Object.keys(env)[0]).toEqual({ status: 200, body: { name: "left-pad" }, failures: [] });
      expect(tunnels.slice(tunnelsBefore)).toEqual([tlsHost]);
      expect(tlsHits.slice(hitsBefore)).toEqual(["/left-pad"]);
    }
  });

  it("checks the registry's certificate inside the tunnel against the CA it was given", async () => {
    const before = tunnels.length;
    const answer = await forward(`https://${tlsHost}`, { HTTPS_PROXY: proxyUrl }, []);
    expect(answer.status).toBe(502);
    expect(answer.failures.join()).toMatch(/certificate/i);
    expect(tunnels.length - before).toBe(1);
  });

  it("goes straight to the registry when NO_PROXY names its host, or no proxy is set", async () => {
    const before = tunnels.length;
    for (const env of [
      { HTTPS_PROXY: proxyUrl, NO_PROXY: "127.0.0.1" },
      { https_proxy: proxyUrl, no_proxy: "*" },
      {},
    ]) {
      const answer = await forward(`https://${tlsHost}`, env);
      expect(answer, JSON.stringify(Object.keys(env))).toEqual({
        status: 200,
        body: { name: "left-pad" },
        failures: [],
      });
    }
    expect(tunnels.length).toBe(before);
  });

  it("names the registry's tarballs under its own address, and forwards their download", async () => {
    const upstream = createUpstream({ url: `https://${tlsHost}`, ca: [cert], env: {} });
    const registry = await startLocalRegistry(dir!, upstream);
    try {
      const document = (await (await fetch(`${registry.url}/tarred`)).json()) as {
        versions: Record<string, { dist: { tarball: string } }>;
      };
      expect(document.versions["1.0.0"]?.dist.tarball).toBe(`${registry.url}/tarred/-/tarred-1.0.0.tgz`);
      // A tarball elsewhere than the registry is left alone.
      expect(document.versions["0.9.0"]?.dist.tarball).toBe("https://elsewhere.example/tarred-0.9.0.tgz");
      const tarball = await fetch(document.versions["1.0.0"]?.dist.tarball ?? "");
      expect(await tarball.text()).toBe("bytes of /tarred/-/tarred-1.0.0.tgz");
      expect(tlsHits.slice(-2)).toEqual(["/tarred", "/tarred/-/tarred-1.0.0.tgz"]);
      expect(registry.failures).toEqual([]);
    } finally {
      await registry.close();
      upstream.agent.destroy();
      upstream.plainAgent.destroy();
    }
  });

  it("asks an http registry through HTTP_PROXY, not HTTPS_PROXY", async () => {
    const before = forwarded.length;
    const viaProxy = await forward(`http://${plainHost}`, { HTTP_PROXY: proxyUrl });
    expect(viaProxy).toEqual({ status: 200, body: { name: "left-pad" }, failures: [] });
    expect(forwarded.slice(before)).toEqual([`http://${plainHost}/left-pad`]);
    await forward(`http://${plainHost}`, { HTTPS_PROXY: proxyUrl });
    expect(forwarded.length - before).toBe(1);
  });
});
