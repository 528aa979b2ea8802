import { describe, expect, it } from "vitest";
import { TheoryError } from "../../src/core/errors.ts";
import { jsonProblem, MAX_JSON_DEPTH, parseJson } from "../../src/core/json.ts";

const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

function refusal(text: string): TheoryError {
  try {
    parseJson(text, "body");
  } catch (error) {
    if (error instanceof TheoryError) return error;
    throw error;
  }
  throw new Error(`accepted: ${text.slice(0, 40)}`);
}

describe("parseJson: JSON the contract can carry", () => {
  it("parses ordinary JSON, surrogate pairs (emoji) and nesting up to the limit", () => {
    expect(parseJson('{"a":[1,2.5,-0,"x"],"b":null}', "body")).toEqual({ a: [1, 2.5, -0, "x"], b: null });
    expect(parseJson('"\\ud83d\\ude00"', "body")).toBe("😀");
    expect(() => parseJson(nested(MAX_JSON_DEPTH), "body")).not.toThrow();
  });

  it.each([
    ["malformed", "{oops", 400, "malformed JSON body"],
    ["Infinity from 1e400", '{"n":1e400}', 400, "n: a number too large"],
    ["-Infinity", '{"n":[-1e999]}', 400, "n[0]: a number too large"],
    ["a lone high surrogate", '{"s":"\\ud800"}', 400, "s: a string with a lone surrogate"],
    ["a lone low surrogate in a key", '{"\\udc00":1}', 400, "a key with a lone surrogate"],
    ["nesting one past the limit", nested(MAX_JSON_DEPTH + 1), 400, `at most ${MAX_JSON_DEPTH} levels`],
    ["nesting 100 000 deep", nested(100_000), 400, "nested too deep"],
    ["over 1 MiB", JSON.stringify("é".repeat(600 * 1024)), 413, "body over 1 MiB"],
  ])("refuses %s: ERR_INPUTS %i naming it", (_name, text, status, message) => {
    const error = refusal(text);
    expect(error.code).toBe("ERR_INPUTS");
    expect(error.status).toBe(status);
    expect(error.message).toContain(message);
  });

  it("checks values already parsed the same way, with a depth of the caller's choosing", () => {
    expect(jsonProblem({ a: [{ b: Number.POSITIVE_INFINITY }] })).toContain("a[0].b");
    expect(jsonProblem({ a: { b: {} } }, { maxDepth: 3 })).toBeUndefined();
    expect(jsonProblem({ a: { b: {} } }, { maxDepth: 2 })).toContain("a.b: nested too deep");
    expect(jsonProblem("fine")).toBeUndefined();
  });
});
