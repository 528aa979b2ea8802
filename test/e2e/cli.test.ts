import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/lib/local-stack.ts";
import { type Exited, runTheory } from "./support/cli.ts";

// The real `theory` binary as a user meets it: declared flags, generated help, strict parsing with
// exit status 2 for every mistake, and an unreachable control plane.
let home = "";

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), "theory-e2e-cli-"));
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

const theory = (args: string[], env: Record<string, string> = {}) =>
  runTheory(args, { THEORY_HOME: home, ...env });

const errorOf = (result: Exited) => JSON.parse(result.stdout).error;

describe("strict parsing: every mistake is ERR_INPUTS, exit 2, naming it", () => {
  it("theory agent --bogus", async () => {
    const result = await theory(["agent", "--bogus", "--agent-id", "box", "--json"]);
    expect(result.code).toBe(2);
    expect(errorOf(result)).toEqual({
      code: "ERR_INPUTS",
      message: "unknown flag --bogus (see theory agent --help)",
    });
    expect(result.stderr).toContain('"code":"ERR_INPUTS"');
  });

  it("theory localctl start --nope", async () => {
    const result = await theory(["localctl", "start", "--nope", "--ref", "echo/text@1", "--json"]);
    expect(result.code).toBe(2);
    expect(errorOf(result)).toEqual({
      code: "ERR_INPUTS",
      message: "unknown flag --nope (see theory localctl start --help)",
    });
  });

  it("theory nosuch, and theory with no command", async () => {
    const unknown = await theory(["nosuch"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe("");
    expect(unknown.stderr).toContain('unknown command \\"nosuch\\"');
    const json = await theory(["nosuch", "--json"]);
    expect([json.code, errorOf(json).code]).toEqual([2, "ERR_INPUTS"]);
    const none = await theory(["--json"]);
    expect([none.code, errorOf(none).message]).toEqual([
      2,
      expect.stringContaining(
        "give a command: theory agent|conformance|imagectl|localctl|modalctl|run|runs|tools",
      ),
    ]);
  });

  it("a missing value, a missing required flag, a stray or missing positional, an unknown subcommand", async () => {
    const cases: [string[], string][] = [
      [["run", "--ref"], "--ref needs a value: --ref R"],
      [["localctl", "status", "--home"], "--home needs a value: --home DIR"],
      [["localctl", "stop"], "--ref R is required"],
      [["runs", "get", "run-1", "run-2"], 'unexpected argument "run-2"'],
      [["runs", "cancel"], "give ID: theory runs cancel ID"],
      [["modalctl", "restart", "--ref", "llm/litellm@1"], 'unknown subcommand "restart"'],
      [
        ["imagectl", "push", "--ref", "echo/text@1", "--platform", "amd64", "--base-image", "x"],
        "unknown flag",
      ],
    ];
    for (const [args, message] of cases) {
      const result = await theory([...args, "--json"]);
      expect([result.code, errorOf(result).code], args.join(" ")).toEqual([2, "ERR_INPUTS"]);
      expect(errorOf(result).message).toContain(message);
    }
  });
});

describe("generated help: the result on stdout, exit 0", () => {
  it("theory run --help: the usage line, every flag with its description, the inputs' exclusion", async () => {
    const result = await theory(["run", "--help"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^usage: theory run --ref R --target local\|modal /);
    expect(result.stdout).toContain("(--inputs-json JSON | --inputs-file PATH | --inputs -)");
    expect(result.stdout).toMatch(/--wait +hold the request until the run settles/);
    expect(result.stdout).toContain("THEORY_TOKEN");
    expect(result.stderr).toBe("");
  });

  it("-h on a subcommand, even after a mistake; theory --help lists every command", async () => {
    const sub = await theory(["modalctl", "start", "--bogus", "-h"]);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toMatch(/^usage: theory modalctl start --ref R /);
    const top = await theory(["--help"]);
    expect(top.code).toBe(0);
    for (const name of ["agent", "imagectl", "localctl", "modalctl", "run", "runs"])
      expect(top.stdout).toMatch(new RegExp(`\\n  ${name} +\\S`));
  });
});

describe("the control-plane client, as the CLI uses it", () => {
  it("an unreachable control plane: theory runs get exits 7 with ERR_ENDPOINT_MISSING naming it", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const result = await theory(["runs", "get", "run-1", "--json"], {
      THEORY_CONTROL_PLANE: url,
      THEORY_TOKEN: "some-token",
    });
    expect(result.code).toBe(7);
    expect(errorOf(result)).toEqual({
      code: "ERR_ENDPOINT_MISSING",
      message: `the control plane at ${url} is unreachable`,
    });
    expect(result.stderr).not.toContain("some-token");
  });
});

describe("credentials", () => {
  it("an empty THEORY_TOKEN is no token: ERR_AUTH, exit 3 (not a configuration error)", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const runs = await theory(["runs", "get", "run-1", "--json"], {
      THEORY_CONTROL_PLANE: url,
      THEORY_TOKEN: "",
    });
    expect([runs.code, errorOf(runs).code]).toEqual([3, "ERR_AUTH"]);
    const agent = await theory(["agent", "--agent-id", "box", "--json"], {
      THEORY_CONTROL_PLANE: url,
      THEORY_TOKEN: "",
      THEORY_AGENT_TOKEN: "",
    });
    expect([agent.code, errorOf(agent).code]).toEqual([3, "ERR_AUTH"]);
  });

  it.each([
    "THEORY_TOKEN",
    "THEORY_AGENT_TOKEN",
    "PROCESSOR_TOKEN",
    "MODAL_PROXY_SECRET",
    "MODAL_TOKEN_SECRET",
  ])("%s in the environment is scrubbed from every log line", async (name) => {
    const secret = `${name.toLowerCase()}-0123456789`;
    // The unknown command's name is logged: without the variable, the value shows (the control).
    expect((await theory([`nosuch-${secret}`])).stderr).toContain(secret);
    const scrubbed = await theory([`nosuch-${secret}`], { [name]: secret });
    expect(scrubbed.stderr).toContain("nosuch-");
    expect(scrubbed.stderr).not.toContain(secret);
  });

  it("THEORY_AGENT_TOKEN never reaches a log line, before or after the configuration is read", async () => {
    const secret = "agent-secret-0123456789";
    // Before: the unknown command's name is logged. After: config.resolved logs the control plane URL.
    const early = await theory([`nosuch-${secret}`], { THEORY_AGENT_TOKEN: secret });
    expect(early.code).toBe(2);
    expect(early.stderr).toContain("nosuch-");
    expect(early.stderr).not.toContain(secret);
    const url = `http://127.0.0.1:${await freePort()}/${secret}`;
    const late = await theory(["runs", "get", "run-1", "--log-level", "debug"], {
      THEORY_CONTROL_PLANE: url,
      THEORY_TOKEN: "some-token",
      THEORY_AGENT_TOKEN: secret,
    });
    expect(late.code).toBe(7);
    expect(late.stderr).toContain('"event":"config.resolved"');
    expect(late.stderr).not.toContain(secret);
  });
});
