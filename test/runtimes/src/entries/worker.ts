/**
 * Entry for workerd, run with `workerd test`: its `test` handler runs the scenarios inside a worker
 * whose only outbound service is the loopback network. The orchestrator's origin comes from a text
 * binding.
 */
import { runMatrix } from "../run.ts";

interface Env {
  ORCHESTRATOR: string;
  /** The row: `workerd` (no Node compatibility) or `workerd-compat` (workerd's defaults). */
  RUNTIME: string;
}

export default {
  async test(_controller: unknown, env: Env): Promise<void> {
    await runMatrix(env.ORCHESTRATOR, env.RUNTIME);
  },
};
