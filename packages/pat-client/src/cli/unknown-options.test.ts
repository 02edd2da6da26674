import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { closestFlag, findUnknownOption } from "./unknown-options";

function program(): Command {
  const root = new Command("x").option("--endpoint <url>").option("--json");
  root.command("issue").requiredOption("--owner <owner>").option("--expires-in <d>");
  root.command("list").option("--include-revoked").option("--include-expired");
  return root;
}

describe("findUnknownOption", () => {
  it("names an option neither the program nor the command knows, with the nearest known one", () => {
    expect(findUnknownOption(program(), ["issue", "--ownr", "x"])).toMatchObject({
      flag: "--ownr",
      suggestion: "--owner",
    });
    expect(findUnknownOption(program(), ["--jsno", "list"])).toMatchObject({ suggestion: "--json" });
    expect(findUnknownOption(program(), ["list", "--include-expird=1"])).toMatchObject({
      flag: "--include-expird",
      suggestion: "--include-expired",
    });
    expect(findUnknownOption(program(), ["list", "--verbose"])).toMatchObject({ suggestion: undefined });
  });

  it("accepts known options anywhere, values that start with a dash, and anything after --", () => {
    expect(findUnknownOption(program(), ["--endpoint", "--odd", "issue", "--owner", "--me", "--json"])).toBe(
      undefined,
    );
    expect(findUnknownOption(program(), ["issue", "--owner=x", "--", "--whatever"])).toBe(undefined);
    expect(findUnknownOption(program(), ["list", "--owner", "x"])).toMatchObject({ flag: "--owner" });
    expect(findUnknownOption(program(), ["bogus", "--x"])).toBe(undefined); // commander names the command
  });

  it("suggests only within a typo's reach", () => {
    expect(closestFlag("--limt", ["--limit", "--all"])).toBe("--limit");
    expect(closestFlag("--zzzz", ["--limit", "--all"])).toBe(undefined);
  });
});
