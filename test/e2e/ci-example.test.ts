import { type ChildProcessByStdio, execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { echoInputs } from "../../scripts/lib/inputs.ts";
import {
  freePort,
  type LocalProcess,
  makeGrant,
  type ProcessorProcess,
  registrationFor,
  startControlPlane,
  startProcessorProcess,
} from "../../scripts/lib/local-stack.ts";
import { TEST_HOOKS, TEST_WEBHOOK_SIGNING_SECRET } from "../support/tokens.ts";

const root = join(import.meta.dirname, "..", "..");
const exec = promisify(execFile);
let dir = "";
let controlPlane: LocalProcess;
let processor: ProcessorProcess;
let receiver: ChildProcessByStdio<null, Readable, Readable>;
let receiverUrl = "";
const received: any[] = [];
let headers: Record<string, string> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "theory-ci-example-"));
  processor = await startProcessorProcess({
    toolRef: "echo/text@1",
    port: await freePort(),
    env: {
      IMAGE_DIGEST: `sha256:${"2".repeat(64)}`,
      ENV_FINGERPRINT: "cpu:0.25;memory:256Mi",
      ARTIFACTS_ROOT: join(dir, "artifacts"),
    },
  });
  const admin = makeGrant("admin", ["runs:write", "runs:read", "endpoints:write"]);
  headers = { Authorization: `Bearer ${admin.token}`, "Content-Type": "application/json" };
  controlPlane = await startControlPlane({
    port: await freePort(),
    vars: {
      AUTH_TOKENS: JSON.stringify([admin.grant]),
      HOOK_SOURCES: JSON.stringify([TEST_HOOKS.standard]),
      WEBHOOK_SIGNING_SECRET: TEST_WEBHOOK_SIGNING_SECRET,
      LOG_LEVEL: "warn",
    },
  });
  await fetch(`${controlPlane.url}/v1/endpoints/echo/text@1`, {
    method: "PUT",
    headers,
    body: JSON.stringify(registrationFor(processor, `sha256:${"2".repeat(64)}`)),
  });
  const port = await freePort();
  receiver = spawn(process.execPath, ["examples/ci/receiver.mjs"], {
    cwd: root,
    env: { ...process.env, THEORY_WEBHOOK_SECRET: TEST_WEBHOOK_SIGNING_SECRET, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  createInterface({ input: receiver.stdout }).on("line", (line) => received.push(JSON.parse(line)));
  await new Promise((resolve) => receiver.stderr.once("data", resolve));
  receiverUrl = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  receiver?.kill();
  await controlPlane?.stop();
  await processor?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function trigger(request: object, id: string, secret = TEST_HOOKS.standard.secret) {
  const file = join(dir, `${id}.json`);
  await writeFile(file, JSON.stringify(request));
  return exec(process.execPath, ["examples/ci/trigger-run.mjs", file], {
    cwd: root,
    env: {
      ...process.env,
      THEORY_CONTROL_PLANE: controlPlane.url,
      THEORY_HOOK_SECRET: secret,
      THEORY_WEBHOOK_ID: id,
    },
  }).then(
    (ok) => ({ code: 0, stdout: ok.stdout }),
    (error) => ({ code: error.code as number, stdout: error.stdout as string }),
  );
}

describe("the CI example against the control plane (wrangler dev)", () => {
  it("trigger-run.mjs signs and posts a run; the receiver verifies our completion webhook", async () => {
    const request = {
      ref: "echo/text@1",
      mode: "mock",
      inputs: echoInputs("from ci"),
      target: "modal",
      artifact_scope: "local",
      webhook: { url: `${receiverUrl}/theory`, events: ["completed"] },
    };
    const first = await trigger(request, "ci-run-1");
    expect(first.code).toBe(0);
    const run = JSON.parse(first.stdout);
    expect(run.run_id).toMatch(/^hook-/);
    for (let i = 0; i < 100 && received.length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received).toEqual([
      {
        webhook_id: `msg_${run.run_id}_completed`,
        run: expect.objectContaining({ run_id: run.run_id, state: "succeeded" }),
      },
    ]);
    // A CI retry of the same step reuses the id: it gets the run it started, never a second one.
    const retry = await trigger(request, "ci-run-1");
    expect(retry.code).toBe(0);
    expect(JSON.parse(retry.stdout)).toMatchObject({ run_id: run.run_id, state: "succeeded" });
    expect(received).toHaveLength(1);
  });

  it("a wrong secret is refused (exit 1, ERR_AUTH)", async () => {
    const refused = await trigger(
      {
        ref: "echo/text@1",
        mode: "mock",
        inputs: echoInputs("x"),
        target: "modal",
        artifact_scope: "local",
      },
      "ci-run-2",
      "whsec_bm90LXRoZS1yaWdodC1zZWNyZXQtYXQtYWxsLTA=",
    );
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).error.code).toBe("ERR_AUTH");
  });
});
