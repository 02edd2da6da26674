/**
 * A loopback npm registry for `astro add` tests: it serves the packed workspace packages (which are
 * not published) and forwards every other request to the registry pnpm is configured with, so a
 * package manager and `astro add` pointed at it install our tarballs exactly as they would published
 * ones. The package documents it forwards name their tarballs under its own address, so every
 * download comes through it as well, with the trust and proxy below. Forwarding trusts the system's CA store as well as Node's: a machine whose registry sits
 * behind a TLS-inspecting proxy has that proxy's CA there, and Node's own fetch rejects the chain
 * unless NODE_EXTRA_CA_CERTS names it (turbo passes that variable through, see turbo.json).
 *
 * A machine that reaches the registry only through an explicit proxy sets HTTPS_PROXY (or
 * https_proxy; HTTP_PROXY for an http: registry) and NO_PROXY: forwarding honours them, through an
 * HTTP CONNECT tunnel for https, with the same CA trust inside the tunnel. That is Node's own agent
 * option `proxyEnv` (node:http and node:https; every Node this workspace runs on has it), which reads those variables
 * with the usual precedence and NO_PROXY matching: no dependency, and no tunnel code of ours.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import {
  createServer,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { Agent, request as httpsRequest } from "node:https";
import { join } from "node:path";
import { getCACertificates } from "node:tls";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";

const run = promisify(execFile);

/** The registry everything but our packages comes from, and the TLS trust and proxy to reach it with. */
export interface Upstream {
  /** pnpm's `registry`, without the trailing slash. */
  readonly url: string;
  /** For an https: registry: the CA trust, and HTTPS_PROXY/https_proxy (a CONNECT tunnel) unless NO_PROXY matches. */
  readonly agent: Agent;
  /** For an http: registry: HTTP_PROXY/http_proxy unless NO_PROXY matches. */
  readonly plainAgent: HttpAgent;
}

/** The proxy variables an {@link Upstream} honours, as in `process.env`. */
export type ProxyEnv = Readonly<Record<string, string | undefined>>;

/**
 * An {@link Upstream} for `url`, trusting `ca`, through the proxy `env` names (`process.env` by
 * default; a variable left unset means a direct connection).
 */
export function createUpstream(options: {
  readonly url: string;
  readonly ca: readonly string[];
  readonly rejectUnauthorized?: boolean;
  readonly env?: ProxyEnv;
}): Upstream {
  const { HTTP_PROXY, http_proxy, HTTPS_PROXY, https_proxy, NO_PROXY, no_proxy } = options.env ?? process.env;
  // Only the proxy variables: the agent reads nothing else of it.
  const proxyEnv = { HTTP_PROXY, http_proxy, HTTPS_PROXY, https_proxy, NO_PROXY, no_proxy };
  return {
    url: options.url.replace(/\/+$/, ""),
    agent: new Agent({
      keepAlive: true,
      ca: [...options.ca],
      rejectUnauthorized: options.rejectUnauthorized ?? true,
      proxyEnv,
    }),
    plainAgent: new HttpAgent({ keepAlive: true, proxyEnv }),
  };
}

const configValue = async (key: string): Promise<string | undefined> => {
  const { stdout } = await run("pnpm", ["config", "get", key]);
  const value = stdout.trim();
  return value === "" || value === "undefined" || value === "null" ? undefined : value;
};

/** pnpm's registry and CA settings (`registry`, `cafile`, `strict-ssl`), read once. */
export async function upstreamRegistry(): Promise<Upstream> {
  const [registry, cafile, strict] = await Promise.all([
    configValue("registry"),
    configValue("cafile"),
    configValue("strict-ssl"),
  ]);
  // Node's bundled roots and NODE_EXTRA_CA_CERTS ("default"), the operating system's store (where a
  // TLS-inspecting proxy's CA lives; Node's fetch ignores it without --use-system-ca) and pnpm's cafile.
  const ca = [...getCACertificates("default"), ...getCACertificates("system")];
  if (cafile !== undefined) ca.push(await readFile(cafile, "utf8"));
  return createUpstream({
    url: registry ?? "https://registry.npmjs.org/",
    ca,
    rejectUnauthorized: strict !== "false",
  });
}

/** One GET or HEAD to the upstream registry; resolves with the response (its body unread). */
function upstreamGet(
  upstream: Upstream,
  path: string,
  method: "GET" | "HEAD",
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    // An http: registry (a local Verdaccio, say) is asked over plain HTTP, without the TLS trust.
    const target = `${upstream.url}${path}`;
    const outgoing = target.startsWith("http:")
      ? httpRequest(target, { method, headers, agent: upstream.plainAgent }, resolve)
      : httpsRequest(target, { method, headers, agent: upstream.agent }, resolve);
    outgoing.setTimeout(timeoutMs, () => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    outgoing.on("error", reject);
    outgoing.end();
  });
}

/** A packed workspace package. */
interface Packed {
  readonly manifest: Record<string, unknown> & { name: string; version: string };
  readonly file: string;
  readonly tarball: Buffer;
}

/** A running loopback registry. */
export interface LocalRegistry {
  /** `http://127.0.0.1:<port>`, for `npm_config_registry`. */
  readonly url: string;
  /** The paths of the requests it answered from our packages (not forwarded). */
  readonly served: readonly string[];
  /** Forwarded requests that failed (`GET /astro: <reason>`), for assertion messages. */
  readonly failures: readonly string[];
  close(): Promise<void>;
}

/** `package/package.json` of a packed tarball (a gzipped ustar archive). */
export function manifestOf(tarball: Buffer): Packed["manifest"] {
  const tar = gunzipSync(tarball);
  const field = (start: number, length: number) =>
    tar.toString("utf8", start, start + length).replace(/\0[\s\S]*$/, "");
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const name = field(offset, 100);
    if (name === "") break;
    const prefix = field(offset + 345, 155);
    const size = Number.parseInt(field(offset + 124, 12).trim() || "0", 8);
    if ((prefix === "" ? name : `${prefix}/${name}`) === "package/package.json") {
      return JSON.parse(tar.toString("utf8", offset + 512, offset + 512 + size));
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error("package/package.json not found in the tarball");
}

/** Packs workspace packages (`pnpm pack`: `workspace:` ranges become versions) into `destination`. */
export async function packWorkspacePackages(names: readonly string[], destination: string): Promise<void> {
  const packagesDir = fileURLToPath(new URL("../../../", import.meta.url));
  await Promise.all(
    names.map((name) =>
      run("pnpm", ["pack", "--pack-destination", destination], { cwd: join(packagesDir, name) }),
    ),
  );
}

async function loadPacked(directory: string): Promise<Map<string, Packed>> {
  const packed = new Map<string, Packed>();
  for (const file of (await readdir(directory)).filter((name) => name.endsWith(".tgz"))) {
    const tarball = await readFile(join(directory, file));
    const manifest = manifestOf(tarball);
    packed.set(manifest.name, { manifest, file, tarball });
  }
  return packed;
}

function packument(entry: Packed, base: string) {
  const { manifest, file, tarball } = entry;
  const version = {
    ...manifest,
    _id: `${manifest.name}@${manifest.version}`,
    dist: {
      tarball: `${base}/${manifest.name}/-/${file}`,
      shasum: createHash("sha1").update(tarball).digest("hex"),
      integrity: `sha512-${createHash("sha512").update(tarball).digest("base64")}`,
    },
  };
  return {
    name: manifest.name,
    "dist-tags": { latest: manifest.version },
    versions: { [manifest.version]: version },
  };
}

/** An answer's whole body, decompressed when it came gzipped. */
async function readBody(answer: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of answer) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  return (answer.headers["content-encoding"] === "gzip" ? gunzipSync(body) : body).toString("utf8");
}

/**
 * A package document whose tarball URLs under `upstream` now point at `base` (the same path), so the
 * tarballs come through the loopback registry. Anything that is not such a document passes unchanged.
 */
export function throughHere(document: string, upstream: string, base: string): string {
  let parsed: { versions?: Record<string, { dist?: { tarball?: unknown } }> };
  try {
    parsed = JSON.parse(document);
  } catch {
    return document;
  }
  const prefix = `${upstream}/`;
  for (const version of Object.values(parsed?.versions ?? {})) {
    const tarball = version?.dist?.tarball;
    if (typeof tarball === "string" && tarball.startsWith(prefix)) {
      version.dist = { ...version.dist, tarball: `${base}/${tarball.slice(prefix.length)}` };
    }
  }
  return JSON.stringify(parsed);
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/**
 * Starts the registry on 127.0.0.1 (a free port), serving every `.tgz` in `tarballDirectory` as the
 * only version of its package (packument at `/<name>`, `/<name>/latest` for `astro add`, tarball at
 * `/<name>/-/<file>`) and forwarding anything else to the upstream registry (pnpm's).
 */
export async function startLocalRegistry(
  tarballDirectory: string,
  upstream?: Upstream,
): Promise<LocalRegistry> {
  const packed = await loadPacked(tarballDirectory);
  const target = upstream ?? (await upstreamRegistry());
  const served: string[] = [];
  const failures: string[] = [];
  let base = "";

  // Proxied, not redirected: pnpm does not carry its TLS settings across a redirect from an http
  // registry to an https one.
  const forward = async (request: IncomingMessage, response: ServerResponse) => {
    const path = request.url ?? "/";
    const method = request.method === "HEAD" ? "HEAD" : "GET";
    // A package document's tarball URLs name the upstream itself: rewritten to come through here,
    // so a tarball missing from the store is fetched with this registry's trust and proxy, never
    // by the package manager straight from the upstream (which, behind a TLS-inspecting proxy,
    // fails the certificate check; pnpm 10 then waits for ever instead of exiting).
    const document = method === "GET" && !path.includes("/-/");
    const headers: Record<string, string> = { accept: request.headers.accept ?? "application/json" };
    const encoding = request.headers["accept-encoding"];
    if (document) headers["accept-encoding"] = "gzip";
    else if (typeof encoding === "string") headers["accept-encoding"] = encoding;
    const answer = await upstreamGet(target, path, method, headers, 60_000);
    if (document && answer.statusCode === 200) {
      const body = await readBody(answer);
      response
        .writeHead(200, { "content-type": answer.headers["content-type"] ?? "application/json" })
        .end(throughHere(body, target.url, base));
      return;
    }
    const passed: Record<string, string> = {};
    for (const name of ["content-type", "content-encoding", "content-length", "etag", "last-modified"]) {
      const value = answer.headers[name];
      if (typeof value === "string") passed[name] = value;
    }
    if (answer.statusCode === undefined || answer.statusCode >= 500) {
      failures.push(`${method} ${request.url}: upstream answered ${answer.statusCode}`);
    }
    response.writeHead(answer.statusCode ?? 502, passed);
    answer.on("error", (error) => {
      failures.push(`${method} ${request.url}: ${error.message}`);
      response.destroy();
    });
    answer.pipe(response);
  };

  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", base).pathname);
    for (const [name, entry] of packed) {
      if (
        path === `/${name}` ||
        path === `/${name}/latest` ||
        path === `/${name}/${entry.manifest.version}`
      ) {
        served.push(path);
        const document = packument(entry, base);
        return json(
          response,
          200,
          path === `/${name}` ? document : document.versions[entry.manifest.version],
        );
      }
      if (path === `/${name}/-/${entry.file}`) {
        served.push(path);
        response.writeHead(200, { "content-type": "application/octet-stream" }).end(entry.tarball);
        return;
      }
    }
    forward(request, response).catch((error: unknown) => {
      const reason = error instanceof Error ? error.message : String(error);
      failures.push(`${request.method} ${request.url}: ${reason}`);
      if (!response.headersSent) json(response, 502, { error: reason });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: base,
    served,
    failures,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        if (upstream === undefined) {
          target.agent.destroy();
          target.plainAgent.destroy();
        }
      }),
  };
}

/** Whether the upstream registry answers its ping within `timeoutMs` (with pnpm's own trust). */
export async function upstreamReachable(upstream: Upstream, timeoutMs = 5_000): Promise<boolean> {
  try {
    const answer = await upstreamGet(upstream, "/-/ping", "GET", { accept: "application/json" }, timeoutMs);
    answer.resume();
    return answer.statusCode !== undefined && answer.statusCode < 400;
  } catch {
    return false;
  }
}
