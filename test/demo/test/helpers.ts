// Runs the demo as a user does: `node scripts/demo.mjs` (what `npm run demo` execs after building) as
// a child in a process group of its own, as a terminal would start it, with a private .demo folder.
//
// Secrets (test/reliability/src/secret-registry.ts): the cookie secret is minted here and handed to
// the demo; the client secrets, the admin PAT and the cookie secret its children run with are
// learned from their environment (Linux /proc) and registered; a PAT the admin page issues is
// registered by the browser test. The demo prints the admin PAT once BY DESIGN (that is how a user
// learns it): it is registered too, this test never echoes the demo's output (failure messages show
// `report()`, every registered secret replaced by its label), and `leaks()` checks that the output
// holds no registered secret but that one designed line, and that the demo's logs hold none at all.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { findLeaks } from "../../reliability/src/leak-scan.mjs";
import { REPO_ROOT } from "../../reliability/src/repo-root.ts";
import { mintSecret, registeredEntries, registerSecret } from "../../reliability/src/secret-registry.ts";

const script = join(REPO_ROOT, "scripts/demo.mjs");

export interface Demo {
  readonly child: ChildProcess;
  readonly dir: string;
  /** What it printed (never echo it: it may hold the admin PAT; see `report()`). */
  output(): string;
  /** The output with every registered secret replaced by its label: for failure messages. */
  report(): string;
  /** Registers the secrets its processes run with (client secrets, admin PAT, cookie secret). */
  learnSecrets(): number;
  /** Where a registered secret shows: in the output outside the admin PAT's one line, or in its logs. */
  leaks(): string[];
  /** Resolves once the output matches (polling, 60 s at most). */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  /** Resolves with the exit code. */
  exited(): Promise<number | null>;
}

const made: string[] = [];

/** A fresh folder for the demo's state, SQLite file and logs; `stopDemos()` removes it. */
export function demoDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tokenkeep-demo-"));
  made.push(dir);
  return dir;
}

/** The process groups this test file's demos run in (each demo's pid), for `stopDemos()`. */
const launched: number[] = [];

/**
 * Stops every demo this test file started (SIGKILL to each process group left, then waits until it
 * is gone) and removes every folder `demoDir()` made (logs, and the kept admin PAT): the test files'
 * `afterAll`.
 */
export async function stopDemos(): Promise<void> {
  const groups = launched.splice(0);
  for (const pid of groups) killGroup(pid);
  for (const pid of groups) await groupGone(pid);
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

export function startDemo(env: Record<string, string>, args: string[] = []): Demo {
  return launch([process.execPath, script, ...args], { TOKENKEEP_SECRET: COOKIE_SECRET, ...env });
}

/**
 * `npm run demo -- ...args`, word for word what the README says: npm, then scripts/run.sh (the
 * toolchain and install checks, a running demo's URLs, the build), then scripts/demo.mjs. No cookie
 * secret is handed over: the demo's own random one is used (and learned from its environment).
 */
export function startNpmDemo(env: Record<string, string>, args: string[] = []): Demo {
  return launch(["npm", "run", "demo", ...(args.length > 0 ? ["--", ...args] : [])], env);
}

/** `npm run example -- <name>` from the repository root, as an example's README tells a user. */
export function startNpmExample(name: string | undefined, env: Record<string, string> = {}): Demo {
  return launch(["npm", "run", "example", ...(name === undefined ? [] : ["--", name])], env);
}

function launch([command, ...argv]: string[], env: Record<string, string>): Demo {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) =>
        !/^(VITEST|TEST$|NODE_ENV$|TOKENKEEP_SECRET$|npm_lifecycle_|npm_package_|npm_command$|INIT_CWD$)/.test(
          name,
        ),
    ),
  );
  const dir = env.TOKENKEEP_DEMO_DIR ?? demoDir();
  const child = spawn(command!, argv, {
    cwd: REPO_ROOT,
    env: { ...clean, TOKENKEEP_DEMO_DIR: dir, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, whose id is its pid: what Ctrl-C in a terminal reaches
  });
  if (child.pid !== undefined) launched.push(child.pid);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const report = () => redact(output);
  return {
    child,
    dir,
    output: () => output,
    report,
    learnSecrets: () => learnSecrets(child.pid!, dir, output),
    leaks: () => leaksOf(output, dir),
    exited: () => exit,
    async waitFor(pattern) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const match = pattern.exec(output);
        if (match) return match;
        if (child.exitCode !== null) throw new Error(`the demo exited (${child.exitCode}):\n${report()}`);
        if (Date.now() > deadline) throw new Error(`the demo did not print ${pattern}:\n${report()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}

/** Whether any process is left in the demo's process group. */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Kills whatever is left of a demo (after a failed test): never leave one running. */
function killGroup(pid: number | undefined): void {
  if (pid !== undefined && groupAlive(pid)) process.kill(-pid, "SIGKILL");
}

/** Whether something accepts connections on the URL's port. */
export function listening(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Every http://127.0.0.1:<port> the demo printed. */
export const printedUrls = (output: string): string[] => [
  ...new Set([...output.matchAll(/http:\/\/127\.0\.0\.1:\d+/g)].map((match) => match[0])),
];

/** Waits until no process of the group is left (the demo's exit does not wait for a killed child). */
export async function groupGone(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** The cookie secret every demo of this run is started with (it would be random and unknown otherwise). */
const COOKIE_SECRET = mintSecret("cookie secret", { prefix: "demo-cookie-secret-" }); // 32 characters at least

/** The environment variables of the demo's children that hold secrets. */
const SECRET_VARIABLES = [
  "AUTH_CLIENT_SECRET",
  "BACKEND_CLIENT_SECRET",
  "CLIENT_SECRET",
  "PAT_ADMIN_TOKEN",
  "TOKENKEEP_SECRET",
];

/** The line on which the demo shows a new admin PAT, by design, and the PAT. */
const ADMIN_PAT_LINE = /^ {2}admin PAT \(shown once; kept in \S+\): (\S+)$/m;

/**
 * Registers what the demo's processes run with: every secret variable in the environment of each
 * process of its group (Linux `/proc`; elsewhere none is found), the admin PAT it printed or kept.
 * Returns how many it found.
 */
function learnSecrets(group: number, dir: string, output: string): number {
  const found = new Set<string>();
  const shown = ADMIN_PAT_LINE.exec(output)?.[1];
  if (shown) found.add(registerSecret(shown, "admin PAT"));
  const kept = join(dir, "admin-token");
  if (existsSync(kept)) found.add(registerSecret(readFileSync(kept, "utf8").trim(), "admin PAT"));
  if (!existsSync("/proc/self/environ")) return found.size;
  const learned: [value: string, label: string][] = [];
  for (const pid of groupPids(group)) {
    try {
      for (const entry of readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
        const at = entry.indexOf("=");
        const value = entry.slice(at + 1);
        if (SECRET_VARIABLES.includes(entry.slice(0, at)) && value !== "") {
          learned.push([value, entry.slice(0, at).toLowerCase().replaceAll("_", " ")]);
        }
      }
    } catch {
      // the process ended meanwhile, or is not ours to read
    }
  }
  // Registered outside the try: a secret too short to search for must fail the test, not vanish.
  for (const [value, label] of learned) found.add(registerSecret(value, label));
  return found.size;
}

/**
 * For each process of the demo's group, its command line and which of the secret variables (and
 * `DEMO_PASSWORD`) it holds, non-empty: names only, never values (Linux `/proc`; `undefined` elsewhere).
 */
export function secretNamesByProcess(group: number): { command: string; names: string[] }[] | undefined {
  if (!existsSync("/proc/self/environ")) return undefined;
  const out: { command: string; names: string[] }[] = [];
  for (const pid of groupPids(group)) {
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
      const names = readFileSync(`/proc/${pid}/environ`, "utf8")
        .split("\0")
        .filter((entry) => entry.indexOf("=") > 0 && entry.indexOf("=") < entry.length - 1) // a value, not ""
        .map((entry) => entry.slice(0, entry.indexOf("=")))
        .filter((name) => SECRET_VARIABLES.includes(name) || name === "DEMO_PASSWORD")
        .sort();
      out.push({ command, names });
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

/** The command line of each process of the demo's group (Linux `/proc`; `undefined` elsewhere). */
export function groupCommands(group: number): { pid: number; command: string }[] | undefined {
  if (!existsSync("/proc/self/cmdline")) return undefined;
  return groupPids(group).flatMap((pid) => {
    const command = commandOf(pid);
    return command === undefined ? [] : [{ pid, command }];
  });
}

/**
 * The pids of every redis-server of this machine on `port`, in any process group (Linux `/proc`,
 * where redis-server names itself `redis-server 127.0.0.1:<port>`; `undefined` elsewhere).
 */
export function redisServersOn(port: number): number[] | undefined {
  if (!existsSync("/proc/self/cmdline")) return undefined;
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      const command = commandOf(pid);
      return command?.startsWith("redis-server") && new RegExp(`:${port}(\\s|$)`).test(command);
    });
}

function commandOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return undefined; // ended meanwhile
  }
}

/** The pids of the processes in process group `group` (Linux `/proc`; none elsewhere). */
function groupPids(group: number): number[] {
  if (!existsSync("/proc/self/stat")) return [];
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        // /proc/<pid>/stat: "pid (name) state ppid pgrp ..."; the name may hold spaces.
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === group;
      } catch {
        return false; // ended meanwhile
      }
    })
    .map(Number);
}

/**
 * The TCP ports each process of the demo's group listens on, by pid (Linux `/proc`: the listening
 * sockets of `/proc/net/tcp` and `tcp6` whose inode one of its file descriptors names); `undefined`
 * where there is no `/proc`.
 */
export function listeningPorts(group: number): Map<number, number[]> | undefined {
  if (!existsSync("/proc/net/tcp")) return undefined;
  const portOf = new Map<string, number>(); // socket inode -> port
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"].filter((path) => existsSync(path))) {
    // "sl local_address rem_address st ... uid timeout inode": state 0A is LISTEN, the port is hex.
    for (const line of readFileSync(table, "utf8").trim().split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === "0A") portOf.set(fields[9]!, Number.parseInt(fields[1]!.split(":")[1]!, 16));
    }
  }
  const ports = new Map<number, number[]>();
  for (const pid of groupPids(group)) {
    const own: number[] = [];
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkOrEmpty(`/proc/${pid}/fd/${fd}`))?.[1];
        const port = inode === undefined ? undefined : portOf.get(inode);
        if (port !== undefined) own.push(port);
      }
    } catch {
      continue; // ended meanwhile
    }
    ports.set(pid, own);
  }
  return ports;
}

function readlinkOrEmpty(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return ""; // closed meanwhile
  }
}

/** `text` with every registered secret replaced by `[its label]`. */
export function redact(text: string): string {
  let shown = text;
  for (const { label, secret } of registeredEntries()) shown = shown.replaceAll(secret, `[${label}]`);
  return shown;
}

function leaksOf(output: string, dir: string): string[] {
  const texts = [{ where: "output", text: output.replace(ADMIN_PAT_LINE, "  admin PAT line (by design)") }];
  const logs = join(dir, "logs");
  if (existsSync(logs)) {
    for (const name of readdirSync(logs)) {
      texts.push({ where: `logs/${name}`, text: readFileSync(join(logs, name), "utf8") });
    }
  }
  return findLeaks(registeredEntries(), texts).map((leak) => `${leak.label} (${leak.form}) in ${leak.where}`);
}
