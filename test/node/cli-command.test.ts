import { describe, expect, it } from "vitest";
import { defineCommand, positiveIntFlag, readGlobals } from "../../agent/cli/command.ts";
import type { CliContext } from "../../agent/cli/context.ts";
import { TheoryError } from "../../src/core/errors.ts";

// Commands run with no context: these leaves only echo what they were given.
const context = {} as CliContext;
const calls: unknown[] = [];

const start = defineCommand({
  name: "start",
  summary: "start the ref's thing",
  options: {
    ref: { type: "string", placeholder: "R", description: "the tool's ref", required: true },
    platform: { type: "string", placeholder: "amd64|arm64", description: "the image's platform" },
    force: { type: "boolean", description: "start even when it runs already" },
  },
  async run({ values, positionals }) {
    calls.push({ values, positionals });
    return { value: { ref: values.ref, platform: values.platform ?? null, json: values.json ?? false } };
  },
});

const get = defineCommand({
  name: "get",
  summary: "get one by id",
  positionals: [{ name: "ID", description: "the run's id" }],
  options: {
    "inputs-json": { type: "string", placeholder: "JSON", description: "inputs inline" },
    inputs: { type: "string", placeholder: "-", description: "inputs from stdin" },
  },
  oneOf: ["inputs-json", "inputs"],
  notes: "Credentials: THEORY_TOKEN.",
  async run({ values, positionals }) {
    return { value: { id: positionals[0], inline: values["inputs-json"] ?? null } };
  },
});

const tool = defineCommand({ name: "tool", summary: "start|get things", subcommands: [start, get] });

async function failure(args: string[]): Promise<TheoryError> {
  calls.length = 0;
  const error = await tool.run(args, context).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(TheoryError);
  expect(calls).toEqual([]);
  return error as TheoryError;
}

async function value(args: string[]): Promise<unknown> {
  const result = await tool.run(args, context);
  if (!("value" in result)) throw new Error(`no value: ${JSON.stringify(result)}`);
  return result.value;
}

async function raw(args: string[]): Promise<string> {
  const result = await tool.run(args, context);
  if (!("raw" in result)) throw new Error(`no raw text: ${JSON.stringify(result)}`);
  return result.raw;
}

describe("generated help", () => {
  it("a leaf: usage line from its declarations, each option with its description, the global options once", () => {
    const help = start.help("theory tool start");
    expect(help).toContain(
      "usage: theory tool start --ref R [--platform amd64|arm64] [--force] [global options]",
    );
    expect(help).toContain("start the ref's thing");
    expect(help).toMatch(/--ref R +the tool's ref \(required\)/);
    expect(help).toMatch(/--platform amd64\|arm64 +the image's platform\n/);
    expect(help).toMatch(/--force +start even when it runs already/);
    for (const global of [
      "--json",
      "--home DIR",
      "--registry FILE",
      "--control-plane URL",
      "--log-level LEVEL",
    ])
      expect(help.split(global)).toHaveLength(2);
    expect(help).toContain("-h, --help");
  });

  it("positionals, a one-of group and notes", () => {
    const help = get.help("theory tool get");
    expect(help).toContain("usage: theory tool get (--inputs-json JSON | --inputs -) ID [global options]");
    expect(help).toMatch(/ID +the run's id/);
    expect(help).toContain("Credentials: THEORY_TOKEN.");
  });

  it("a group: every subcommand with its synopsis and summary", () => {
    const help = tool.help("theory tool");
    expect(help).toContain("usage: theory tool <start|get> [options]");
    expect(help).toMatch(/start +--ref R \[--platform amd64\|arm64\] \[--force\]\n +start the ref's thing/);
    expect(help).toMatch(/get +\(--inputs-json JSON \| --inputs -\) ID\n +get one by id/);
    expect(help).toContain("theory tool <subcommand> --help");
  });
});

describe("--help and -h, anywhere", () => {
  it("on a subcommand: its help as the result, nothing run", async () => {
    calls.length = 0;
    expect(await raw(["start", "--help"])).toBe(start.help("theory tool start"));
    expect(await raw(["-h", "start"])).toBe(start.help("theory tool start"));
    expect(await raw(["start", "--ref", "a/b@1", "--bogus", "-h"])).toBe(start.help("theory tool start"));
    expect(calls).toEqual([]);
  });

  it("on the group: the group's help", async () => {
    expect(await raw(["--help"])).toBe(tool.help("theory tool"));
    expect(await raw(["-h", "--json"])).toBe(tool.help("theory tool"));
  });

  it("a value that is `--help` only after `--` is not a help request", async () => {
    const error = await failure(["start", "--", "--help"]);
    expect(error.message).toContain('unexpected argument "--help"');
  });
});

describe("strict parsing", () => {
  it("declared flags, both --flag value and --flag=value; global flags before, between and after", async () => {
    expect(await value(["start", "--ref", "a/b@1", "--platform=arm64"])).toEqual({
      ref: "a/b@1",
      platform: "arm64",
      json: false,
    });
    expect(
      await value(["--json", "start", "--home", "/tmp/h", "--ref=a/b@1", "--log-level", "debug"]),
    ).toEqual({ ref: "a/b@1", platform: null, json: true });
    expect(
      await value(["start", "--ref", "a/b@1", "--registry", "r.yaml", "--control-plane", "http://x"]),
    ).toEqual({ ref: "a/b@1", platform: null, json: false });
    expect(await value(["get", "run-1", "--inputs", "-"])).toEqual({ id: "run-1", inline: null });
    expect(await value(["get", "--inputs-json", "{}", "run-1"])).toEqual({ id: "run-1", inline: "{}" });
  });

  it("an unknown flag names it and points at --help", async () => {
    const error = await failure(["start", "--ref", "a/b@1", "--bogus"]);
    expect([error.code, error.message]).toEqual([
      "ERR_INPUTS",
      "unknown flag --bogus (see theory tool start --help)",
    ]);
    expect((await failure(["start", "--ref", "a/b@1", "-x"])).message).toContain("unknown flag -x");
  });

  it("a flag of another subcommand is unknown here", async () => {
    const error = await failure(["get", "run-1", "--inputs", "-", "--platform", "amd64"]);
    expect(error.message).toBe("unknown flag --platform (see theory tool get --help)");
  });

  it("a missing value: at the end, or followed by another flag", async () => {
    const end = await failure(["start", "--ref"]);
    expect([end.code, end.message]).toEqual([
      "ERR_INPUTS",
      "--ref needs a value: --ref R (see theory tool start --help)",
    ]);
    expect((await failure(["start", "--ref", "--json"])).message).toContain("--ref needs a value");
    // "-" alone is a value (stdin), not a flag.
    expect(await value(["get", "x", "--inputs", "-"])).toEqual({ id: "x", inline: null });
  });

  it("a value given to a boolean flag", async () => {
    expect((await failure(["start", "--ref", "a/b@1", "--force=yes"])).message).toBe(
      "--force takes no value (see theory tool start --help)",
    );
  });

  it("a missing or empty required flag", async () => {
    for (const args of [["start"], ["start", "--ref", ""], ["start", "--platform", "amd64"]]) {
      const error = await failure(args);
      expect([error.code, error.message]).toEqual([
        "ERR_INPUTS",
        "--ref R is required (see theory tool start --help)",
      ]);
    }
  });

  it("a stray positional, and a missing one", async () => {
    const stray = await failure(["start", "--ref", "a/b@1", "extra"]);
    expect([stray.code, stray.message]).toEqual([
      "ERR_INPUTS",
      'unexpected argument "extra" (see theory tool start --help)',
    ]);
    expect((await failure(["get", "a", "b", "--inputs", "-"])).message).toContain('unexpected argument "b"');
    expect((await failure(["get", "--inputs", "-"])).message).toBe(
      "give ID: theory tool get ID (see theory tool get --help)",
    );
  });

  it("a one-of group takes exactly one", async () => {
    for (const args of [
      ["get", "x"],
      ["get", "x", "--inputs", "-", "--inputs-json", "{}"],
    ]) {
      expect((await failure(args)).message).toBe(
        "give exactly one of --inputs-json JSON, --inputs - (see theory tool get --help)",
      );
    }
  });

  it("an unknown or a missing subcommand", async () => {
    const unknown = await failure(["stop", "--ref", "a/b@1"]);
    expect([unknown.code, unknown.message]).toEqual([
      "ERR_INPUTS",
      'unknown subcommand "stop": theory tool takes start|get (see theory tool --help)',
    ]);
    const missing = await failure(["--json"]);
    expect([missing.code, missing.message]).toEqual([
      "ERR_INPUTS",
      "give a subcommand: theory tool start|get (see theory tool --help)",
    ]);
  });

  it("the subcommand is found behind flags of its own", async () => {
    expect(await value(["--ref", "a/b@1", "start"])).toEqual({ ref: "a/b@1", platform: null, json: false });
  });
});

describe("readGlobals: the global flags main.ts needs before the command parses the line", () => {
  it("their values anywhere, both forms; other flags and words are left alone", () => {
    expect(
      readGlobals([
        "start",
        "--ref",
        "a/b@1",
        "--home",
        "/h",
        "--log-level=debug",
        "--control-plane",
        "http://x",
      ]),
    ).toEqual({ home: "/h", "log-level": "debug", "control-plane": "http://x", json: false });
    expect(readGlobals(["--json", "get", "id"])).toEqual({ json: true });
  });

  it("a string flag without its value has none; a flag word after it still counts", () => {
    expect(readGlobals(["start", "--home", "--json"])).toEqual({ json: true });
    expect(readGlobals(["start", "--registry"])).toEqual({ json: false });
    // After `--` nothing is a flag.
    expect(readGlobals(["get", "--", "--json"])).toEqual({ json: false });
  });
});

describe("positiveIntFlag", () => {
  it("absent is undefined; 1..max is the number", () => {
    expect(positiveIntFlag(undefined, "--tail", 10)).toBeUndefined();
    expect(positiveIntFlag("10", "--tail", 10)).toBe(10);
  });

  it("zero, too large, signed or fractional is ERR_INPUTS", () => {
    for (const bad of ["0", "11", "-1", "1.5", "x", ""])
      expect(() => positiveIntFlag(bad, "--tail", 10)).toThrow(
        expect.objectContaining({
          code: "ERR_INPUTS",
          message: "--tail must be a whole number from 1 to 10",
        }),
      );
  });
});
