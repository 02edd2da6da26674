/**
 * A PostgreSQL cluster of this suite's own, started by the workspace's `scripts/services/postgres.sh`
 * under a private `TMPDIR` (so it is never the cluster other tests use, even when `TOKENKEEP_PG_URL`
 * is set), and restarted or stopped with `pg_ctl` while tests run against it.
 */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/** runuser lives in /usr/sbin, which a non-login shell's PATH may lack (as postgres.sh also assumes). */
const RUNUSER = ["/usr/sbin/runuser", "/sbin/runuser"].find((path) => existsSync(path)) ?? "runuser";

const run = promisify(execFile);

const SCRIPT = fileURLToPath(new URL("../../../scripts/services/postgres.sh", import.meta.url));

/** A running private cluster. */
export interface PostgresInstance {
  /**
   * `postgres://postgres@127.0.0.1:<port>/postgres`: PostgreSQL's default durability
   * (`synchronous_commit` on), as a deployment runs it.
   */
  readonly url: string;
  /**
   * A second database on the same cluster with `synchronous_commit` off (postgres.sh's setting for
   * the other tests): a commit is acknowledged before its WAL is written.
   */
  readonly lossyUrl: string;
  /** `pg_ctl restart -m <mode>`: every connection is dropped, the port stays the same. */
  restart(mode?: "fast" | "immediate"): Promise<void>;
  /** `pg_ctl stop -m <mode>` (the data stays; {@link start} brings it back on the same port). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  start(): Promise<void>;
  /** Stops the cluster and removes its folders. */
  dispose(): void;
}

function pgBin(): string {
  const onPath = (process.env.PATH ?? "")
    .split(":")
    .find((dir) => dir !== "" && existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl")));
  // Homebrew and /usr/local link the commands one by one: psql lives beside the real pg_ctl.
  if (onPath) return dirname(realpathSync(join(onPath, "pg_ctl")));
  const debian = existsSync("/usr/lib/postgresql")
    ? readdirSync("/usr/lib/postgresql")
        .sort((a, b) => Number(a) - Number(b))
        .map((version) => join("/usr/lib/postgresql", version, "bin"))
        .filter((dir) => existsSync(join(dir, "pg_ctl")))
    : [];
  const found = debian.at(-1);
  if (!found) throw new Error("pg_ctl not found (scripts/services/postgres.sh installs PostgreSQL)");
  return found;
}

/** Starts a private cluster (a few seconds: initdb). */
export function startPostgres(): PostgresInstance {
  const root = mkdtempSync(join(tmpdir(), "tk-reliability-pg-"));
  chmodSync(root, 0o755); // the postgres user (when we are root) must reach its folder inside
  const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: root };
  delete env.TOKENKEEP_PG_URL;
  const exports = execFileSync("bash", [SCRIPT, "start"], { env, encoding: "utf8" });
  const url = /TOKENKEEP_PG_URL=(\S+)/.exec(exports)?.[1];
  if (!url) throw new Error(`postgres.sh start printed no URL: ${exports}`);
  const service = readdirSync(root).find((name) => name.startsWith("tokenkeep-services-"));
  if (!service) throw new Error("postgres.sh made no service folder");
  const data = join(root, service, "postgres", "data");
  const bin = pgBin();
  // Asynchronous: the load this process drives keeps running while the server goes down.
  const pgCtl = async (...args: string[]) => {
    const command = join(bin, "pg_ctl");
    const [file, argv] =
      process.getuid?.() === 0
        ? [RUNUSER, ["-u", "postgres", "--", command, "-D", data, ...args]]
        : [command, ["-D", data, ...args]];
    await run(file, argv);
  };
  // postgres.sh turns synchronous_commit off on the command line; a database's own setting wins.
  const psql = (sql: string) =>
    execFileSync(join(bin, "psql"), ["-X", "-q", "-d", url, "-c", sql], {
      stdio: ["ignore", "ignore", "inherit"],
    });
  let disposed = false;
  const instance: PostgresInstance = {
    url,
    lossyUrl: url.replace(/\/postgres$/, "/lossy"),
    restart: (mode = "fast") =>
      pgCtl("-m", mode, "-w", "-t", "30", "-l", join(data, "..", "postgres.log"), "restart"),
    stop: (mode = "fast") => pgCtl("-m", mode, "-w", "-t", "30", "stop"),
    // What postgres.sh gave it (pg_ctl restart reads them back itself; start does not).
    start: () =>
      pgCtl(
        "-w",
        "-t",
        "30",
        "-l",
        join(data, "..", "postgres.log"),
        "-o",
        `-h 127.0.0.1 -p ${new URL(url).port} -k ${join(data, "..", "socket")} -c fsync=off -c synchronous_commit=off -c max_connections=200`,
        "start",
      ),
    dispose() {
      if (disposed) return;
      disposed = true;
      try {
        execFileSync("bash", [SCRIPT, "stop"], { env, stdio: "ignore" });
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
  try {
    psql("ALTER DATABASE postgres SET synchronous_commit = on");
    psql("CREATE DATABASE lossy");
    psql("ALTER DATABASE lossy SET synchronous_commit = off");
  } catch (error) {
    instance.dispose();
    throw error;
  }
  return instance;
}
