import { readFileSync, statSync, writeFileSync } from "node:fs";
import { ownerSchema } from "@tokenkeep/pat-protocol";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { DEFAULT_BOOTSTRAP_OWNER, DEFAULT_HOSTNAME, DEFAULT_PORT } from "../defaults";
import { lastForwardedFor } from "../internal/forwarded-for";
import { createPatHandler } from "../pat-handler";
import { generateSigningKey, type SigningJwk } from "../signing-keys";
import { createSqliteStore } from "../sqlite/sqlite-store";
import type { PatStore } from "../store";
import { bootstrapAdminToken } from "../token-service";
import { serve } from "./serve";

/**
 * Where the command writes, and what stops `start` (SIGTERM/SIGINT in the real binary). Environment
 * variables are read from `process.env`.
 */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Aborting it shuts a running server down gracefully. */
  readonly signal?: AbortSignal;
}

/** Default SQLite file of the standalone server. */
const DEFAULT_DATABASE = "tokenkeep-pat.db";
/** How long a graceful shutdown waits for in-flight requests before closing their sockets. */
const SHUTDOWN_GRACE_MS = 10_000;

interface StorageFlags {
  database: string;
  postgresUrl?: string;
  postgresSchema?: string;
}

/**
 * A value commander refuses with its own message, which names the flag or, for a value read from the
 * environment, the variable (`value '...' from env 'TOKENKEEP_PAT_...' is invalid`): a usage error.
 */
function invalidValue(reason: string): InvalidArgumentError {
  const error = new InvalidArgumentError(reason);
  error.exitCode = 2;
  return error;
}

/** An owner as the protocol accepts it (1 to 100 characters, no NUL, no unpaired surrogate), else a usage error saying why. */
function owner(value: string): string {
  const parsed = ownerSchema.safeParse(value);
  if (!parsed.success) throw invalidValue(parsed.error.issues.map((issue) => issue.message).join("; "));
  return parsed.data;
}

function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw invalidValue("expected a whole number");
  return Number(value);
}

/**
 * A boolean flag's value, strictly: `true`/`1` on, `false`/`0` off, anything else (an empty value
 * included) a usage error. Commander turns a plain boolean flag on whenever its environment variable
 * is defined, whatever it holds (`=false` would mean on), so such flags take an optional value parsed
 * here.
 */
function booleanValue(value: string): boolean {
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw invalidValue("expected true, 1, false or 0");
}

function storageOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--database <path>", "SQLite database file (used unless --postgres-url is given)")
        .env("TOKENKEEP_PAT_DATABASE")
        .default(DEFAULT_DATABASE),
    )
    .addOption(
      new Option("--postgres-url <url>", "PostgreSQL connection string").env("TOKENKEEP_PAT_POSTGRES_URL"),
    )
    .addOption(
      new Option("--postgres-schema <name>", "PostgreSQL schema for the tables").env(
        "TOKENKEEP_PAT_POSTGRES_SCHEMA",
      ),
    );
}

/** Opens the store; `pg` (an optional peer dependency) is loaded only when a PostgreSQL URL is given. */
async function openStore(flags: StorageFlags): Promise<{ store: PatStore; description: string }> {
  if (flags.postgresUrl) {
    const { createPostgresStore } = await import("../postgres/postgres-store").catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND") throw error;
      throw new Error("--postgres-url needs the PostgreSQL driver: npm install pg");
    });
    return {
      store: createPostgresStore({ connectionString: flags.postgresUrl, schema: flags.postgresSchema }),
      description: `PostgreSQL (schema ${flags.postgresSchema ?? "public"})`,
    };
  }
  return { store: createSqliteStore({ path: flags.database }), description: `SQLite (${flags.database})` };
}

function readSigningKeys(path: string): SigningJwk[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    // JSON.parse quotes the text it failed on: private key material must not reach the terminal.
    const reason = error instanceof SyntaxError ? "not valid JSON" : (error as Error).message;
    throw new Error(`--signing-keys-file: ${reason}`);
  }
  if (Array.isArray(parsed)) return parsed as SigningJwk[];
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (Array.isArray(keys)) return keys as SigningJwk[];
  throw new Error('--signing-keys-file: expected { "keys": [...] } or an array of private JWKs');
}

/** Private key material: a new file (never an existing one), readable and writable by its owner only. */
function writeKeyFile(path: string, text: string): void {
  try {
    // `wx`: refuse to replace a key set that may be in use; the mode applies as the file is created.
    writeFileSync(path, text, { mode: 0o600, flag: "wx" });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === "EEXIST"
        ? `--out: ${path} exists already: nothing was written`
        : `--out: ${(error as Error).message}`,
    );
  }
}

/** Warns when a signing key file can be read by other users than its owner. */
function warnIfShared(path: string, io: CliIo): void {
  try {
    if ((statSync(path).mode & 0o077) !== 0) {
      io.stderr(`warning: ${path} holds private keys but other users may read it (chmod 600 ${path}).\n`);
    }
  } catch {
    // readSigningKeys reports a missing file
  }
}

/**
 * Runs the `tokenkeep-pat-server` command line and resolves with the exit code. `start` resolves only
 * after `io.signal` aborts and the server has shut down.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = new Command()
    .name("tokenkeep-pat-server")
    .description("A personal access token service speaking the @access-tokens protocol.")
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  let exitCode = 0;

  storageOptions(program.command("start", { isDefault: true }).description("Serve the PAT routes over HTTP"))
    .addOption(
      new Option("--port <port>", "port to listen on")
        .env("TOKENKEEP_PAT_PORT")
        .default(DEFAULT_PORT)
        .argParser(integer),
    )
    .addOption(
      new Option("--hostname <host>", "interface to listen on")
        .env("TOKENKEEP_PAT_HOSTNAME")
        .default(DEFAULT_HOSTNAME),
    )
    .addOption(new Option("--issuer <iss>", "JWT issuer").env("TOKENKEEP_PAT_ISSUER"))
    .addOption(
      new Option("--jwt-lifetime <seconds>", "lifetime of exchanged JWTs")
        .env("TOKENKEEP_PAT_JWT_LIFETIME_SECONDS")
        .argParser(integer),
    )
    .addOption(
      new Option("--signing-keys-file <path>", "JSON file of private JWKs (see `genkey`)").env(
        "TOKENKEEP_PAT_SIGNING_KEYS_FILE",
      ),
    )
    .addOption(new Option("--token-prefix <prefix>", "PAT prefix").env("TOKENKEEP_PAT_TOKEN_PREFIX"))
    .addOption(
      new Option("--auth-path <path>", "prefix of the exchange route").env("TOKENKEEP_PAT_AUTH_PATH"),
    )
    .addOption(
      new Option("--admin-path <path>", "prefix of the admin routes").env("TOKENKEEP_PAT_ADMIN_PATH"),
    )
    .addOption(
      new Option("--rate-limit <n>", "exchanges per client address per minute (0: no limit)")
        .env("TOKENKEEP_PAT_RATE_LIMIT")
        .argParser(integer),
    )
    .addOption(
      new Option(
        "--trust-proxy [boolean]",
        "behind one reverse proxy: take the client address from the last X-Forwarded-For entry (true, 1, false or 0; alone: true)",
      )
        .env("TOKENKEEP_PAT_TRUST_PROXY")
        .argParser(booleanValue),
    )
    .addOption(
      new Option("--last-used-flush-ms <ms>", "how long lastUsedAt writes are coalesced")
        .env("TOKENKEEP_PAT_LAST_USED_FLUSH_MS")
        .argParser(integer),
    )
    .action(async (flags) => {
      exitCode = await start(flags, io);
    });

  storageOptions(
    program.command("bootstrap").description("Create an admin token if none is active, and print it once"),
  )
    .addOption(
      new Option("--owner <owner>", "owner of the admin token (1 to 100 characters)")
        .default(DEFAULT_BOOTSTRAP_OWNER)
        .argParser(owner),
    )
    .addOption(new Option("--token-prefix <prefix>", "PAT prefix").env("TOKENKEEP_PAT_TOKEN_PREFIX"))
    .action(async (flags: StorageFlags & { owner: string; tokenPrefix?: string }) => {
      const { store } = await openStore(flags);
      try {
        const issued = await bootstrapAdminToken(store, { owner: flags.owner, prefix: flags.tokenPrefix });
        if (!issued) {
          io.stderr("An active admin token exists already: nothing was created.\n");
          exitCode = 1;
          return;
        }
        io.stderr(
          `Created admin token ${issued.record.tokenId} for ${issued.record.owner}. It is shown once:\n`,
        );
        io.stdout(`${issued.token}\n`);
      } finally {
        await store.close();
      }
    });

  program
    .command("genkey")
    .description("Print a new private signing key set (JSON) for --signing-keys-file")
    .addOption(new Option("--alg <alg>", "signing algorithm").choices(["EdDSA", "RS256"]).default("EdDSA"))
    .addOption(
      new Option("--out <path>", "write the key set to a new file readable by its owner only (mode 0600)"),
    )
    .action(async (flags: { alg: "EdDSA" | "RS256"; out?: string }) => {
      const text = `${JSON.stringify({ keys: [await generateSigningKey({ alg: flags.alg })] }, null, 2)}\n`;
      if (flags.out === undefined) {
        io.stdout(text);
        return;
      }
      writeKeyFile(flags.out, text);
      io.stderr(`Wrote a private signing key set to ${flags.out} (mode 0600).\n`);
    });

  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return 0;
      return error.exitCode || 2;
    }
    io.stderr(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

interface StartFlags extends StorageFlags {
  port: number;
  hostname: string;
  issuer?: string;
  jwtLifetime?: number;
  signingKeysFile?: string;
  tokenPrefix?: string;
  authPath?: string;
  adminPath?: string;
  rateLimit?: number;
  trustProxy?: boolean;
  lastUsedFlushMs?: number;
}

async function start(flags: StartFlags, io: CliIo): Promise<number> {
  if (flags.signingKeysFile && process.platform !== "win32") warnIfShared(flags.signingKeysFile, io);
  const signingKeys = flags.signingKeysFile ? readSigningKeys(flags.signingKeysFile) : undefined;
  if (!signingKeys) {
    io.stderr("warning: no --signing-keys-file: using an ephemeral key; JWTs die with this process.\n");
  }
  const { store, description } = await openStore(flags);
  try {
    const handler = createPatHandler({
      store,
      signingKeys,
      issuer: flags.issuer,
      jwtLifetimeSeconds: flags.jwtLifetime,
      tokenPrefix: flags.tokenPrefix,
      authPath: flags.authPath,
      adminPath: flags.adminPath,
      rateLimit:
        flags.rateLimit === 0
          ? false
          : flags.rateLimit === undefined
            ? undefined
            : { maxRequests: flags.rateLimit },
      lastUsedFlushMs: flags.lastUsedFlushMs,
      ...(flags.trustProxy && {
        getClientAddress: (request: Request) => lastForwardedFor(request.headers.get("x-forwarded-for")),
      }),
    });
    await store.ping();
    await handler.jwks(); // fail before listening when the signing keys do not import
    const served = await serve(handler, { port: flags.port, hostname: flags.hostname });
    io.stdout(`tokenkeep-pat-server listening on ${served.url} with ${description}\n`);
    await new Promise<void>((resolve) => {
      if (io.signal?.aborted) resolve();
      io.signal?.addEventListener("abort", () => resolve(), { once: true });
    });
    io.stdout("tokenkeep-pat-server shutting down\n");
    const force = setTimeout(() => served.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    force.unref();
    await served.close();
    clearTimeout(force);
    await handler.close();
    return 0;
  } finally {
    await store.close();
  }
}
