import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import {
  freePort,
  type LocalProcess,
  makeToken,
  type ProcessorProcess,
  registrationFor,
  startControlPlane,
  startProcessorProcess,
} from "../../scripts/lib/local-stack.ts";
import { type LocalS3, startS3 } from "../support/s3.ts";
import { runTheoryOnTerminal, startTheory } from "./support/cli.ts";

// `theory run` and `theory runs` as a user runs them: the CLI in a subprocess, against the control
// plane under wrangler dev, which dials a processor from source registered as the ref's endpoint.
// Its storage is S3 (s3rver), so world-scope runs work and their outputs can be downloaded.
const DIGEST = `sha256:${"2".repeat(64)}`;
const OTHER_OCI = `127.0.0.1:5000/theory/processor@sha256:${"3".repeat(64)}`;
const REBUILT_DIGEST = `sha256:${"5".repeat(64)}`;
const REF = "llm/litellm@1";
let dir = "";
let processor: ProcessorProcess;
let controlPlane: LocalProcess;
let token = "";
let s3: LocalS3;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "theory-e2e-run-"));
  processor = await startProcessorProcess({
    toolRef: REF,
    port: await freePort(),
    env: {
      IMAGE_DIGEST: DIGEST,
      ENV_FINGERPRINT: "cpu:1;memory:2Gi",
      ARTIFACTS_ROOT: join(dir, "artifacts"),
    },
  });
  const made = makeToken("e2e-run");
  token = made.token;
  s3 = await startS3("theory-run");
  controlPlane = await startControlPlane({
    port: await freePort(),
    vars: {
      AUTH_TOKENS: made.authTokens,
      STORAGE: "s3",
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: "us-east-1",
      S3_BUCKET: s3.bucket,
      S3_ACCESS_KEY_ID: "S3RVER",
      S3_SECRET_ACCESS_KEY: "S3RVER",
      ENDPOINT_POLICY: "https+loopback",
      LOG_LEVEL: "warn",
      HEALTH_BUDGET_MS: "1000",
    },
  });
  await register(registrationFor(processor, DIGEST));
});

async function register(registration: object): Promise<void> {
  const put = await fetch(`${controlPlane.url}/v1/endpoints/${REF}`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(registration),
  });
  expect(put.status).toBe(200);
}

afterAll(async () => {
  await controlPlane?.stop();
  await processor?.stop();
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

const start = (args: string[], env: Record<string, string | undefined> = {}) =>
  startTheory(args, {
    THEORY_HOME: join(dir, "home"),
    THEORY_TOKEN: token,
    THEORY_CONTROL_PLANE: controlPlane.url,
    ...env,
  });

const theory = (args: string[], env?: Record<string, string | undefined>) => start(args, env).exited;

const runArgs = (runId: string, inputs: object = llmInputs("hi", { max_tokens: 5 }), ...extra: string[]) => [
  "run",
  "--ref",
  REF,
  "--target",
  "modal",
  "--mode",
  "mock",
  "--inputs-json",
  JSON.stringify(inputs),
  "--run-id",
  runId,
  "--json",
  ...extra,
];

async function persisted(runId: string): Promise<string> {
  const response = await fetch(`${controlPlane.url}/v1/runs/${runId}/envelope`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  expect(response.status).toBe(200);
  return response.text();
}

const errorCode = (stdout: string) => JSON.parse(stdout).error?.code;

describe("theory run", () => {
  it("--wait: prints exactly the persisted envelope bytes and exits 0", async () => {
    const result = await theory([...runArgs("cli-wait-1"), "--wait"], { THEORY_LOG_LEVEL: "debug" });
    expect(result.code, result.stderr).toBe(0);
    // Settled by the held POST: no event stream was opened.
    expect(result.stderr).not.toContain('"events.open"');
    expect(result.stdout).toBe(`${await persisted("cli-wait-1")}\n`);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: "success", run_id: "cli-wait-1" });
  });

  it("following the event stream (no --wait) prints the same persisted bytes", async () => {
    const result = await theory(runArgs("cli-stream-1"), { THEORY_LOG_LEVEL: "debug" });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('"events.open"');
    expect(result.stderr).not.toContain(token);
    expect(result.stdout).toBe(`${await persisted("cli-stream-1")}\n`);
    // Not a terminal: no token text or progress lines on stderr, only NDJSON logs (none at info here).
    expect(result.stderr).not.toContain("theory run:");
  });

  it("on a terminal, streams the tokens and progress lines on stderr (stdout keeps only the envelope)", async () => {
    // On a pseudo-terminal stdout and stderr arrive merged.
    const result = await runTheoryOnTerminal(runArgs("cli-tty-1"), {
      THEORY_TOKEN: token,
      THEORY_CONTROL_PLANE: controlPlane.url,
    });
    expect(result.code, result.stdout).toBe(0);
    const text = result.stdout;
    expect(text).toMatch(/theory run: run cli-tty-1 (queued|running)\n/);
    expect(text).toContain("This is a deterministic mock\n");
    expect(text).toMatch(/theory run: succeeded after [0-9.]+ s, 5 tokens/);
    expect(text.trimEnd().endsWith(await persisted("cli-tty-1"))).toBe(true);
  });

  it("an error envelope (--expected-oci with another digest) exits 10 with ERR_REGISTRY_MISMATCH", async () => {
    const result = await theory([...runArgs("cli-mismatch-1"), "--expected-oci", OTHER_OCI]);
    expect(result.code).toBe(10);
    expect(errorCode(result.stdout)).toBe("ERR_REGISTRY_MISMATCH");
    expect(result.stdout).toBe(`${await persisted("cli-mismatch-1")}\n`);
  });

  it("the spec's example inputs run verbatim; inputs the tool refuses exit 2 with the field named", async () => {
    const args = (runId: string, inputs: string) => [
      "run",
      "--ref",
      REF,
      "--target",
      "modal",
      "--mode",
      "mock",
      "--inputs-json",
      inputs,
      "--run-id",
      runId,
      "--wait",
      "--json",
    ];
    const ok = await theory(
      args("cli-spec-1", '{"schema":"v1","params":{"messages":[{"role":"user","content":"test"}]}}'),
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ status: "success", run_id: "cli-spec-1" });
    const refused = await theory(args("cli-spec-2", '{"schema":"v2","params":{}}'));
    expect(refused.code).toBe(2);
    expect(errorCode(refused.stdout)).toBe("ERR_INPUTS");
    expect(refused.stdout).toContain("supported: v1");
  });

  it("tools list|show: the tools the control plane runs, with their schemas", async () => {
    const list = await theory(["tools", "list", "--json"]);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).tools.map((tool: { ref: string }) => tool.ref)).toEqual([
      "echo/text@1",
      "llm/litellm@1",
    ]);
    const show = await theory(["tools", "show", "echo/text@1", "--json"]);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({
      ref: "echo/text@1",
      schemas: ["v1"],
      outputs: ["text/echo.txt"],
    });
    const unknown = await theory(["tools", "show", "no/such@1", "--json"]);
    expect(unknown.code).toBe(4);
  });

  it("an invalid request (bad ref) exits 2 and sends nothing", async () => {
    const result = await theory(runArgs("cli-badref-1").map((arg) => (arg === REF ? "LLM/x" : arg)));
    expect(result.code).toBe(2);
    expect(errorCode(result.stdout)).toBe("ERR_INPUTS");
    const lookup = await theory(["runs", "get", "cli-badref-1", "--json"]);
    expect(lookup.code).toBe(4);
    expect(errorCode(lookup.stdout)).toBe("ERR_NOT_FOUND");
  });

  it("no token exits 3 (ERR_AUTH) before sending; a token the control plane refuses exits 3 too", async () => {
    const missing = await theory(runArgs("cli-auth-1"), { THEORY_TOKEN: undefined });
    expect(missing.code).toBe(3);
    expect(errorCode(missing.stdout)).toBe("ERR_AUTH");
    const wrong = await theory(runArgs("cli-auth-1"), { THEORY_TOKEN: "not-a-valid-token" });
    expect(wrong.code).toBe(3);
    expect(errorCode(wrong.stdout)).toBe("ERR_AUTH");
    expect(wrong.stderr).not.toContain("not-a-valid-token");
    expect((await theory(["runs", "get", "cli-auth-1", "--json"])).code).toBe(4);
  });

  it("an unreachable control plane exits 7 (ERR_ENDPOINT_MISSING)", async () => {
    const result = await theory(runArgs("cli-down-1"), {
      THEORY_CONTROL_PLANE: `http://127.0.0.1:${await freePort()}`,
    });
    expect(result.code).toBe(7);
    expect(errorCode(result.stdout)).toBe("ERR_ENDPOINT_MISSING");
  });

  it("the same run_id with a different request exits 5 (ERR_CONFLICT from the API)", async () => {
    const result = await theory([...runArgs("cli-wait-1", llmInputs("other")), "--wait"]);
    expect(result.code).toBe(5);
    expect(errorCode(result.stdout)).toBe("ERR_CONFLICT");
  });
});

describe("theory runs", () => {
  it("get: the run resource as JSON; an unknown run exits 4", async () => {
    const result = await theory(["runs", "get", "cli-wait-1", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      run_id: "cli-wait-1",
      ref: REF,
      target: "modal",
      state: "succeeded",
      envelope: JSON.parse(await persisted("cli-wait-1")),
    });
    expect((await theory(["runs", "get", "no-such-run", "--json"])).code).toBe(4);
    expect((await theory(["runs", "get", "../bad", "--json"])).code).toBe(2);
  });

  it("events: NDJSON {id, event, data} in order, ending with done; --after skips what was seen", async () => {
    const result = await theory(["runs", "events", "cli-stream-1", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    const done = lines.at(-1);
    expect(done).toEqual({ event: "done", data: JSON.parse(await persisted("cli-stream-1")) });
    const ids = lines.slice(0, -1).map((line) => line.id);
    expect(ids).toEqual(ids.map((_, i) => i + 1));
    expect(lines.filter((line) => line.event === "Token").length).toBe(5);
    expect(lines[0]).toMatchObject({ id: 1, event: "Ack", data: { kind: "Ack" } });
    const after = await theory(["runs", "events", "cli-stream-1", "--after", "3", "--json"]);
    expect(
      after.stdout
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line).id ?? "done"),
    ).toEqual([...ids.slice(3), "done"]);
    expect((await theory(["runs", "events", "no-such-run", "--json"])).code).toBe(4);
  });

  it("cancel: a long run followed by `theory run` settles ERR_CANCELED, and that run exits 13", async () => {
    const slow = llmInputs("slow", { max_tokens: 1000, token_delay_ms: 10 });
    const running = start(runArgs("cli-cancel-1", slow));
    // Wait until the processor has acknowledged it and tokens are flowing.
    for (let i = 0; ; i++) {
      const got = await theory(["runs", "get", "cli-cancel-1", "--json"]);
      if (got.code === 0 && JSON.parse(got.stdout).state === "running") break;
      if (i > 100) throw new Error(`run never started: ${got.stdout}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const canceled = await theory(["runs", "cancel", "cli-cancel-1", "--json"]);
    expect(canceled.code, canceled.stderr).toBe(0);
    expect(JSON.parse(canceled.stdout)).toMatchObject({ run_id: "cli-cancel-1" });
    const result = await running.exited;
    expect(result.code, result.stderr).toBe(13);
    expect(errorCode(result.stdout)).toBe("ERR_CANCELED");
    expect(result.stdout).toBe(`${await persisted("cli-cancel-1")}\n`);
    const events = (await theory(["runs", "events", "cli-cancel-1", "--json"])).stdout.trimEnd().split("\n");
    const tokens = events.filter((line) => JSON.parse(line).event === "Token").length;
    expect(tokens).toBeGreaterThan(0);
    expect(tokens).toBeLessThan(1000);
    expect((await theory(["runs", "cancel", "no-such-run", "--json"])).code).toBe(4);
  });
});

/** A run started through the API (with tags, or in world scope), held until it settles. */
async function settledRun(runId: string, extra: object = {}) {
  const response = await fetch(`${controlPlane.url}/v1/runs`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Prefer: "wait=30" },
    body: JSON.stringify({
      ref: REF,
      run_id: runId,
      mode: "mock",
      inputs: llmInputs("listed", { max_tokens: 3 }),
      target: "modal",
      artifact_scope: "local",
      ...extra,
    }),
  });
  expect(response.status, await response.clone().text()).toBe(200);
}

const ndjson = (stdout: string) =>
  stdout
    .trimEnd()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));

describe("theory runs list", () => {
  const tag = `cli-list-${Date.now().toString(36)}`;
  const ids = ["cli-list-1", "cli-list-2", "cli-list-3"];

  beforeAll(async () => {
    for (const runId of ids) await settledRun(runId, { tags: [tag] });
    // The index is written through after each run settles: wait until it shows all three.
    for (let i = 0; ; i++) {
      const listed = ndjson((await theory(["runs", "list", "--tag", tag, "--json"])).stdout);
      if (listed.filter((run) => run.settled_at).length === ids.length) break;
      if (i > 50) throw new Error("the runs never got listed");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  it("--json: NDJSON run summaries, newest first, filtered", async () => {
    const result = await theory(["runs", "list", "--tag", tag, "--state", "succeeded", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const runs = ndjson(result.stdout);
    expect(runs.map((run) => run.run_id)).toEqual([...ids].reverse());
    expect(runs[0]).toMatchObject({ ref: REF, target: "modal", state: "succeeded", tags: [tag] });
    const none = await theory(["runs", "list", "--tag", tag, "--state", "failed", "--json"]);
    expect([none.code, none.stdout]).toEqual([0, ""]);
  });

  it("--limit stops early and logs the cursor; --cursor continues from it", async () => {
    const first = await theory(["runs", "list", "--tag", tag, "--limit", "2", "--json"]);
    expect(ndjson(first.stdout).map((run) => run.run_id)).toEqual(["cli-list-3", "cli-list-2"]);
    const more = first.stderr
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line))
      .find((line) => line.event === "runs.list.more");
    expect(more?.next_cursor).toEqual(expect.any(String));
    const rest = await theory(["runs", "list", "--tag", tag, "--cursor", more.next_cursor, "--json"]);
    expect(ndjson(rest.stdout).map((run) => run.run_id)).toEqual(["cli-list-1"]);
    expect(rest.stderr).not.toContain("runs.list.more");
  });

  it("on a terminal: a table", async () => {
    const { stdout: output } = await runTheoryOnTerminal(["runs", "list", "--tag", tag], {
      THEORY_TOKEN: token,
      THEORY_CONTROL_PLANE: controlPlane.url,
    });
    const lines = output.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^RUN +REF +TARGET +STATE +CREATED +TAGS$/);
    expect(lines.slice(1).map((line) => line.split(/ +/)[0])).toEqual([...ids].reverse());
    expect(lines[1]).toContain(`succeeded  `);
  });

  it("a bad filter or cursor exits 2 (ERR_INPUTS) naming it", async () => {
    const result = await theory(["runs", "list", "--state", "done", "--json"]);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout).error).toMatchObject({
      code: "ERR_INPUTS",
      message: expect.stringContaining("state"),
    });
    const cursor = await theory(["runs", "list", "--cursor", "not-one", "--json"]);
    expect([cursor.code, errorCode(cursor.stdout)]).toEqual([2, "ERR_INPUTS"]);
  });
});

describe("theory runs download", () => {
  it("writes a world-scope run's outputs and outputs.json below --out, as stored", async () => {
    await settledRun("cli-world-1", { artifact_scope: "world" });
    const out = join(dir, "download");
    const result = await theory(["runs", "download", "cli-world-1", "--out", out, "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const written = JSON.parse(result.stdout);
    expect(written).toMatchObject({ run_id: "cli-world-1", dir: out });
    expect(written.files.map((file: { path: string }) => file.path)).toEqual([
      "outputs.json",
      "text/response.txt",
    ]);
    for (const { path, bytes } of written.files as { path: string; bytes: number }[]) {
      const local = await readFile(join(out, path), "utf8");
      expect(local).toBe(await s3.text(`dev/cli-world-1/${path}`));
      expect(Buffer.byteLength(local)).toBe(bytes);
    }
  });

  it("a local-scope run exits 4 saying where its outputs live, and writes nothing", async () => {
    const out = join(dir, "nothing");
    const result = await theory(["runs", "download", "cli-wait-1", "--out", out, "--json"]);
    expect(result.code).toBe(4);
    expect(JSON.parse(result.stdout).error.message).toContain("local://outputs/llm.litellm.1/cli-wait-1/");
    expect(existsSync(out)).toBe(false);
    expect((await theory(["runs", "download", "no-such-run", "--json"])).code).toBe(4);
  });
});

describe("theory runs replay", () => {
  it("an unchanged tool: identical, exit 0; the original lists its replay", async () => {
    const original = await theory(
      runArgs("cli-replay-1", llmInputs("replay me", { max_tokens: 4 }), "--wait"),
    );
    expect(original.code, original.stderr).toBe(0);
    const result = await theory([
      "runs",
      "replay",
      "cli-replay-1",
      "--run-id",
      "cli-replay-1-again",
      "--json",
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      verdict: "identical",
      original: "cli-replay-1",
      differences: [],
      replay: { run_id: "cli-replay-1-again", state: "succeeded", replay_of: "cli-replay-1" },
    });
    const listed = JSON.parse((await theory(["runs", "get", "cli-replay-1", "--json"])).stdout);
    expect(listed.replays).toEqual(["cli-replay-1-again"]);
  });

  it("the ref now served by a rebuilt image: drifted, naming the digest, exit 10", async () => {
    const original = await theory(
      runArgs("cli-replay-2", llmInputs("replay me", { max_tokens: 4 }), "--wait"),
    );
    expect(original.code, original.stderr).toBe(0);
    const rebuilt = await startProcessorProcess({
      toolRef: REF,
      port: await freePort(),
      env: {
        IMAGE_DIGEST: REBUILT_DIGEST,
        ENV_FINGERPRINT: "cpu:1;memory:2Gi",
        ARTIFACTS_ROOT: join(dir, "rebuilt"),
      },
    });
    try {
      await register(registrationFor(rebuilt, REBUILT_DIGEST));
      const result = await theory(["runs", "replay", "cli-replay-2", "--json"]);
      expect(result.code, result.stderr).toBe(10);
      expect(JSON.parse(result.stdout)).toMatchObject({
        verdict: "drifted",
        differences: [{ field: "meta.image_digest", original: DIGEST, replay: REBUILT_DIGEST }],
      });
    } finally {
      await register(registrationFor(processor, DIGEST));
      await rebuilt.stop();
    }
  });

  it("an unknown run exits 4; overrides the API refuses exit 2", async () => {
    expect((await theory(["runs", "replay", "no-such-run", "--json"])).code).toBe(4);
    const refused = await theory(["runs", "replay", "cli-replay-1", "--target", "local", "--json"]);
    expect([refused.code, errorCode(refused.stdout)]).toEqual([2, "ERR_INPUTS"]);
  });
});
