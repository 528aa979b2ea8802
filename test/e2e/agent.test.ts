import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentDaemon } from "../../agent/daemon/daemon.ts";
import { RELAY_WINDOW_MS } from "../../agent/daemon/daemon.ts";
import { echoInputs, llmInputs } from "../../scripts/lib/inputs.ts";
import {
  freePort,
  type LocalProcess,
  makeGrant,
  type ProcessorProcess,
  startControlPlane,
} from "../../scripts/lib/local-stack.ts";
import { createLogger } from "../../src/core/log.ts";
import { readSse } from "../../src/core/sse-reader.ts";
import { directEnvelope } from "../support/direct.ts";
import { until } from "../support/until.ts";
import { startAgentDaemon } from "./support/agent-daemon.ts";
import { startRecordedProcessor } from "./support/source-processor.ts";

const DIGEST = `sha256:${"1".repeat(64)}`;
const AGENT = "e2e-box";
let dir = "";
let processor: ProcessorProcess;
let controlPlane: LocalProcess;
let daemon: AgentDaemon;
let cpPort = 0;
let authTokens = "";
let headers: Record<string, string> = {};
let agentToken = "";
const logs: string[] = [];

const startCp = () =>
  startControlPlane({
    port: cpPort,
    vars: { AUTH_TOKENS: authTokens, LOG_LEVEL: "warn" },
    stateDir: join(dir, "cp-state"),
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "theory-e2e-agent-"));
  processor = await startRecordedProcessor(dir, join(dir, "home"), DIGEST);
  const admin = makeGrant("admin", ["runs:write", "runs:read", "endpoints:write"]);
  const agent = makeGrant("agent", ["agents:connect"], AGENT);
  authTokens = JSON.stringify([admin.grant, agent.grant]);
  headers = { Authorization: `Bearer ${admin.token}`, "Content-Type": "application/json" };
  agentToken = agent.token;
  cpPort = await freePort();
  controlPlane = await startCp();
  daemon = await startAgentDaemon({
    controlPlane: controlPlane.url,
    agentId: AGENT,
    token: agentToken,
    home: join(dir, "home"),
    log: createLogger({ sink: (line) => logs.push(line), level: "debug" }),
  });
});

afterAll(async () => {
  await daemon?.stop();
  await controlPlane?.stop();
  await processor?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** What the daemon says it sent up for a run, when the run's processor socket closed. */
function settledRelay(runId: string): { frames: number; messages: number } {
  const line = logs.find(
    (l) => l.includes('"event":"ws.run.settle"') && l.includes(`"execution_id":"${runId}"`),
  );
  return line
    ? (JSON.parse(line).relayed as { frames: number; messages: number })
    : { frames: 0, messages: 0 };
}

async function runLocal(runId: string, extra: object = {}) {
  const body = {
    ref: "llm/litellm@1",
    run_id: runId,
    mode: "mock",
    inputs: llmInputs("hi", { max_tokens: 5 }),
    target: "local",
    agent: AGENT,
    artifact_scope: "local",
    ...extra,
  };
  const response = await fetch(`${controlPlane.url}/v1/runs`, {
    method: "POST",
    headers: { ...headers, Prefer: "wait=20" },
    body: JSON.stringify(body),
  });
  return (await response.json()) as any;
}

describe("theory agent against the control plane under wrangler dev", () => {
  it("says Hello: the agent is listed online with its started tool, healthy", async () => {
    let list: any;
    for (let i = 0; i < 50; i++) {
      list = await (await fetch(`${controlPlane.url}/v1/agents`, { headers })).json();
      if (list.agents[0]?.online) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(list.agents).toEqual([
      {
        agent_id: AGENT,
        online: true,
        last_seen: expect.any(String),
        platform: "amd64",
        tools: [{ ref: "llm/litellm@1", image_digest: DIGEST, healthy: true }],
      },
    ]);
  });

  it("a local run through the tunnel gives the processor's own envelope bytes", async () => {
    const resource = await runLocal("agent-1");
    expect(resource).toMatchObject({ state: "succeeded", target: "local" });
    const persisted = await (await fetch(`${controlPlane.url}/v1/runs/agent-1/envelope`, { headers })).text();
    expect(persisted).toBe(
      await directEnvelope(
        processor.url,
        "llm/litellm@1",
        "agent-1",
        llmInputs("hi", { max_tokens: 5 }),
        processor.token,
      ),
    );
  });

  it("a tool not started on this machine -> ERR_HEALTH (no auto-start)", async () => {
    const resource = await runLocal("agent-2", { ref: "echo/text@1", inputs: echoInputs("x") });
    expect(resource).toMatchObject({
      state: "failed",
      envelope: { error: { code: "ERR_HEALTH", message: expect.stringContaining("localctl start") } },
    });
  });

  it("streams a 100k-token run through the tunnel to the end: every token, in order, none lost", async () => {
    const count = 100_000;
    const body = {
      ref: "llm/litellm@1",
      run_id: "agent-long",
      mode: "mock",
      inputs: llmInputs("long", { max_tokens: count }),
      target: "local",
      agent: AGENT,
      artifact_scope: "local",
      timeout_s: 300,
    };
    const created = await fetch(`${controlPlane.url}/v1/runs`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    });
    expect(created.status).toBe(202);
    const events = await fetch(`${controlPlane.url}/v1/runs/agent-long/events`, { headers });
    let tokens = 0;
    let ordered = true;
    let done: any;
    for await (const event of readSse(events.body as ReadableStream<Uint8Array>)) {
      if (event.event === "Token") {
        if (event.id !== String(tokens + 2)) ordered = false; // id 1 is the Ack
        tokens++;
      }
      if (event.event === "done") done = JSON.parse(event.data);
    }
    expect({ tokens, ordered, status: done?.status }).toEqual({
      tokens: count,
      ordered: true,
      status: "success",
    });
    const receipt = (await (
      await fetch(`${controlPlane.url}/v1/runs/agent-long/receipt`, { headers })
    ).json()) as any;
    expect(receipt.frames.tokens).toBe(count);
    expect(receipt.events).toMatchObject({ stored: count + 1, dropped: 0 });
    // Up the tunnel in one message per relay window (plus the few a full batch sends early), not
    // one per token: each message costs the control plane two Durable Object events.
    const relayed = await until("the daemon's settle log", async () => settledRelay("agent-long"), {
      done: (r) => r.frames > 0,
    });
    expect(relayed.frames).toBe(receipt.frames.total);
    const streamedMs = Date.parse(receipt.timings.settled_at) - Date.parse(receipt.timings.acked_at);
    expect(relayed.messages).toBeLessThanOrEqual(streamedMs / RELAY_WINDOW_MS + 30);
  }, 180_000);

  it("a slow stream is not held back: each token goes up on its own as it comes", async () => {
    const resource = await runLocal("agent-slow", {
      inputs: llmInputs("hi", { max_tokens: 5, token_delay_ms: 40 }),
    });
    expect(resource.state).toBe("succeeded");
    const relayed = await until("the daemon's settle log", async () => settledRelay("agent-slow"), {
      done: (r) => r.frames > 0,
    });
    expect(relayed.frames).toBe(7); // the Ack, 5 tokens, the result
    expect(relayed.messages).toBeGreaterThanOrEqual(5);
  });

  it("survives the control plane restarting: reconnects, says Hello again, runs", async () => {
    await controlPlane.stop();
    const ready = daemon.ready();
    controlPlane = await startCp();
    await ready;
    expect((await runLocal("agent-3")).state).toBe("succeeded");
    expect(logs.some((line) => line.includes('"event":"agent.reconnect"'))).toBe(true);
  });

  it("Cancel travels through the tunnel to the processor", async () => {
    const body = {
      ref: "llm/litellm@1",
      run_id: "agent-4",
      mode: "mock",
      inputs: llmInputs("long", { max_tokens: 1000, token_delay_ms: 10 }),
      target: "local",
      agent: AGENT,
      artifact_scope: "local",
    };
    await fetch(`${controlPlane.url}/v1/runs`, { method: "POST", headers, body: JSON.stringify(body) });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await fetch(`${controlPlane.url}/v1/runs/agent-4/cancel`, { method: "POST", headers });
    const resource = await runLocal("agent-4", {
      inputs: llmInputs("long", { max_tokens: 1000, token_delay_ms: 10 }),
    });
    // The processor's own ERR_CANCELED envelope, not the control plane's fallback after the grace period.
    expect(resource).toMatchObject({
      state: "canceled",
      envelope: { error: { code: "ERR_CANCELED", message: "the run was canceled" } },
    });
  });

  it("the agent lost mid-run -> the run settles with ERR_ENDPOINT_MISSING, not at its timeout", async () => {
    const body = {
      ref: "llm/litellm@1",
      run_id: "agent-5",
      mode: "mock",
      inputs: llmInputs("long", { max_tokens: 1000, token_delay_ms: 10 }),
      target: "local",
      agent: AGENT,
      artifact_scope: "local",
      timeout_s: 600,
    };
    await fetch(`${controlPlane.url}/v1/runs`, { method: "POST", headers, body: JSON.stringify(body) });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await daemon.stop();
    const resource = await runLocal("agent-5", {
      inputs: llmInputs("long", { max_tokens: 1000, token_delay_ms: 10 }),
      timeout_s: 600,
    });
    expect(resource).toMatchObject({
      state: "failed",
      envelope: { error: { code: "ERR_ENDPOINT_MISSING" } },
    });
  });
});
