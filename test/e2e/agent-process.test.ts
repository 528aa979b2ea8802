import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readContainers, recordContainer } from "../../agent/localctl/state.ts";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import {
  freePort,
  type LocalProcess,
  makeGrant,
  type ProcessorProcess,
  startControlPlane,
} from "../../scripts/lib/local-stack.ts";
import type { RunResource } from "../../src/contract/api.ts";
import { ackIn } from "../support/sse.ts";
import { until } from "../support/until.ts";
import { type AgentProcess, startAgentProcess } from "./support/agent-process.ts";
import { startRecordedProcessor } from "./support/source-processor.ts";

// The real `theory agent` process as an operator runs it, across a real control-plane restart
// (wrangler dev stopped and started again on the same port and state), and refused for good.
const DIGEST = `sha256:${"4".repeat(64)}`;
const AGENT = "e2e-proc";
let dir = "";
let home = "";
let processor: ProcessorProcess;
let controlPlane: LocalProcess;
let cpPort = 0;
let authTokens = "";
let headers: Record<string, string> = {};
let agentToken = "";
let readerToken = "";

/** llm/litellm@1's inputs for a short mock run. */
const litellmInputs = (content: string) => llmInputs(content, { max_tokens: 5 });

const startCp = () =>
  startControlPlane({
    port: cpPort,
    vars: { AUTH_TOKENS: authTokens, LOG_LEVEL: "warn" },
    stateDir: join(dir, "cp-state"),
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "theory-e2e-agent-process-"));
  home = join(dir, "home");
  processor = await startRecordedProcessor(dir, home, DIGEST);
  const admin = makeGrant("admin", ["runs:write", "runs:read"]);
  const agent = makeGrant("agent", ["agents:connect"], AGENT);
  const reader = makeGrant("reader", ["runs:read"], AGENT);
  authTokens = JSON.stringify([admin.grant, agent.grant, reader.grant]);
  headers = { Authorization: `Bearer ${admin.token}`, "Content-Type": "application/json" };
  agentToken = agent.token;
  readerToken = reader.token;
  cpPort = await freePort();
  controlPlane = await startCp();
});

afterAll(async () => {
  await controlPlane?.stop();
  await processor?.stop();
  await rm(dir, { recursive: true, force: true });
});

const startAgent = (agentId: string, token: string): AgentProcess =>
  startAgentProcess({ agentId, token, home, controlPlane: controlPlane.url });

/** The NDJSON events the process logged so far, by name. */
const events = (agent: AgentProcess, name: string) =>
  agent
    .stderr()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.event === name);

async function online(): Promise<boolean> {
  const response = await fetch(`${controlPlane.url}/v1/agents`, { headers });
  const list = (await response.json()) as { agents: { agent_id: string; online: boolean }[] };
  return list.agents.some((agent) => agent.agent_id === AGENT && agent.online);
}

const localRequest = (runId: string, inputs: object) => ({
  ref: "llm/litellm@1",
  run_id: runId,
  mode: "mock",
  inputs,
  target: "local",
  agent: AGENT,
  artifact_scope: "local",
});

async function runLocal(runId: string) {
  const response = await fetch(`${controlPlane.url}/v1/runs`, {
    method: "POST",
    headers: { ...headers, Prefer: "wait=20" },
    body: JSON.stringify(localRequest(runId, litellmInputs("hi"))),
  });
  return (await response.json()) as { state: string; envelope?: { status: string } };
}

/** A local run of about 20 s, started (not waited on) and followed until the processor's Ack. */
async function startSlowRun(runId: string): Promise<void> {
  const response = await fetch(`${controlPlane.url}/v1/runs`, {
    method: "POST",
    headers,
    body: JSON.stringify(localRequest(runId, llmInputs("slow", { max_tokens: 400, token_delay_ms: 50 }))),
  });
  expect(response.status).toBe(202);
  await ackIn(await fetch(`${controlPlane.url}/v1/runs/${runId}/events`, { headers }));
}

/** The run once it settles, polled for at most `ms`. */
const settled = (runId: string, ms: number) =>
  until(
    `run ${runId} settled`,
    async () =>
      (await (await fetch(`${controlPlane.url}/v1/runs/${runId}`, { headers })).json()) as RunResource,
    { timeoutMs: ms, intervalMs: 100, done: (resource) => resource.envelope !== null },
  );

/** Exits within `ms`, or the test fails (and the process is killed). */
async function exitCode(agent: AgentProcess, ms = 30_000): Promise<number | null> {
  const timer = setTimeout(() => agent.child.kill("SIGKILL"), ms);
  const code = await agent.exited;
  clearTimeout(timer);
  return code;
}

describe("the theory agent process", () => {
  it("stays up across a control-plane restart: reconnects, says Hello again, runs; SIGTERM stops it with exit 0", async () => {
    const agent = startAgent(AGENT, agentToken);
    try {
      await until("the agent online", online);
      expect(events(agent, "ws.connect.ok")[0]).toMatchObject({ agent: AGENT, protocol: "theory.agent.v1" });
      expect((await runLocal("proc-before")).state).toBe("succeeded");

      await controlPlane.stop();
      await until("agent.reconnect", () => events(agent, "agent.reconnect").length > 0);
      // Backoff starts at 250 ms: by 3 s the agent has been waiting on more than one attempt.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      expect(agent.child.exitCode, agent.stderr()).toBeNull();
      expect(events(agent, "agent.reconnect").length).toBeGreaterThan(1);

      const hellos = events(agent, "ws.connect.ok").length;
      controlPlane = await startCp();
      await until("the agent online again", online, { timeoutMs: 60_000 });
      expect(events(agent, "ws.connect.ok").length).toBeGreaterThan(hellos);
      expect((await runLocal("proc-after")).state).toBe("succeeded");
      expect(agent.child.exitCode).toBeNull();

      agent.child.kill("SIGTERM");
      expect(await exitCode(agent), agent.stderr()).toBe(0);
      expect(agent.stdout()).toBe(`{"agent_id":"${AGENT}","stopped":true}\n`);
    } finally {
      agent.child.kill("SIGKILL");
    }
  }, 180_000);

  it("its processor killed (SIGKILL) mid-run: the run settles at once as a lost connection; the agent stays and runs again", async () => {
    const agent = startAgent(AGENT, agentToken);
    try {
      await until("the agent online", online);
      await startSlowRun("proc-processor-killed");
      const killedAt = Date.now();
      processor.child.kill("SIGKILL");
      const resource = await settled("proc-processor-killed", 10_000);
      expect(Date.now() - killedAt).toBeLessThan(5000);
      expect(resource).toMatchObject({
        state: "failed",
        envelope: {
          error: { code: "ERR_ENDPOINT_MISSING", message: expect.stringContaining("lost mid-run") },
          meta: { image_digest: DIGEST },
        },
      });
      expect(agent.child.exitCode).toBeNull();
      // Started again (localctl would record it the same way): the next run takes it.
      processor = await startRecordedProcessor(dir, home, DIGEST);
      expect((await runLocal("proc-after-processor")).state).toBe("succeeded");
    } finally {
      agent.child.kill("SIGKILL");
      await agent.exited;
    }
  }, 60_000);

  it("a processor that refuses the agent's token (its record is stale): the run settles ERR_AUTH, not a health failure", async () => {
    const agent = startAgent(AGENT, agentToken);
    const record = (await readContainers(home))["llm/litellm@1"];
    if (!record) throw new Error("no processor recorded");
    try {
      await until("the agent online", online);
      await recordContainer(home, { ...record, processor_token: `tpt_${"0".repeat(43)}` });
      const refused = await runLocal("proc-token-refused");
      expect(refused).toMatchObject({ state: "failed", envelope: { error: { code: "ERR_AUTH" } } });
      await recordContainer(home, record);
      expect((await runLocal("proc-token-again")).state).toBe("succeeded");
    } finally {
      await recordContainer(home, record);
      agent.child.kill("SIGKILL");
      await agent.exited;
    }
  });

  it("killed itself (SIGKILL) mid-run: the run settles within seconds, not at its timeout; a new agent runs", async () => {
    const agent = startAgent(AGENT, agentToken);
    await until("the agent online", online);
    await startSlowRun("proc-agent-killed");
    const killedAt = Date.now();
    agent.child.kill("SIGKILL");
    await agent.exited;
    const resource = await settled("proc-agent-killed", 15_000);
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    expect(resource).toMatchObject({
      state: "failed",
      envelope: { error: { code: "ERR_ENDPOINT_MISSING" } },
    });

    const again = startAgent(AGENT, agentToken);
    try {
      await until("the new agent online", online);
      expect((await runLocal("proc-after-agent")).state).toBe("succeeded");
    } finally {
      again.child.kill("SIGKILL");
      await again.exited;
    }
  }, 60_000);

  it("a token without agents:connect: exits 3 with ERR_AUTH on stdout", async () => {
    const agent = startAgent(AGENT, readerToken);
    expect(await exitCode(agent), agent.stderr()).toBe(3);
    expect(JSON.parse(agent.stdout())).toEqual({
      status: "error",
      error: { code: "ERR_AUTH", message: expect.stringContaining("agents:connect") },
    });
  });

  it("a Hello that names another agent (close 1008): exits 3 with ERR_AUTH", async () => {
    const agent = startAgent("someone-else", agentToken);
    expect(await exitCode(agent), agent.stderr()).toBe(3);
    expect(JSON.parse(agent.stdout())).toEqual({
      status: "error",
      error: { code: "ERR_AUTH", message: expect.stringContaining("Hello names another agent") },
    });
    expect(agent.stderr()).not.toContain(agentToken);
  });
});
