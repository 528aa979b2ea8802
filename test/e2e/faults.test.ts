import { mkdtemp, rm } from "node:fs/promises";
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
import { ReceiptSchema, type RunResource } from "../../src/contract/api.ts";
import { ackIn } from "../support/sse.ts";
import { until } from "../support/until.ts";

// Faults with real processes, all on loopback: a processor killed (SIGKILL) or frozen (SIGSTOP)
// mid-run, and the control plane (wrangler dev) restarted with runs in flight, its state kept.
const REF = "llm/litellm@1";
const DIGEST = `sha256:${"5".repeat(64)}`;
/** Long enough that a run lost before its Ack is still inside it after a quick restart. */
const HEALTH_BUDGET_MS = 8000;
let dir = "";
let port = 0;
let authTokens = "";
let token = "";
let controlPlane: LocalProcess;
const processors: LocalProcess[] = [];

/** The control plane on a fixed port with its state in `dir/state`, so a restart keeps every run. */
const startPlane = () =>
  startControlPlane({
    port,
    stateDir: join(dir, "state"),
    vars: {
      AUTH_TOKENS: authTokens,
      ENDPOINT_POLICY: "https+loopback",
      LOG_LEVEL: "warn",
      HEALTH_BUDGET_MS: String(HEALTH_BUDGET_MS),
    },
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "theory-e2e-faults-"));
  port = await freePort();
  ({ token, authTokens } = makeToken("e2e-faults"));
  controlPlane = await startPlane();
});

afterAll(async () => {
  for (const processor of processors) {
    processor.child.kill("SIGCONT");
    await processor.stop();
  }
  await controlPlane?.stop();
  await rm(dir, { recursive: true, force: true });
});

const api = (path: string, init: RequestInit = {}) =>
  fetch(`${controlPlane.url}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...init.headers },
  });

/** A processor from source, registered as the ref's endpoint. */
async function registeredProcessor(): Promise<ProcessorProcess> {
  const processor = await startProcessorProcess({
    toolRef: REF,
    port: await freePort(),
    env: {
      IMAGE_DIGEST: DIGEST,
      ENV_FINGERPRINT: "cpu:1;memory:2Gi",
      ARTIFACTS_ROOT: join(dir, "artifacts"),
    },
  });
  processors.push(processor);
  const put = await api(`/v1/endpoints/${REF}`, {
    method: "PUT",
    body: JSON.stringify(registrationFor(processor, DIGEST)),
  });
  expect(put.status).toBe(200);
  return processor;
}

const runRequest = (runId: string, inputs: object, timeoutS = 120) => ({
  ref: REF,
  run_id: runId,
  mode: "mock",
  inputs,
  target: "modal",
  artifact_scope: "local",
  timeout_s: timeoutS,
});

async function submit(request: object): Promise<void> {
  const response = await api("/v1/runs", { method: "POST", body: JSON.stringify(request) });
  expect(response.status).toBe(202);
}

const waitForAck = async (runId: string) => ackIn(await api(`/v1/runs/${runId}/events`));

/** Polls the run until it settles, at most `withinMs` (across a restart: no answer is no run yet). */
async function settled(runId: string, withinMs: number): Promise<RunResource> {
  const resource = await until(
    `run ${runId} settled`,
    async () => {
      const response = await api(`/v1/runs/${runId}`).catch(() => undefined);
      return response?.ok ? ((await response.json()) as RunResource) : undefined;
    },
    { timeoutMs: withinMs, intervalMs: 100, done: (found) => Boolean(found?.envelope) },
  );
  return resource as RunResource;
}

const receiptOf = async (runId: string) =>
  ReceiptSchema.parse(await (await api(`/v1/runs/${runId}/receipt`)).json());

describe("a processor that dies or freezes mid-run", () => {
  it("killed (SIGKILL) after Ack: settled at once as a lost connection, with the digest, never run again", async () => {
    const processor = await registeredProcessor();
    const runId = "fault-kill";
    await submit(runRequest(runId, llmInputs("slow", { max_tokens: 400, token_delay_ms: 50 })));
    await waitForAck(runId);
    const killedAt = Date.now();
    processor.child.kill("SIGKILL");
    const resource = await settled(runId, 10_000);
    expect(Date.now() - killedAt).toBeLessThan(5000);
    expect(resource).toMatchObject({
      state: "failed",
      envelope: {
        error: {
          code: "ERR_ENDPOINT_MISSING",
          message: "the processor's connection was lost mid-run (1006)",
        },
        meta: { image_digest: DIGEST },
      },
    });
    expect((await receiptOf(runId)).attempts).toEqual([expect.objectContaining({ acked: true })]);
  });

  it("frozen (SIGSTOP) after Ack: ERR_WS_TIMEOUT at its deadline, with the digest; a new run gives up within the health budget", async () => {
    const processor = await registeredProcessor();
    const runId = "fault-freeze";
    await submit(runRequest(runId, llmInputs("slow", { max_tokens: 400, token_delay_ms: 50 }), 3));
    await waitForAck(runId);
    processor.child.kill("SIGSTOP");
    const resource = await settled(runId, 10_000);
    expect(resource).toMatchObject({
      state: "failed",
      envelope: { error: { code: "ERR_WS_TIMEOUT" }, meta: { image_digest: DIGEST } },
    });
    expect((await receiptOf(runId)).timings.duration_ms).toBeLessThan(3000 + 2000);

    // Still frozen: its port takes connections and never answers. The pre-Ack phase is one budget.
    const next = "fault-frozen-next";
    await submit(runRequest(next, llmInputs("hi")));
    expect(await settled(next, HEALTH_BUDGET_MS + 10_000)).toMatchObject({
      state: "failed",
      envelope: { error: { code: "ERR_ENDPOINT_MISSING" } },
    });
    const receipt = await receiptOf(next);
    expect(receipt.timings.duration_ms).toBeLessThan(HEALTH_BUDGET_MS + 2000);
    expect(receipt.attempts.every((attempt) => !attempt.acked)).toBe(true);
    processor.child.kill("SIGCONT");
  }, 60_000);
});

describe("the control plane restarted with runs in flight", () => {
  it("a run acknowledged before the restart is settled within seconds, not at its 120 s timeout", async () => {
    await registeredProcessor();
    const runId = "fault-restart-acked";
    await submit(runRequest(runId, llmInputs("slow", { max_tokens: 80, token_delay_ms: 100 })));
    await waitForAck(runId);
    await controlPlane.stop();
    controlPlane = await startPlane();
    const restartedAt = Date.now();
    const resource = await settled(runId, 30_000);
    expect(Date.now() - restartedAt).toBeLessThan(15_000);
    expect(resource).toMatchObject({
      state: "failed",
      envelope: {
        error: { code: "ERR_ENDPOINT_MISSING", message: expect.stringContaining("lost mid-run") },
        meta: { image_digest: DIGEST },
      },
    });
    expect((await receiptOf(runId)).attempts).toEqual([expect.objectContaining({ acked: true })]);
  }, 90_000);

  it("a run not yet acknowledged is dispatched once more after the restart, and runs", async () => {
    const processor = await registeredProcessor();
    // Frozen, the processor holds the run's handshake unanswered while the control plane goes down.
    processor.child.kill("SIGSTOP");
    const runId = "fault-restart-unacked";
    await submit(runRequest(runId, llmInputs("hi", { max_tokens: 3 })));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await controlPlane.stop();
    processor.child.kill("SIGCONT");
    controlPlane = await startPlane();
    const resource = await settled(runId, 30_000);
    expect(resource).toMatchObject({ state: "succeeded" });
    const receipt = await receiptOf(runId);
    expect(receipt.attempts.map((attempt) => [attempt.outcome, attempt.acked])).toEqual([
      ["ERR_ENDPOINT_MISSING", false],
      ["success", true],
    ]);
  }, 90_000);
});
