import { PAT_SECRET_PATTERN, TOKEN_ID_LENGTH } from "@tokenkeep/pat-protocol";
import { Command, CommanderError, Option } from "commander";
import {
  DEFAULT_ADMIN_PATH,
  DEFAULT_AUTH_PATH,
  DEFAULT_LIST_ALL_MAX_PAGES,
  DEFAULT_TIMEOUT_MS,
} from "../defaults";
import { type ListOptions, PatAdminClient } from "../pat-admin-client";
import { isPatClientError } from "../pat-client-error";
import { printable, terminalJson } from "../terminal-text";
import { checkedExpiry } from "./expiry";
import {
  badRequestDetails,
  describeRefusal,
  isRefusedPat,
  optionProblemsAsFlags,
  pageLimitAdvice,
  refusedPatAdvice,
} from "./explain-failure";
import { describeExpiry, recordsTable } from "./format";
import {
  collect,
  parseDurationSeconds,
  parseLimit,
  parseMaxPages,
  parsePat,
  parseRetries,
  parseTimeoutMs,
  parseUnixSeconds,
} from "./parse-args";
import { tokenIdOfPat, tokenIdProblem } from "./token-id";
import { findUnknownOption } from "./unknown-options";

/** Where the CLI reads and writes: the process in `main.ts`, buffers in tests. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /**
   * Writes to stdout what exists nowhere else (the token `issue` creates): resolves once it is
   * written, rejects when it cannot be (the reader closed the pipe). Without it, `stdout` is used.
   * @default undefined
   */
  readonly deliver?: (text: string) => Promise<void>;
  /** @default Date.now */
  readonly now?: () => number;
}

/** Exit codes: 0 success, 1 the server or the network failed, 2 the command line is wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * A PAT with any prefix: `<prefix><token id>.<base64 secret>`. Commander quotes what it did not
 * understand ("unknown command '...'"), and a PAT pasted in the wrong place must not end up in a
 * terminal's scrollback or a CI log.
 */
const ANY_PAT = new RegExp(
  `[A-Za-z0-9_-]*[A-Za-z0-9]{${TOKEN_ID_LENGTH}}\\.${PAT_SECRET_PATTERN.source.replace(/^\^|\$$/g, "")}`,
  "g",
);

/** `text` with every PAT in it replaced by a placeholder. */
export function redactPats(text: string): string {
  return text.replace(ANY_PAT, "<personal access token, not shown>");
}

/** `text` with each line {@link printable}: its line breaks kept, every other control character escaped. */
function printableLines(text: string): string {
  return text.split("\n").map(printable).join("\n");
}

/** A command-line mistake found after parsing (exit code 2). */
class UsageError extends Error {
  override name = "UsageError";
}

interface GlobalOptions {
  endpoint?: string;
  token?: string;
  adminToken?: string;
  authPath?: string;
  adminPath?: string;
  retries?: number;
  timeout?: number;
  allowInsecureRequests?: boolean;
  json?: boolean;
}

/** Refuses anything but a token id (a whole PAT above all) where one belongs, before anything is sent. */
function checkTokenId(tokenId: string, command: string, name?: string): void {
  const problem = tokenIdProblem(tokenId, command, name);
  if (problem) throw new UsageError(problem);
}

/** The expiry the options ask for, or a usage error saying what was probably meant. */
function expiry(
  at: number | undefined,
  inSeconds: number | undefined,
  nowSeconds: number,
): number | undefined {
  const checked = checkedExpiry(at, inSeconds, nowSeconds);
  if ("problem" in checked) throw new UsageError(checked.problem);
  return checked.expiresAt;
}

/**
 * Runs `tokenkeep-pat` with `argv` (the arguments after the program name) and returns the exit code.
 * The PAT is never printed; `issue` prints the new token once, with a warning.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const now = io.now ?? Date.now;
  const nowSeconds = () => Math.floor(now() / 1000);
  const print = (text: string) => io.stdout(text.endsWith("\n") ? text : `${text}\n`);
  const printJson = (value: unknown) => print(terminalJson(value, 2));
  let json = false;

  const program = new Command("tokenkeep-pat")
    .description("Manage the personal access tokens of a PAT service (tokenkeep or @access-tokens).")
    .configureOutput({
      writeOut: io.stdout,
      writeErr: io.stderr,
      // Commander quotes the command line: its PATs hidden, its control characters escaped line by line.
      outputError: (text, write) => write(printableLines(redactPats(text))),
    })
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .addOption(new Option("--endpoint <url>", "base URL of the PAT service").env("TOKENKEEP_PAT_ENDPOINT"))
    .addOption(
      new Option("--token <pat>", "an admin personal access token (prefer the environment variable)")
        .env("TOKENKEEP_PAT")
        .argParser(parsePat),
    )
    .addOption(
      new Option(
        "--admin-token <pat>",
        "an admin PAT used only to look up a --token the server refuses (to say why); from the environment, sent only to the server TOKENKEEP_PAT_ENDPOINT names",
      )
        .env("TOKENKEEP_PAT_ADMIN_TOKEN")
        .argParser(parsePat),
    )
    .option("--auth-path <path>", "mount path of the exchange route", DEFAULT_AUTH_PATH)
    .option("--admin-path <path>", "mount path of the admin routes", DEFAULT_ADMIN_PATH)
    .option("--retries <n>", "retries of a failed request (0 to 10)", parseRetries, 3)
    .addOption(
      new Option(
        "--timeout <ms>",
        "abandon an attempt whose answer's headers (or then its body) take longer than this",
      )
        .env("TOKENKEEP_PAT_TIMEOUT_MS")
        .argParser(parseTimeoutMs)
        .default(DEFAULT_TIMEOUT_MS),
    )
    .option("--allow-insecure-requests", "accept an http --endpoint on a host that is not loopback")
    .option("--json", "print machine-readable JSON")
    .addHelpText(
      "after",
      "\nExit codes: 0 success, 1 server or network error, 2 usage error.\n" +
        "Environment: TOKENKEEP_PAT_ENDPOINT, TOKENKEEP_PAT, TOKENKEEP_PAT_ADMIN_TOKEN, TOKENKEEP_PAT_TIMEOUT_MS.",
    );

  /** A client from the global options; closed when `use` settles. */
  const withClient = async <T>(command: Command, use: (client: PatAdminClient) => Promise<T>): Promise<T> => {
    const options = command.optsWithGlobals<GlobalOptions>();
    json = options.json === true;
    if (!options.endpoint) throw new UsageError("missing --endpoint (or TOKENKEEP_PAT_ENDPOINT)");
    if (!options.token) throw new UsageError("missing --token (or TOKENKEEP_PAT)");
    const client = new PatAdminClient({
      endpoint: options.endpoint,
      apiKey: options.token,
      authPath: options.authPath,
      adminPath: options.adminPath,
      retry: { limit: options.retries ?? 3 },
      timeoutMs: options.timeout,
      allowInsecureRequests: options.allowInsecureRequests === true,
      onRetry: ({ attempt, attempts, error }) => {
        io.stderr(`warning: ${printable(error.message)}; retrying (attempt ${attempt} of ${attempts})\n`);
      },
      now,
    });
    try {
      return await use(client);
    } finally {
      await client.close();
    }
  };

  program
    .command("list")
    .description("list tokens, ordered by id (active ones unless told otherwise)")
    .option("--include-revoked", "include revoked tokens")
    .option("--include-expired", "include expired tokens")
    .option("--has-role <role>", "only tokens with this role")
    .option("--limit <n>", "tokens per page (1 to 1000)", parseLimit)
    .option("--after <tokenId>", "start after this token id (the cursor of the previous page)")
    .option("--all", "read every page")
    .option(
      "--max-pages <n>",
      `with --all, fail after reading this many pages (default: ${DEFAULT_LIST_ALL_MAX_PAGES})`,
      parseMaxPages,
    )
    .action(async (options, command: Command) => {
      if (options.after !== undefined) checkTokenId(options.after, "list", "--after");
      if (options.maxPages !== undefined && !options.all) throw new UsageError("--max-pages goes with --all");
      const query: ListOptions = {
        includeRevoked: options.includeRevoked,
        includeExpired: options.includeExpired,
        hasRole: options.hasRole,
        limit: options.limit,
        afterTokenId: options.after,
      };
      await withClient(command, async (client) => {
        let page: { records: Awaited<ReturnType<PatAdminClient["list"]>>; nextAfterTokenId: string | null };
        if (options.all) {
          const records = [];
          for await (const chunk of client.listAll({ ...query, maxPages: options.maxPages })) {
            records.push(...chunk);
          }
          page = { records, nextAfterTokenId: null };
        } else {
          page = await client.listPage(query);
        }
        if (json) return printJson(page);
        if (page.records.length === 0) return print("No tokens.");
        print(recordsTable(page.records, nowSeconds()));
        const count = `${page.records.length} token${page.records.length === 1 ? "" : "s"}`;
        const next = page.nextAfterTokenId;
        print(next ? `${count}; next page: --after ${printable(next)}` : count);
      });
    });

  program
    .command("issue")
    .description("issue a new token and print it once")
    .requiredOption("--owner <owner>", "who the token is for, e.g. an e-mail address")
    .option("--admin", "give it admin rights")
    .option("--role <role>", "add a role (repeatable, or comma-separated)", collect)
    .option("--expires-at <when>", "expiry: Unix seconds or an ISO date", parseUnixSeconds)
    .option("--expires-in <duration>", "expiry from now: 90s, 15m, 12h, 30d, 2w, 1y", parseDurationSeconds)
    .action(async (options, command: Command) => {
      const expiresAt = expiry(options.expiresAt, options.expiresIn, nowSeconds());
      await withClient(command, async (client) => {
        const { token, record } = await client.issue({
          owner: options.owner,
          isAdmin: options.admin === true,
          roles: options.role,
          expiresAt,
        });
        const warning = "Store this token now: it is shown only once and cannot be recovered.";
        // stdout holds the token alone (`tokenkeep-pat issue ... > token.txt`); the rest is stderr.
        if (!json) {
          const expires = describeExpiry(record.expiresAt, nowSeconds());
          const who = `${printable(record.tokenId)} for ${printable(record.owner)}`;
          io.stderr(`Issued token ${who} (${expires}).\n`);
        }
        io.stderr(`${warning}\n`);
        // A real token holds no control character: printable changes none.
        const text = json ? `${terminalJson({ token, record }, 2)}\n` : `${printable(token)}\n`;
        try {
          await (io.deliver ?? ((out: string) => io.stdout(out)))(text);
        } catch (error) {
          const id = printable(record.tokenId);
          throw new Error(
            `the new token ${id} could not be written to stdout (${(error as { code?: string }).code ?? "write failed"}): it is issued, and nobody holds it; revoke it with \`tokenkeep-pat revoke ${id}\``,
          );
        }
      });
    });

  program
    .command("register")
    .description("register a token generated elsewhere, by its id and the scrypt PHC of its secret")
    .argument("<tokenId>", "the token id (21 characters of A-Z, a-z, 0-9)")
    .requiredOption("--secret-phc <phc>", "scrypt PHC string of the secret")
    .requiredOption("--owner <owner>", "who the token is for")
    .option("--admin", "give it admin rights")
    .option("--role <role>", "add a role (repeatable, or comma-separated)", collect)
    .option("--expires-at <when>", "expiry: Unix seconds or an ISO date", parseUnixSeconds)
    .option("--expires-in <duration>", "expiry from now: 90s, 15m, 12h, 30d, 2w, 1y", parseDurationSeconds)
    .action(async (tokenId: string, options, command: Command) => {
      checkTokenId(tokenId, "register");
      const expiresAt = expiry(options.expiresAt, options.expiresIn, nowSeconds());
      await withClient(command, async (client) => {
        const record = await client.register({
          tokenId,
          secretPhc: options.secretPhc,
          owner: options.owner,
          isAdmin: options.admin === true,
          roles: options.role,
          expiresAt,
        });
        if (json) return printJson(record);
        print(recordsTable([record], nowSeconds()));
        print(`Registered token ${printable(record.tokenId)}.`);
      });
    });

  program
    .command("update")
    .description("change a token's owner, admin right, roles, expiry or secret")
    .argument("<tokenId>", "the token id")
    .option("--owner <owner>", "a new owner")
    .option("--admin", "give it admin rights")
    .option("--no-admin", "take its admin rights away")
    .option("--roles <roles>", "replace the roles (comma-separated; empty string for none)")
    .option("--add-role <role>", "add a role (repeatable)", collect)
    .option("--remove-role <role>", "remove a role (repeatable)", collect)
    .option("--expires-at <when>", "new expiry: Unix seconds or an ISO date", parseUnixSeconds)
    .option(
      "--expires-in <duration>",
      "new expiry from now: 90s, 15m, 12h, 30d, 2w, 1y",
      parseDurationSeconds,
    )
    .option("--no-expiry", "remove the expiry")
    .option("--secret-phc <phc>", "a new scrypt PHC string (rotates the secret)")
    .action(async (tokenId: string, options, command: Command) => {
      checkTokenId(tokenId, "update");
      const changes = [options.roles !== undefined, options.addRole, options.removeRole].filter(Boolean);
      if (changes.length > 1) throw new UsageError("use only one of --roles, --add-role and --remove-role");
      const roles =
        options.roles !== undefined
          ? collect(options.roles)
          : options.addRole
            ? { add: options.addRole as string[] }
            : options.removeRole
              ? { remove: options.removeRole as string[] }
              : undefined;
      // Commander sets `expiry: true` by default for a `--no-expiry` flag; only `false` means "remove".
      const removeExpiry = options.expiry === false;
      const newExpiry = expiry(options.expiresAt, options.expiresIn, nowSeconds());
      if (removeExpiry && newExpiry !== undefined)
        throw new UsageError("--no-expiry conflicts with --expires-*");
      const updates = {
        owner: options.owner,
        isAdmin: options.admin,
        roles,
        expiresAt: removeExpiry ? null : newExpiry,
        secretPhc: options.secretPhc,
      };
      if (Object.values(updates).every((value) => value === undefined)) {
        throw new UsageError("nothing to update (see --help)");
      }
      await withClient(command, async (client) => {
        await client.update(tokenId, updates);
        if (json) return printJson({ tokenId, updated: true });
        print(`Updated token ${tokenId}.`);
      });
    });

  program
    .command("revoke")
    .description("revoke a token (its existing expiry is kept)")
    .argument("<tokenId>", "the token id")
    .option("--expires-at <when>", "also set an expiry: Unix seconds or an ISO date", parseUnixSeconds)
    .option("--expires-in <duration>", "also set an expiry from now: 30d, ...", parseDurationSeconds)
    .action(async (tokenId: string, options, command: Command) => {
      checkTokenId(tokenId, "revoke");
      const expiresAt = expiry(options.expiresAt, options.expiresIn, nowSeconds());
      await withClient(command, async (client) => {
        await client.revoke(tokenId, expiresAt === undefined ? {} : { expiresAt });
        if (json) return printJson({ tokenId, revoked: true });
        print(`Revoked token ${tokenId}.`);
      });
    });

  program
    .command("restore")
    .description("restore a revoked token")
    .argument("<tokenId>", "the token id")
    .action(async (tokenId: string, _options, command: Command) => {
      checkTokenId(tokenId, "restore");
      await withClient(command, async (client) => {
        await client.restore(tokenId);
        if (json) return printJson({ tokenId, restored: true });
        print(`Restored token ${tokenId}.`);
      });
    });

  program
    .command("exchange")
    .description("exchange the personal access token for a JWT and print it")
    .action(async (_options, command: Command) => {
      await withClient(command, async (client) => {
        const { accessToken, tokenType, expiresAt } = await client.getAccessToken();
        if (!json) return print(printable(accessToken));
        printJson({
          access_token: accessToken,
          token_type: tokenType,
          expires_in: Math.max(0, Math.round((expiresAt - now()) / 1000)),
        });
      });
    });

  const unknown = findUnknownOption(program, argv);
  if (unknown) {
    // A PAT pasted as an option (its `=` padding would split it) is named, never shown.
    const pasted = redactPats(unknown.arg) !== unknown.arg;
    const flag = pasted ? "<personal access token, not shown>" : unknown.flag;
    const suggestion = unknown.suggestion && !pasted ? `, did you mean \`${unknown.suggestion}\`?` : "";
    const message = redactPats(`unknown option \`${flag}\`${suggestion} (add --help for usage)`);
    if (argv.includes("--json")) {
      io.stderr(`${terminalJson({ error: { message, code: "ERR_USAGE" } })}\n`);
    } else {
      io.stderr(`error: ${printable(message)}\n`);
    }
    return EXIT_USAGE;
  }

  try {
    await program.parseAsync([...argv], { from: "user" });
    return EXIT_OK;
  } catch (error) {
    const explanation = isRefusedPat(error)
      ? await explainRefusal(
          program.opts<GlobalOptions>(),
          program.getOptionValueSource("adminToken") === "env",
          now,
        )
      : [];
    // `--json` holds for a mistake found before any client was made (a malformed token id) too.
    return report(error, json || program.opts<GlobalOptions>().json === true, io, explanation);
  }
}

/** The environment variable an admin token may come from; its server is `TOKENKEEP_PAT_ENDPOINT`'s. */
const ADMIN_TOKEN_ENV = "TOKENKEEP_PAT_ADMIN_TOKEN";
const ENDPOINT_ENV = "TOKENKEEP_PAT_ENDPOINT";

/**
 * The lookup's requests stay with the service `home` names: `endpoint` is that service (same origin
 * and path, a trailing `/` aside), and the exchange and admin routes, once the URL parser has resolved
 * their dot segments (`/../`, `/%2e%2e/`), are still under its path.
 */
function staysWith(home: string | undefined, options: GlobalOptions): boolean {
  if (home === undefined || options.endpoint === undefined) return false;
  const normal = (text: string) => {
    const url = URL.parse(text.trim());
    return url && `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
  };
  const base = normal(home);
  if (base === null || base !== normal(options.endpoint)) return false;
  // As the client joins them: the endpoint and the route's path without trailing slashes.
  const endpoint = options.endpoint.trim().replace(/\/+$/, "");
  const routes = [
    `${(options.authPath ?? DEFAULT_AUTH_PATH).replace(/\/+$/, "")}/token`,
    `${(options.adminPath ?? DEFAULT_ADMIN_PATH).replace(/\/+$/, "")}/tokens`,
  ];
  return routes.every((route) => normal(`${endpoint}${route}`)?.startsWith(`${base}/`) === true);
}

/**
 * Why the server refused `--token`: what to check and, with an admin token (`--admin-token`) at
 * hand, what the token's record says (unknown id, revoked, expired, or active with a wrong secret).
 *
 * The lookup sends the admin token to the server that refused `--token`. Typed as `--admin-token`,
 * it was given for this command and its server. Read from the environment (a shell profile), it goes
 * only to the server the environment names too (`TOKENKEEP_PAT_ENDPOINT`): any server answers 401 to
 * a PAT it does not know, and one the operator named with `--endpoint` must not receive the admin PAT
 * meant for another, nor one another service's path reached through `--auth-path` or `--admin-path`.
 */
async function explainRefusal(
  options: GlobalOptions,
  adminTokenFromEnv: boolean,
  now: () => number,
): Promise<string[]> {
  const pat = options.token ?? "";
  const lines = refusedPatAdvice(pat);
  const tokenId = tokenIdOfPat(pat);
  if (!tokenId || !options.endpoint) return lines;
  if (!options.adminToken || options.adminToken === pat) {
    return [
      ...lines,
      "With an admin token in --admin-token (or TOKENKEEP_PAT_ADMIN_TOKEN), this command says which.",
    ];
  }
  if (adminTokenFromEnv && !staysWith(process.env[ENDPOINT_ENV], options)) {
    return [
      ...lines,
      `${ADMIN_TOKEN_ENV} was not sent: it goes only to the server ${ENDPOINT_ENV} names, and --endpoint`,
      "(with --auth-path and --admin-path) leads elsewhere. To look the token up on this server, pass its admin token as --admin-token.",
    ];
  }
  const lookup = new PatAdminClient({
    endpoint: options.endpoint,
    apiKey: options.adminToken,
    authPath: options.authPath,
    adminPath: options.adminPath,
    retry: false,
    timeoutMs: options.timeout,
    allowInsecureRequests: options.allowInsecureRequests === true,
    now,
  });
  try {
    const { found } = await lookup.batchGet([tokenId]);
    return [...lines, describeRefusal(tokenId, found[0], Math.floor(now() / 1000))];
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return [...lines, `Looking it up with --admin-token failed too: ${message}`];
  } finally {
    await lookup.close();
  }
}

/**
 * Prints `error` (as JSON with `--json`) and returns the exit code: 2 for a usage error (the command
 * line, or an argument the client refused before sending anything), 1 otherwise. Exported for tests.
 */
export function report(error: unknown, json: boolean, io: CliIo, explanation: readonly string[]): number {
  if (error instanceof CommanderError) {
    // Commander printed the message (or the help) already.
    return error.code === "commander.helpDisplayed" || error.code === "commander.version"
      ? EXIT_OK
      : EXIT_USAGE;
  }
  const typeErrorCode = error instanceof TypeError ? (error as { code?: unknown }).code : undefined;
  const optionsError = typeErrorCode === "ERR_TOKENKEEP_INVALID_OPTIONS";
  // The client refused an argument (a token id) before sending anything: the command line is wrong.
  const usage =
    error instanceof UsageError || optionsError || typeErrorCode === "ERR_TOKENKEEP_INVALID_ARGUMENT";
  let message = error instanceof Error ? error.message : String(error);
  if (optionsError) {
    // The client's option names, as the flags the operator typed.
    const { cause } = error as TypeError;
    message = optionProblemsAsFlags(Array.isArray(cause) ? (cause as string[]) : [message]).join("; ");
  }
  const details = [...badRequestDetails(error), ...pageLimitAdvice(error)];
  if (json) {
    const status = isPatClientError(error) ? error.status : undefined;
    const code = isPatClientError(error) ? error.code : usage ? "ERR_USAGE" : "ERR_UNEXPECTED";
    const hint = [...details, ...explanation].map((line) => line.trim());
    io.stderr(`${terminalJson({ error: { message, code, status, ...(hint.length > 0 && { hint }) } })}\n`);
  } else {
    // The message, the details and the explanation quote the server (messages, owners): printed, their
    // control and invisible characters are escaped. JSON output is exact (the same characters escaped
    // the JSON way, so JSON.parse reads the server's text back).
    io.stderr(`error: ${[message, ...details, ...explanation].map(printable).join("\n")}\n`);
  }
  return usage ? EXIT_USAGE : EXIT_FAILURE;
}
