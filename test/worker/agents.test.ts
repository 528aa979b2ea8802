import { abortAllDurableObjects, evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import { AGENT_SUBPROTOCOL, HEARTBEAT_PING, HEARTBEAT_PONG } from "../../src/contract/agent-frames.ts";
import { ReceiptSchema } from "../../src/contract/api.ts";
import { directEnvelope } from "../support/direct.ts";
import { TEST_PROCESSOR_AUTH } from "../support/tokens.ts";
import { api, runAndWait, runRequest, uniqueRunId } from "./support.ts";

const processors = inject("processors");
const DIGEST = `sha256:${"a".repeat(64)}`;

interface TestAgent {
  socket: WebSocket;
  frames: any[];
  texts: string[];
  closed: Promise<{ code: number; reason: string }>;
  send(frame: object | string): void;
  next(kind: string): Promise<any>;
}

async function connectAgent(
  token: "agent" | "unbound" | "reader" | null = "agent",
  protocol = AGENT_SUBPROTOCOL,
) {
  return api("/v1/agents/connect", {
    token,
    headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": protocol },
  });
}

async function agentOnline(options: { hello?: object } = {}): Promise<TestAgent> {
  const response = await connectAgent();
  expect(response.status).toBe(101);
  expect(response.headers.get("Sec-WebSocket-Protocol")).toBe(AGENT_SUBPROTOCOL);
  const socket = response.webSocket as WebSocket;
  const frames: any[] = [];
  const texts: string[] = [];
  const waiters: { kind: string; resolve: (frame: any) => void }[] = [];
  socket.addEventListener("message", (event) => {
    const text = event.data as string;
    texts.push(text);
    const frame = JSON.parse(text);
    frames.push(frame);
    const waiter = waiters.findIndex((w) => w.kind === frame.kind);
    if (waiter >= 0) waiters.splice(waiter, 1)[0]?.resolve(frame);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason })),
  );
  socket.accept();
  const agent: TestAgent = {
    socket,
    frames,
    texts,
    closed,
    send: (frame) => socket.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    next: (kind) => {
      const seen = frames.find((f) => f.kind === kind && !f.taken);
      if (seen) {
        seen.taken = true;
        return Promise.resolve(seen);
      }
      return new Promise((resolve) => {
        waiters.push({
          kind,
          resolve: (f) => {
            f.taken = true;
            resolve(f);
          },
        });
      });
    },
  };
  agent.send(
    options.hello ?? {
      kind: "Hello",
      content: {
        agent_id: "dev-box",
        platform: "amd64",
        tools: [{ ref: "llm/litellm@1", image_digest: DIGEST, healthy: true }],
      },
    },
  );
  return agent;
}

/** Plays the agent's part for one dispatched run: a socket to the real processor, frames relayed unchanged. */
async function bridgeToProcessor(agent: TestAgent, dispatch: any): Promise<void> {
  const runId = dispatch.content.run_id;
  const response = await fetch(`${processors.litellm}/run`, {
    headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": "theory.run.v1", ...TEST_PROCESSOR_AUTH },
  });
  const processor = response.webSocket as WebSocket;
  processor.accept();
  processor.addEventListener("message", (event) =>
    agent.send({ kind: "Relay", content: { run_id: runId, data: event.data } }),
  );
  processor.addEventListener("close", (event) =>
    agent.send({ kind: "RunClosed", content: { run_id: runId, code: event.code, reason: event.reason } }),
  );
  agent.socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data as string);
    if (frame.kind === "Relay" && frame.content.run_id === runId) processor.send(frame.content.data);
  });
  for (const frame of agent.frames.filter((f) => f.kind === "Relay" && f.content.run_id === runId))
    processor.send(frame.content.data);
}

describe("agent tunnel: connect and auth", () => {
  it("refuses no token (401), a token without agents:connect (403), one bound to no agent (403)", async () => {
    expect((await connectAgent(null)).status).toBe(401);
    expect((await connectAgent("reader")).status).toBe(403);
    const unbound = await connectAgent("unbound");
    expect(unbound.status).toBe(403);
    expect(((await unbound.json()) as any).error.code).toBe("ERR_AUTH");
  });

  it("refuses a plain request and a wrong subprotocol (400)", async () => {
    expect((await api("/v1/agents/connect", { token: "agent" })).status).toBe(400);
    expect((await connectAgent("agent", "other.v1")).status).toBe(400);
  });

  it("keeps the Hello, answers heartbeats, and lists the agent online with last-seen", async () => {
    const agent = await agentOnline();
    agent.send(HEARTBEAT_PING);
    await agent.next("Pong");
    expect(agent.texts).toContain(HEARTBEAT_PONG);
    const list = (await (await api("/v1/agents", { token: "reader" })).json()) as any;
    expect(list.agents).toEqual([
      {
        agent_id: "dev-box",
        online: true,
        last_seen: expect.any(String),
        platform: "amd64",
        tools: [{ ref: "llm/litellm@1", image_digest: DIGEST, healthy: true }],
      },
    ]);
    agent.socket.close(1000, "bye");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(((await (await api("/v1/agents", { token: "reader" })).json()) as any).agents[0].online).toBe(
      false,
    );
  });

  it("closes on a Hello for another agent (1008) and on a malformed frame (1002)", async () => {
    const impostor = await agentOnline({
      hello: { kind: "Hello", content: { agent_id: "other-box", platform: "amd64", tools: [] } },
    });
    expect((await impostor.closed).code).toBe(1008);
    const garbled = await agentOnline();
    garbled.send("{not json");
    expect((await garbled.closed).code).toBe(1002);
  });
});

describe("local runs through the tunnel", () => {
  it("relays every frame unchanged: the envelope is the processor's own bytes", async () => {
    const agent = await agentOnline();
    const runId = uniqueRunId("local");
    const pending = runAndWait(runRequest(runId, { target: "local", agent: "dev-box" }));
    const dispatch = await agent.next("Dispatch");
    expect(dispatch.content).toEqual({ run_id: runId, ref: "llm/litellm@1" });
    await bridgeToProcessor(agent, dispatch);
    const { resource } = await pending;
    expect(resource).toMatchObject({ state: "succeeded", target: "local" });
    const bytes = await (await api(`/v1/runs/${runId}/envelope`)).text();
    expect(bytes).toBe(
      await directEnvelope(processors.litellm, "llm/litellm@1", runId, llmInputs("hi", { max_tokens: 5 })),
    );
    agent.socket.close(1000);
  });

  it("a dispatch the agent cannot serve (container not started) -> ERR_HEALTH", async () => {
    const agent = await agentOnline();
    const pending = runAndWait(runRequest(uniqueRunId("notstarted"), { target: "local", agent: "dev-box" }));
    const dispatch = await agent.next("Dispatch");
    agent.send({
      kind: "DispatchFailed",
      content: {
        run_id: dispatch.content.run_id,
        error: { code: "ERR_HEALTH", message: "llm/litellm@1 is not started" },
      },
    });
    const { resource } = await pending;
    expect(resource).toMatchObject({
      state: "failed",
      envelope: { error: { code: "ERR_HEALTH", message: "llm/litellm@1 is not started" } },
    });
    agent.socket.close(1000);
  });

  it("the agent lost mid-run -> the run settles ERR_ENDPOINT_MISSING at once, not at its timeout", async () => {
    const agent = await agentOnline();
    const runId = uniqueRunId("lost");
    const pending = runAndWait(runRequest(runId, { target: "local", agent: "dev-box", timeout_s: 300 }));
    const dispatch = await agent.next("Dispatch");
    await agent.next("Relay"); // the RunOpen
    agent.send({
      kind: "Relay",
      content: {
        run_id: dispatch.content.run_id,
        data: JSON.stringify({ kind: "Ack", content: { run_id: runId } }),
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    agent.socket.close(1001, "going away");
    const { resource } = await pending;
    expect(resource).toMatchObject({
      state: "failed",
      envelope: { error: { code: "ERR_ENDPOINT_MISSING", message: "agent disconnected mid-run" } },
    });
  });

  it("relays a RelayBatch: the processor's frames sent together reach the run unchanged, in order", async () => {
    const agent = await agentOnline();
    const runId = uniqueRunId("batch");
    const pending = runAndWait(runRequest(runId, { target: "local", agent: "dev-box" }));
    const dispatch = await agent.next("Dispatch");
    const response = await fetch(`${processors.litellm}/run`, {
      headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": "theory.run.v1", ...TEST_PROCESSOR_AUTH },
    });
    const processor = response.webSocket as WebSocket;
    processor.accept();
    // Everything the processor says is held, then sent up as one batch; its close follows.
    const said: string[] = [];
    processor.addEventListener("message", (event) => said.push(event.data as string));
    processor.addEventListener("close", (event) => {
      agent.send({ kind: "RelayBatch", content: { run_id: runId, frames: said } });
      agent.send({ kind: "RunClosed", content: { run_id: runId, code: event.code, reason: event.reason } });
    });
    processor.send((await agent.next("Relay")).content.data);
    const { resource } = await pending;
    expect(said.length).toBeGreaterThan(2);
    expect(resource).toMatchObject({ state: "succeeded", target: "local" });
    const events = (await (await api(`/v1/runs/${runId}/events`)).text()).split("\n\n").filter(Boolean);
    expect(events.slice(0, -1).map((event) => event.split("\n").at(-1))).toEqual(
      said.slice(0, -1).map((text) => `data: ${text}`),
    );
    expect(dispatch.content.run_id).toBe(runId);
    agent.socket.close(1000);
  });

  it("refuses a RelayBatch that is not a list of frame texts (1002)", async () => {
    const agent = await agentOnline();
    agent.send({ kind: "RelayBatch", content: { run_id: "r1", frames: [{ kind: "Ack" }] } });
    expect((await agent.closed).code).toBe(1002);
  });

  it("a processor that dies after Ack (close 1006, which no socket may send) settles as it does on the endpoint path: lost", async () => {
    const agent = await agentOnline();
    const runId = uniqueRunId("died");
    const pending = runAndWait(runRequest(runId, { target: "local", agent: "dev-box", timeout_s: 300 }));
    await agent.next("Dispatch");
    await agent.next("Relay"); // the RunOpen
    agent.send({
      kind: "Relay",
      content: { run_id: runId, data: JSON.stringify({ kind: "Ack", content: { run_id: runId } }) },
    });
    agent.send({ kind: "RunClosed", content: { run_id: runId, code: 1006, reason: "" } });
    const { resource } = await pending;
    expect(resource).toMatchObject({
      state: "failed",
      envelope: {
        error: {
          code: "ERR_ENDPOINT_MISSING",
          message: "the processor's connection was lost mid-run (1006)",
        },
        // The control plane's own envelope keeps the digest the agent's Hello reported for the tool.
        meta: { image_digest: DIGEST },
      },
    });
    agent.socket.close(1000);
  });

  it("a run whose session is lost before Ack is dispatched once more, and runs", async () => {
    const agent = await agentOnline();
    const runId = uniqueRunId("redispatch");
    await api("/v1/runs", {
      method: "POST",
      json: runRequest(runId, { target: "local", agent: "dev-box", timeout_s: 300 }),
    });
    await agent.next("Dispatch");
    await agent.next("Relay"); // the RunOpen, never acknowledged
    // The control plane restarts: the run's session and the agent's tunnel are gone; the agent dials in again.
    await abortAllDurableObjects();
    await agent.closed;
    const again = await agentOnline();
    const dispatch = await again.next("Dispatch");
    expect(dispatch.content.run_id).toBe(runId);
    await bridgeToProcessor(again, dispatch);
    const { resource } = await runAndWait(
      runRequest(runId, { target: "local", agent: "dev-box", timeout_s: 300 }),
    );
    expect(resource).toMatchObject({ state: "succeeded" });
    const receipt = ReceiptSchema.parse(await (await api(`/v1/runs/${runId}/receipt`)).json());
    expect(receipt.attempts.map((attempt) => [attempt.outcome, attempt.acked])).toEqual([
      ["ERR_ENDPOINT_MISSING", false],
      ["success", true],
    ]);
    again.socket.close(1000);
  }, 30_000);

  it("a run whose session is lost after Ack is settled, never dispatched again", async () => {
    const agent = await agentOnline();
    const runId = uniqueRunId("lost-after-ack");
    const request = runRequest(runId, { target: "local", agent: "dev-box", timeout_s: 300 });
    await api("/v1/runs", { method: "POST", json: request });
    await agent.next("Dispatch");
    await agent.next("Relay");
    agent.send({
      kind: "Relay",
      content: { run_id: runId, data: JSON.stringify({ kind: "Ack", content: { run_id: runId } }) },
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await abortAllDurableObjects();
    await agent.closed;
    const again = await agentOnline();
    const { resource } = await runAndWait(request, 20);
    expect(resource).toMatchObject({
      state: "failed",
      envelope: {
        error: { code: "ERR_ENDPOINT_MISSING", message: expect.stringContaining("lost mid-run") },
        meta: { image_digest: DIGEST },
      },
    });
    expect(again.frames.filter((frame) => frame.kind === "Dispatch")).toEqual([]);
    again.socket.close(1000);
  }, 30_000);

  it("keeps the agent's socket across eviction (hibernation) and still dispatches", async () => {
    const agent = await agentOnline();
    agent.send(HEARTBEAT_PING);
    await agent.next("Pong");
    await evictDurableObject(env.AGENT_TUNNEL.getByName("dev-box"));
    agent.send(HEARTBEAT_PING);
    await agent.next("Pong");
    const runId = uniqueRunId("hibernated");
    const pending = runAndWait(runRequest(runId, { target: "local", agent: "dev-box" }));
    await bridgeToProcessor(agent, await agent.next("Dispatch"));
    expect((await pending).resource.state).toBe("succeeded");
    agent.socket.close(1000);
  });
});
