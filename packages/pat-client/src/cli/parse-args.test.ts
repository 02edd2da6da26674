import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import {
  collect,
  MAX_UNIX_SECONDS,
  parseDurationSeconds,
  parseLimit,
  parseTimeoutMs,
  parseUnixSeconds,
} from "./parse-args";

describe("CLI argument parsers", () => {
  it("reads durations", () => {
    expect(parseDurationSeconds("90s")).toBe(90);
    expect(parseDurationSeconds("30d")).toBe(30 * 86_400);
    expect(parseDurationSeconds("1y")).toBe(365 * 86_400);
    expect(() => parseDurationSeconds("30")).toThrow(InvalidArgumentError);
    expect(() => parseDurationSeconds("-1d")).toThrow(InvalidArgumentError);
  });

  it("reads Unix seconds and ISO dates", () => {
    expect(parseUnixSeconds("1800000000")).toBe(1_800_000_000);
    expect(parseUnixSeconds("2027-01-31T00:00:00Z")).toBe(Date.UTC(2027, 0, 31) / 1000);
    expect(() => parseUnixSeconds("tomorrow")).toThrow(InvalidArgumentError);
    expect(() => parseUnixSeconds("-5")).toThrow(InvalidArgumentError);
  });

  it("reads limits from 1 to 1000 only", () => {
    expect(parseLimit("1000")).toBe(1000);
    for (const bad of ["0", "1001", "1.5", "10abc", "1e3"])
      expect(() => parseLimit(bad)).toThrow(InvalidArgumentError);
  });

  it("reads timeouts as whole milliseconds from 1 to 2^31 - 1", () => {
    expect(parseTimeoutMs("1")).toBe(1);
    expect(parseTimeoutMs(" 2147483647 ")).toBe(2_147_483_647);
    for (const bad of ["0", "-1", "1.5", "1e3", "30s", "", "2147483648"])
      expect(() => parseTimeoutMs(bad), bad).toThrow(InvalidArgumentError);
  });

  it("collects repeated and comma-separated values", () => {
    expect(collect("c", collect("a, b"))).toEqual(["a", "b", "c"]);
    expect(collect("")).toEqual([]);
  });

  it("refuses times and durations past the last one a date can hold (year 275760)", () => {
    expect(parseUnixSeconds(String(MAX_UNIX_SECONDS))).toBe(MAX_UNIX_SECONDS);
    expect(parseDurationSeconds(`${MAX_UNIX_SECONDS}s`)).toBe(MAX_UNIX_SECONDS);
    for (const bad of [String(MAX_UNIX_SECONDS + 1), "99999999999999999999", "+275761-01-01"]) {
      expect(() => parseUnixSeconds(bad), bad).toThrow(InvalidArgumentError);
    }
    expect(() => parseDurationSeconds("99999999999999999y")).toThrow(InvalidArgumentError);
  });
});
