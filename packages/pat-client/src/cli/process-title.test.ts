import { describe, expect, it } from "vitest";
import { processTitle } from "./process-title";

// A PAT of the protocol's shape: 43 base64 characters and the padding after the id.
const PAT = `pat_34NwRzvnBbgI3uedkrQ3Q.${"c2VjcmV0".repeat(5)}MTA=`;

describe("processTitle", () => {
  it("hides the values of --token and --admin-token, in both spellings, and keeps the rest", () => {
    expect(processTitle(["--token", "abc", "--admin-token=def", "list", "--all"])).toBe(
      "tokenkeep-pat --token <hidden> --admin-token=<hidden> list --all",
    );
  });

  it("hides a PAT pasted anywhere else", () => {
    const title = processTitle(["revoke", PAT]);
    expect(title).not.toContain("c2VjcmV0");
    expect(title).toMatch(/^tokenkeep-pat revoke </);
  });
});
