import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import { expectNoSecretIn } from "../../../../test/reliability/src/secret-assert.js";
import { thrown } from "../../test/support/thrown.js";
import { parseOptions, type StandardSchemaV1 } from "./parse-options.js";
import { INVALID_OPTIONS_CODE } from "./rules.js";

const schema = z.strictObject({
  name: z.optional(z.string().check(z.minLength(1), z.maxLength(8))),
  code: z.optional(z.string().check(z.minLength(4))),
  tags: z.optional(z.array(z.string()).check(z.maxLength(2))),
  size: z.optional(z.number().check(z.gt(0), z.lte(10))),
  mode: z._default(z.enum(["a", "b"]), "a"),
  secret: z.optional(z.string()),
  either: z.optional(z.union([z.number(), z.boolean()])),
  url: z.optional(z.string().check(z.refine((value) => value.startsWith("https:"), "expected https"))),
});

describe("parseOptions", () => {
  it("returns the parsed options with defaults, reading undefined and null as {}", () => {
    expect(parseOptions(schema, { size: 3 }, "createThing")).toEqual({ size: 3, mode: "a" });
    expect(parseOptions(schema, undefined, "createThing")).toEqual({ mode: "a" });
    expect(parseOptions(schema, null, "createThing")).toEqual({ mode: "a" });
  });

  it("lists every problem as `path: message` in cause and message, never a value", () => {
    const error = thrown(() =>
      parseOptions(
        schema,
        {
          name: "",
          code: "abc",
          tags: ["x", "y", "z"],
          size: 0,
          mode: "hunter2",
          secret: 42,
          either: "hunter2",
          url: "http://hunter2",
          extra: "hunter2",
        },
        "createThing",
      ),
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe(INVALID_OPTIONS_CODE);
    expect(error.code).toBe("ERR_TOKENKEEP_INVALID_OPTIONS");
    expect(error.cause).toEqual([
      "(options): unknown option `extra`",
      "name: must not be empty",
      "code: length must be >= 4",
      "tags: length must be <= 2",
      "size: must be > 0",
      'mode: expected one of "a", "b"',
      "secret: expected string",
      "either: does not match any allowed shape",
      "url: expected https",
    ]);
    expect(error.message).toBe(`invalid createThing options: ${(error.cause as string[]).join("; ")}`);
    expectNoSecretIn(error.message, "hunter2", "the error's message");
    expect(thrown(() => parseOptions(schema, { size: 11, name: "123456789" }, "x")).cause).toEqual([
      "name: length must be <= 8",
      "size: must be <= 10",
    ]);
    expect(thrown(() => parseOptions(schema, "hunter2", "x")).cause).toEqual(["(options): expected object"]);
  });

  it("rejects unknown keys of a zod object (strict or not), nested ones too, naming the nearest known key", () => {
    const classic = z.object({
      timeoutMs: z.optional(z.number()),
      retry: z.optional(z._default(z.object({ retries: z.optional(z.number()) }), {})),
    });
    const error = thrown(() =>
      parseOptions(classic, { timeout: 300, retry: { retires: 2 }, token: "hunter2" }, "createThing"),
    );
    expect(error.cause).toEqual([
      "(options): unknown option `timeout` - did you mean `timeoutMs`?",
      "(options): unknown option `token`",
      "retry: unknown option `retires` - did you mean `retries`?",
    ]);
    expectNoSecretIn(error.message, "hunter2", "the error's message");
    expect(parseOptions(classic, { timeoutMs: 1, retry: { retries: 1 } }, "createThing")).toEqual({
      timeoutMs: 1,
      retry: { retries: 1 },
    });
  });

  it("leaves the other keys of a zod object that takes them (loose or catchall) to the schema", () => {
    const loose = z.looseObject({
      timeoutMs: z.optional(z.number()),
      nested: z.optional(z.object({ a: z.number() })),
    });
    expect(parseOptions(loose, { timeoutMs: 1, extra: "kept" }, "createThing")).toEqual({
      timeoutMs: 1,
      extra: "kept",
    });
    // Its own fields are still checked for unknown keys.
    expect(thrown(() => parseOptions(loose, { nested: { a: 1, b: 2 } }, "createThing")).cause).toEqual([
      "nested: unknown option `b` - did you mean `a`?",
    ]);
    const catchall = z.catchall(z.object({ name: z.string() }), z.number());
    expect(parseOptions(catchall, { name: "n", retries: 2 }, "createThing")).toEqual({
      name: "n",
      retries: 2,
    });
    expect(thrown(() => parseOptions(catchall, { name: "n", retries: "two" }, "createThing")).cause).toEqual([
      "retries: expected number",
    ]);
  });

  it("runs check on valid options only and throws its problems the same way", () => {
    const needsName = (options: { name?: string | undefined }) => (options.name ? [] : ["name: required"]);
    expect(parseOptions(schema, { name: "n" }, "createThing", needsName)).toEqual({ name: "n", mode: "a" });
    const error = thrown(() => parseOptions(schema, {}, "createThing", needsName));
    expect(error).toMatchObject({ code: INVALID_OPTIONS_CODE, cause: ["name: required"] });
    expect(error.message).toBe("invalid createThing options: name: required");
    let checked = false;
    thrown(() =>
      parseOptions(schema, { size: -1 }, "createThing", () => {
        checked = true;
        return [];
      }),
    );
    expect(checked).toBe(false);
  });

  it("never repeats another library's message, which may quote the value (valibot's, arktype's)", () => {
    // Issues shaped as valibot 1 and arktype 2 report a wrong password and a wrong port.
    const foreign = (vendor: string, issues: readonly object[]): StandardSchemaV1 => ({
      "~standard": { version: 1, vendor, validate: () => ({ issues: issues as StandardSchemaV1.Issue[] }) },
    });
    const valibot = foreign("valibot", [
      {
        kind: "schema",
        type: "number",
        input: "s3cret",
        expected: "number",
        received: '"s3cret"',
        message: 'Invalid type: Expected number but received "s3cret"',
        path: [{ type: "object", origin: "value", input: {}, key: "password", value: "s3cret" }],
      },
      {
        kind: "validation",
        type: "check",
        input: 1,
        expected: null,
        received: "1",
        message: "Bad: 1",
        path: [],
      },
    ]);
    const arktype = foreign("arktype", [
      {
        code: "domain",
        expected: "a number",
        actual: '"s3cret"',
        message: 'port must be a number (was "s3cret")',
        path: ["port"],
      },
    ]);
    const valibotError = thrown(() => parseOptions(valibot, { password: "s3cret" }, "createThing"));
    expect(valibotError.cause).toEqual(["password: expected number", "(options): invalid"]);
    expectNoSecretIn(valibotError.message, "s3cret", "the error's message");
    const arktypeError = thrown(() => parseOptions(arktype, { port: "s3cret" }, "createThing"));
    expect(arktypeError.cause).toEqual(["port: expected a number"]);
    expectNoSecretIn(JSON.stringify(arktypeError.cause), "s3cret", "the error's cause");
  });

  it("takes any Standard Schema, and refuses one that validates asynchronously", async () => {
    const upper: StandardSchemaV1<unknown, string> = {
      "~standard": {
        version: 1,
        vendor: "test",
        validate: (value) =>
          typeof value === "string"
            ? { value: value.toUpperCase() }
            : { issues: [{ message: "label: not text", expected: "text", path: [{ key: "label" }] }] },
      },
    };
    expect(parseOptions(upper, "abc", "createThing")).toBe("ABC");
    expect(thrown(() => parseOptions(upper, 1, "createThing")).cause).toEqual(["label: expected text"]);
    const later: StandardSchemaV1 = {
      "~standard": { version: 1, vendor: "test", validate: async (value) => ({ value }) },
    };
    expect(thrown(() => parseOptions(later, {}, "createThing"))).toMatchObject({
      code: INVALID_OPTIONS_CODE,
      message: "the options schema of createThing must validate synchronously",
    });
    // A rejection of the promise nobody awaits is not left unhandled (vitest fails the run on one).
    const failing: StandardSchemaV1 = {
      "~standard": { version: 1, vendor: "test", validate: () => Promise.reject(new Error("no")) },
    };
    expect(thrown(() => parseOptions(failing, {}, "createThing")).code).toBe(INVALID_OPTIONS_CODE);
    await new Promise((resolve) => setTimeout(resolve, 0));
  });
});
