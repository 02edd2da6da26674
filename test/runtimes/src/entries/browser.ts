/** Entry for the browser page served by the orchestrator from its own origin. */
import { runMatrix } from "../run.ts";

const row = new URLSearchParams(location.search).get("runtime") ?? "chromium";
runMatrix(location.origin, row).then(
  () => {
    document.title = "done";
  },
  (error: unknown) => {
    document.title = `failed: ${String(error)}`;
  },
);
