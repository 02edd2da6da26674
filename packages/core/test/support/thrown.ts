/** The error `run` throws (failing the test when it does not throw), typed as an options error. */
export function thrown(run: () => unknown): TypeError & { code?: string; cause?: unknown } {
  try {
    run();
  } catch (error) {
    return error as TypeError;
  }
  throw new Error("expected a throw");
}
