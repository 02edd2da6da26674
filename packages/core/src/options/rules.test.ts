import { describe, expect, it } from "vitest";
import { expectNoSecretIn } from "../../../../test/reliability/src/secret-assert.js";
import { registerSecret } from "../../../../test/reliability/src/secret-registry.js";
import { thrown } from "../../test/support/thrown.js";
import {
  array,
  check,
  defaulted,
  func,
  INVALID_OPTIONS_CODE,
  methods,
  nearestKey,
  number,
  object,
  oneOf,
  optional,
  record,
  runRule,
  string,
  validate,
} from "./rules.js";

const rule = object({
  name: string(1),
  label: optional(string(), "none"),
  size: optional(number({ above: 0, max: 10 })),
  count: optional(number({ min: 0, int: true }), 3),
  mode: optional(oneOf(["a", "b"]), "a"),
  run: optional(func()),
  store: optional(methods(["get", "set"], "expected a store")),
  tags: optional(array(string(1))),
  headers: optional(record(string())),
  even: optional(check<number>((value) => typeof value === "number" && value % 2 === 0, "expected even")),
  nested: defaulted(object({ depth: optional(number({ min: 1 }), 2) })),
});

describe("rules", () => {
  it("returns the value with every default filled in", () => {
    expect(validate(rule, { name: "x" }, "createThing")).toEqual({
      name: "x",
      label: "none",
      count: 3,
      mode: "a",
      nested: { depth: 2 },
    });
    expect(validate(rule, { name: "x", count: 0, nested: { depth: 5 } }, "createThing")).toMatchObject({
      count: 0,
      nested: { depth: 5 },
    });
  });

  it("rejects an unknown key, naming the nearest known one, at any depth", () => {
    const error = thrown(() =>
      validate(rule, { name: "x", Count: 1, nested: { dpeth: 1 }, whatever: "secret-value" }, "createThing"),
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe("ERR_TOKENKEEP_INVALID_OPTIONS");
    expect(error.cause).toEqual([
      "(options): unknown option `Count` - did you mean `count`?",
      "(options): unknown option `whatever`",
      "nested: unknown option `dpeth` - did you mean `depth`?",
    ]);
    expectNoSecretIn(error.message, "secret-value", "the error's message");
    expect(nearestKey("skewMS", ["skewMs", "maxSkewFraction"])).toBe("skewMs");
    expect(nearestKey("timeout", ["timeoutMs", "tokenUrl"])).toBe("timeoutMs");
    expect(nearestKey("zzz", ["timeoutMs"])).toBeUndefined();
  });

  it("reports every problem as `path: message`, saying what was expected and never the value", () => {
    const secret = registerSecret("hunter2-secret", "secret option"); // fixed, registered
    const error = thrown(() =>
      validate(
        rule,
        {
          name: "",
          label: 42,
          size: 0,
          count: 1.5,
          mode: secret,
          run: secret,
          store: { get() {} },
          tags: ["ok", "", 7],
          headers: { a: "1", b: 2 },
          even: 3,
          nested: { depth: 0 },
        },
        "createThing",
      ),
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(error.code).toBe(INVALID_OPTIONS_CODE);
    expect(error.cause).toEqual([
      "name: must not be empty",
      "label: expected string",
      "size: expected a number > 0 and <= 10",
      "count: expected an integer >= 0",
      'mode: expected one of "a", "b"',
      "run: expected a function",
      "store: expected a store",
      "tags.1: must not be empty",
      "tags.2: expected string",
      "headers.b: expected string",
      "even: expected even",
      "nested.depth: expected a number >= 1",
    ]);
    expect(error.message).toBe(`invalid createThing options: ${(error.cause as string[]).join("; ")}`);
    expectNoSecretIn(error.message, secret, "the error's message");
  });

  it("reads undefined and null options as {}, and names the options object when it is not one", () => {
    expect(thrown(() => validate(rule, undefined, "x")).cause).toEqual(["name: expected string"]);
    expect(thrown(() => validate(rule, null, "x")).cause).toEqual(["name: expected string"]);
    expect(thrown(() => validate(rule, "hunter2", "x")).cause).toEqual(["(options): expected object"]);
    expect(thrown(() => validate(rule, [], "x")).cause).toEqual(["(options): expected object"]);
  });

  it("rejects what is not a finite number, and arrays and records of the wrong kind", () => {
    for (const size of [Number.NaN, Number.POSITIVE_INFINITY, "5", null]) {
      expect(runRule(rule, { name: "x", size }).problems).toEqual(["size: expected a number > 0 and <= 10"]);
    }
    expect(runRule(rule, { name: "x", tags: "a" }).problems).toEqual(["tags: expected array"]);
    expect(runRule(rule, { name: "x", headers: ["a"] }).problems).toEqual(["headers: expected object"]);
  });

  it("runs the cross-field check only on valid options, and reports its lines", () => {
    let checked = 0;
    const check = (options: { name: string }) => {
      checked++;
      return options.name === "bad" ? ["name: not this one"] : [];
    };
    expect(thrown(() => validate(rule, { name: 1 }, "x", check)).cause).toEqual(["name: expected string"]);
    expect(checked).toBe(0);
    expect(thrown(() => validate(rule, { name: "bad" }, "x", check)).cause).toEqual(["name: not this one"]);
    expect(validate(rule, { name: "good" }, "x", check).name).toBe("good");
    expect(checked).toBe(2);
  });
});
