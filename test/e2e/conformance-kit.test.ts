import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHECKS } from "../../agent/conformance/kit.ts";
import type { LocalProcess } from "../../scripts/lib/local-stack.ts";
import { freePort } from "../../scripts/lib/local-stack.ts";
import { waitStartedHealthy } from "../../src/core/health.ts";
import { BROKEN_PROCESSORS } from "../support/broken-processors.ts";
import { type PatchedProcessor, startPatchedProcessor } from "../support/patched-processor.ts";
import { TEST_PROCESSOR_TOKEN } from "../support/tokens.ts";
import { runTheory } from "./support/cli.ts";
import { startRecordedProcessor } from "./support/source-processor.ts";

// The real `theory conformance` binary against processors written in two languages, a broken
// one, and nothing at all.
const root = join(import.meta.dirname, "..", "..");
const PYTHON_DIGEST = `sha256:${"c".repeat(64)}`;
const SOURCE_DIGEST = `sha256:${"d".repeat(64)}`;
const ECHO_FINGERPRINT = "cpu:0.25;memory:256Mi";
let dir = "";
let home = "";
const children: ChildProcess[] = [];
let source: LocalProcess;

const theory = (args: string[], env: Record<string, string> = {}) =>
  runTheory(args, { THEORY_HOME: home, ...env });

/** examples/processors/python/processor.py on a free port, with `python3` as a user runs it. */
async function startPython(env: Record<string, string> = {}) {
  const port = await freePort();
  const artifacts = await mkdtemp(join(dir, "python-artifacts-"));
  const child = spawn("python3", ["processor.py"], {
    cwd: join(root, "examples", "processors", "python"),
    env: {
      PATH: process.env.PATH,
      PYTHONDONTWRITEBYTECODE: "1",
      TOOL_REF: "echo/text@1",
      IMAGE_DIGEST: PYTHON_DIGEST,
      ENV_FINGERPRINT: ECHO_FINGERPRINT,
      ARTIFACTS_ROOT: artifacts,
      HOST: "127.0.0.1",
      PORT: String(port),
      ...env,
    },
    stdio: ["ignore", "ignore", "ignore"],
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  await waitStartedHealthy(url, "the Python processor", {
    policy: { initialMs: 50, maxMs: 500, factor: 2, jitter: 0.2, totalMs: 20_000 },
    alive: () => child.exitCode === null,
  });
  return { url, artifacts };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "theory-e2e-conformance-kit-"));
  home = join(dir, "home");
  source = await startRecordedProcessor(home, home, SOURCE_DIGEST);
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  await source?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("theory conformance (the real binary)", () => {
  it("the Python example passes every check: exit 0, one JSON result, nothing left in its artifacts", async () => {
    const python = await startPython();
    const result = await theory([
      "conformance",
      "--url",
      python.url,
      "--tool",
      "echo/text@1",
      "--artifacts",
      python.artifacts,
      "--image-digest",
      PYTHON_DIGEST,
      "--env-fingerprint",
      ECHO_FINGERPRINT,
      "--json",
    ]);
    const report = JSON.parse(result.stdout);
    expect(report.checks.filter((check: { status: string }) => check.status !== "pass")).toEqual([]);
    expect(report).toMatchObject({
      status: "pass",
      target: { tool: "echo/text@1", image_digest: PYTHON_DIGEST, env_fingerprint: ECHO_FINGERPRINT },
      summary: { total: CHECKS.length, passed: CHECKS.length, failed: 0, skipped: 0 },
    });
    expect(result.code).toBe(0);
    expect(await readdir(join(python.artifacts, "outputs", "echo.text.1"))).toEqual([]);
  });

  it("--ref reads localctl's state file: the started processor's port, digest and artifacts", async () => {
    const result = await theory(["conformance", "--ref", "llm/litellm@1"]);
    expect(result.stdout).toContain(`theory conformance: llm/litellm@1 at ${source.url}`);
    expect(result.stdout).toContain(`PASS  envelope.identity: ${SOURCE_DIGEST} with cpu:1;memory:2Gi`);
    expect(result.stdout).toContain(
      `PASS  envelope.local-etags: 1 file(s) and outputs.json in ${join(home, "artifacts")}`,
    );
    expect(result.stdout.trimEnd().split("\n").at(-1)).toBe(
      `conformant: ${CHECKS.length} passed, 0 failed of ${CHECKS.length} checks`,
    );
    expect(result.code).toBe(0);
  });

  it("a broken processor fails its check with observed and expected: exit 1 (ERR_INTERNAL)", async () => {
    const noAck = BROKEN_PROCESSORS.find((broken) => broken.check === "ws.ack-first");
    let broken: PatchedProcessor | undefined;
    try {
      broken = await startPatchedProcessor("echo/text@1", noAck?.patch ?? {});
      // The real processor behind the patch admits runs with the test token only.
      const text = await theory(["conformance", "--url", broken.url, "--tool", "echo/text@1"], {
        PROCESSOR_TOKEN: TEST_PROCESSOR_TOKEN,
      });
      expect(text.code).toBe(1);
      expect(text.stdout).toMatch(/^FAIL {2}ws\.ack-first: the first frame is not Ack naming the run$/m);
      expect(text.stdout).toMatch(/^ {6}observed: "\{\\"content\\":\{.*\\"kind\\":\\"RunResult\\"\}"$/m);
      expect(text.stdout).toMatch(/^NOT conformant: \d+ passed, [1-9]\d* failed/m);
      const json = await theory(["conformance", "--url", broken.url, "--tool", "echo/text@1", "--json"], {
        PROCESSOR_TOKEN: TEST_PROCESSOR_TOKEN,
      });
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout).checks).toContainEqual(
        expect.objectContaining({ name: "ws.ack-first", status: "fail" }),
      );
    } finally {
      await broken?.close();
    }
  });

  it("sends the processor token (--token, or PROCESSOR_TOKEN) when set, and never logs it", async () => {
    const token = "conformance-token-123";
    const python = await startPython({ PROCESSOR_TOKEN: token });
    const args = [
      "conformance",
      "--url",
      python.url,
      "--tool",
      "echo/text@1",
      "--check",
      "http.run,ws.ack-first",
    ];
    const withFlag = await theory([...args, "--token", token, "--log-level", "debug"]);
    expect(withFlag.stdout).toContain("conformant: 2 passed, 0 failed of 2 checks");
    expect(withFlag.code).toBe(0);
    const fromEnv = await theory(args, { PROCESSOR_TOKEN: token });
    expect(fromEnv.code).toBe(0);
    expect(`${withFlag.stderr}${fromEnv.stderr}`).not.toContain(token);
    const without = await theory(args);
    expect(without.code).toBe(1);
    expect(without.stdout).toContain("FAIL  http.run");
  });

  it("refuses what it cannot check: --url without --tool (2), a ref not started (4), nothing answering (7)", async () => {
    expect((await theory(["conformance", "--url", "http://127.0.0.1:9"])).code).toBe(2);
    expect((await theory(["conformance", "--ref", "echo/text@1"])).code).toBe(4);
    const nothing = await theory([
      "conformance",
      "--url",
      `http://127.0.0.1:${await freePort()}`,
      "--tool",
      "echo/text@1",
      "--json",
    ]);
    expect(nothing.code).toBe(7);
    expect(JSON.parse(nothing.stdout).error.code).toBe("ERR_ENDPOINT_MISSING");
  });
});
