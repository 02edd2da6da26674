/**
 * What every runtime's entry calls: fetch this runtime's config from the orchestrator, run the
 * scenarios, post the results back. Only `fetch`: nothing runtime-specific lives here.
 */
import { type MatrixConfig, runScenarios, type ScenarioResult } from "./harness.ts";
import { scenarios } from "./scenarios/index.ts";

/** The body posted to `POST /results/<runtime>`. */
export interface RuntimeReport {
  runtime: string;
  /** `navigator.userAgent`, so the orchestrator can tell it ran the runtime it meant to. */
  userAgent: string;
  results: ScenarioResult[];
}

/** Runs the matrix scenarios for `runtime`, reporting to the orchestrator at `origin`. */
export async function runMatrix(origin: string, runtime: string): Promise<RuntimeReport> {
  const answer = await fetch(`${origin}/config/${runtime}`);
  if (!answer.ok) throw new Error(`GET /config/${runtime} answered ${answer.status}`);
  const config = (await answer.json()) as MatrixConfig;
  const results = await runScenarios(scenarios, config);
  const report: RuntimeReport = {
    runtime,
    userAgent: typeof navigator === "undefined" ? "unknown" : navigator.userAgent,
    results,
  };
  const posted = await fetch(`${origin}/results/${runtime}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(report),
  });
  if (!posted.ok) throw new Error(`POST /results/${runtime} answered ${posted.status}`);
  return report;
}
