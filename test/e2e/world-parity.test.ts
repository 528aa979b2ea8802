import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentDaemon } from "../../agent/daemon/daemon.ts";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import {
  freePort,
  type LocalProcess,
  makeGrant,
  type ProcessorProcess,
  registrationFor,
  startControlPlane,
} from "../../scripts/lib/local-stack.ts";
import { type LocalS3, startS3 } from "../support/s3.ts";
import { startAgentDaemon } from "./support/agent-daemon.ts";
import { startRecordedProcessor } from "./support/source-processor.ts";

const DIGEST = `sha256:${"4".repeat(64)}`;
const AGENT = "world-box";
let dir = "";
let processor: ProcessorProcess;
let s3Modal: LocalS3;
let s3Local: LocalS3;
let viaEndpoint: LocalProcess;
let viaAgent: LocalProcess;
let daemon: AgentDaemon;
let headers: Record<string, string> = {};

/** Same world, its own bucket: a run's objects land at the same keys in each, never in each other's. */
const s3Vars = (s3: LocalS3) => ({
  STORAGE: "s3",
  WORLD_ID: "parity",
  S3_ENDPOINT: s3.endpoint,
  S3_REGION: "us-east-1",
  S3_BUCKET: s3.bucket,
  S3_ACCESS_KEY_ID: "S3RVER",
  S3_SECRET_ACCESS_KEY: "S3RVER",
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "theory-world-parity-"));
  s3Modal = await startS3("modal-world");
  s3Local = await startS3("local-world");
  processor = await startRecordedProcessor(dir, join(dir, "home"), DIGEST);
  const admin = makeGrant("admin", ["runs:write", "runs:read", "endpoints:write"]);
  const agent = makeGrant("agent", ["agents:connect"], AGENT);
  headers = { Authorization: `Bearer ${admin.token}`, "Content-Type": "application/json" };
  const tokens = JSON.stringify([admin.grant, agent.grant]);
  viaEndpoint = await startControlPlane({
    port: await freePort(),
    vars: { AUTH_TOKENS: tokens, LOG_LEVEL: "warn", ...s3Vars(s3Modal) },
  });
  viaAgent = await startControlPlane({
    port: await freePort(),
    vars: { AUTH_TOKENS: tokens, LOG_LEVEL: "warn", ...s3Vars(s3Local) },
  });
  await fetch(`${viaEndpoint.url}/v1/endpoints/llm/litellm@1`, {
    method: "PUT",
    headers,
    body: JSON.stringify(registrationFor(processor, DIGEST)),
  });
  daemon = await startAgentDaemon({
    controlPlane: viaAgent.url,
    agentId: AGENT,
    token: agent.token,
    home: join(dir, "home"),
  });
  for (let i = 0; i < 50; i++) {
    const list = (await (await fetch(`${viaAgent.url}/v1/agents`, { headers })).json()) as any;
    if (list.agents[0]?.online) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
});

afterAll(async () => {
  await daemon?.stop();
  await viaEndpoint?.stop();
  await viaAgent?.stop();
  await processor?.stop();
  await s3Modal?.close();
  await s3Local?.close();
  await rm(dir, { recursive: true, force: true });
});

async function run(controlPlane: LocalProcess, body: object): Promise<string> {
  const response = await fetch(`${controlPlane.url}/v1/runs`, {
    method: "POST",
    headers: { ...headers, Prefer: "wait=30" },
    body: JSON.stringify(body),
  });
  const resource = (await response.json()) as any;
  expect(resource.state, JSON.stringify(resource)).toBe("succeeded");
  return (await fetch(`${controlPlane.url}/v1/runs/${resource.run_id}/envelope`, { headers })).text();
}

describe("positive parity in world scope: the endpoint transport and the agent transport", () => {
  it("give byte-identical envelopes for the same run_id, with every output proved in its own bucket", async () => {
    const request = {
      ref: "llm/litellm@1",
      run_id: "world-parity-1",
      mode: "mock",
      inputs: llmInputs("same", { max_tokens: 6 }),
      artifact_scope: "world",
    };
    const endpointEnvelope = await run(viaEndpoint, { ...request, target: "modal" });
    const agentEnvelope = await run(viaAgent, { ...request, target: "local", agent: AGENT });
    expect(agentEnvelope).toBe(endpointEnvelope);
    const envelope = JSON.parse(endpointEnvelope);
    expect(envelope.outputs).toEqual([{ path: "world://parity/world-parity-1/text/response.txt" }]);
    for (const s3 of [s3Modal, s3Local]) {
      expect(await s3.etagOf("parity/world-parity-1/text/response.txt")).toBe(
        envelope.meta.proof.etag_map["text/response.txt"],
      );
    }
  });
});

describe("replay across transports", () => {
  it("a world-scope run made through the endpoint, replayed on the agent: identical, outputs compared by their bytes' MD5", async () => {
    const put = await fetch(`${viaAgent.url}/v1/endpoints/llm/litellm@1`, {
      method: "PUT",
      headers,
      body: JSON.stringify(registrationFor(processor, DIGEST)),
    });
    expect(put.status).toBe(200);
    await run(viaAgent, {
      ref: "llm/litellm@1",
      run_id: "world-replay-1",
      mode: "mock",
      inputs: llmInputs("again", { max_tokens: 6 }),
      artifact_scope: "world",
      target: "modal",
    });
    const response = await fetch(`${viaAgent.url}/v1/runs/world-replay-1/replay`, {
      method: "POST",
      headers,
      body: JSON.stringify({ target: "local", agent: AGENT, run_id: "world-replay-1-local" }),
    });
    const verdict = (await response.json()) as any;
    expect(response.status, JSON.stringify(verdict)).toBe(200);
    expect(verdict).toMatchObject({
      verdict: "identical",
      original: "world-replay-1",
      differences: [],
      replay: { run_id: "world-replay-1-local", target: "local", agent: AGENT, replay_of: "world-replay-1" },
    });
    // Each run's output is its own object, with the same bytes.
    const [original, replayed] = ["world-replay-1", "world-replay-1-local"].map(
      (runId) => `parity/${runId}/text/response.txt`,
    ) as [string, string];
    expect(await s3Local.etagOf(replayed)).toBe(await s3Local.etagOf(original));
    expect(verdict.replay.envelope.meta.proof.etag_map["text/response.txt"]).toBe(
      await s3Local.etagOf(original),
    );
  });
});
