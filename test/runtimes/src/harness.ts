/**
 * A tiny scenario harness that runs unchanged in every runtime of the matrix: no test framework, no
 * `node:` module, only what the web platform offers.
 */

/** What the orchestrator hands every runtime through `GET /config`. */
export interface MatrixConfig {
  /** The runtime's row name, e.g. `deno`. */
  runtime: string;
  /** The authorization server (oidc-provider) issuer, e.g. `http://127.0.0.1:40001`. */
  issuer: string;
  /** Its token endpoint. */
  tokenUrl: string;
  /** A confidential client allowed `client_credentials` and `refresh_token`. */
  clientId: string;
  clientSecret: string;
  /** A refresh token minted for this runtime alone (rotated on every use). */
  refreshToken: string;
  /** Another one, for the introspection scenario (rotated there, apart from the rotation scenario's). */
  introspectionRefreshToken: string;
  /** The orchestrator's origin: resource-server routes live under `/rs/`. */
  origin: string;
  /** A client authenticating with `private_key_jwt`, and its private JWK (a test key). */
  privateKeyJwt: { clientId: string; privateJwk: JsonWebKey };
  /** A client authenticating with `client_secret_jwt`. */
  clientSecretJwt: { clientId: string; secret: string };
}

/** One scenario's outcome. */
export interface ScenarioResult {
  name: string;
  passed: boolean;
  /** The failure, as `Name: message` (never a token: scenarios only put names and counts in messages). */
  error?: string;
}

/** A scenario: throws (or rejects) to fail. */
export type Scenario = (config: MatrixConfig) => Promise<void> | void;

/** Fails the scenario with `message` unless `condition` holds. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Fails unless `actual === expected`; the message shows both (never use it on secrets). */
export function assertEqual<T>(actual: T, expected: T, what: string): void {
  if (!Object.is(actual, expected)) {
    throw new Error(`${what}: expected ${String(expected)}, got ${String(actual)}`);
  }
}

/** Resolves with the rejection of `promise`, failing the scenario if it resolves instead. */
export async function rejection(promise: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error(`${what}: expected a rejection, got a value`);
}

/** A promise resolved from outside, to hold a creator or a server answer until the test says so. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** Lets pending promise callbacks (and the manager's internal awaits) run. */
export async function settle(rounds = 20): Promise<void> {
  for (let round = 0; round < rounds; round++) await Promise.resolve();
  await new Promise((done) => setTimeout(done, 0));
}

/** A hand-driven clock for the manager's `now` option. */
export function manualClock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let current = start;
  return {
    now: () => current,
    advance: (ms) => {
      current += ms;
    },
  };
}

const SCENARIO_GUARD_MS = 15_000;

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** Runs every scenario in order, each under a guard so a hang fails that scenario, not the row. */
export async function runScenarios(
  scenarios: Readonly<Record<string, Scenario>>,
  config: MatrixConfig,
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const [name, scenario] of Object.entries(scenarios)) {
    let guard: ReturnType<typeof setTimeout> | undefined;
    const hang = new Promise<never>((_, reject) => {
      guard = setTimeout(
        () => reject(new Error(`did not finish within ${SCENARIO_GUARD_MS} ms`)),
        SCENARIO_GUARD_MS,
      );
    });
    try {
      await Promise.race([Promise.resolve().then(() => scenario(config)), hang]);
      results.push({ name, passed: true });
    } catch (error) {
      results.push({ name, passed: false, error: describeError(error) });
    } finally {
      clearTimeout(guard);
    }
  }
  return results;
}
