import { abortAllDurableObjects, evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import { ReceiptSchema } from "../../src/contract/api.ts";
import { ackIn } from "../support/sse.ts";
import { until } from "../support/until.ts";
import { api, registerEndpoint, runAndWait, runRequest, uniqueRunId } from "./support.ts";

const processors = inject("processors");

beforeAll(async () => {
  // The misbehaving peer stands in for llm/litellm@1 here; its message says how it misbehaves.
  await registerEndpoint("llm/litellm@1", processors.rogue);
});

const waitForState = (runId: string, state: string) =>
  until(
    `run ${runId} ${state}`,
    async () => ((await (await api(`/v1/runs/${runId}`)).json()) as { state: string }).state === state,
  );

const waitForAck = async (runId: string) => ackIn(await api(`/v1/runs/${runId}/events`));

describe("a processor that misbehaves", () => {
  it("sends garbage after Ack -> failed ERR_INTERNAL (protocol), not retried", async () => {
    const runId = uniqueRunId("garbage");
    const { resource } = await runAndWait(runRequest(runId, { inputs: llmInputs("garbage") }));
    expect(resource).toMatchObject({
      state: "failed",
      envelope: { error: { code: "ERR_INTERNAL", message: expect.stringContaining("protocol") } },
    });
    const receipt = (await (await api(`/v1/runs/${runId}/receipt`)).json()) as { attempts: unknown[] };
    expect(receipt.attempts).toHaveLength(1);
  });

  it("closes mid-run -> failed ERR_INTERNAL", async () => {
    const { resource } = await runAndWait(runRequest(uniqueRunId("close"), { inputs: llmInputs("close") }));
    expect(resource).toMatchObject({
      state: "failed",
      envelope: { error: { code: "ERR_INTERNAL", message: expect.stringContaining("closed mid-run") } },
    });
  });

  it("hangs after Ack -> the timeout alarm settles ERR_WS_TIMEOUT", async () => {
    const runId = uniqueRunId("hang");
    const { resource } = await runAndWait(runRequest(runId, { inputs: llmInputs("hang"), timeout_s: 1 }));
    expect(resource).toMatchObject({ state: "failed", envelope: { error: { code: "ERR_WS_TIMEOUT" } } });
  });
});

describe("event subscribers over WebSocket", () => {
  async function subscribe(runId: string) {
    const upgrade = await api(`/v1/runs/${runId}/events`, { headers: { Upgrade: "websocket" } });
    expect(upgrade.status).toBe(101);
    const socket = upgrade.webSocket as WebSocket;
    const received: string[] = [];
    const closed = new Promise<number>((resolve) =>
      socket.addEventListener("close", (event) => resolve(event.code)),
    );
    socket.addEventListener("message", (event) => {
      received.push(event.data as string);
    });
    socket.accept();
    return { received, closed };
  }

  it("replays the stored events, then delivers done live", async () => {
    const runId = uniqueRunId("ws-live");
    await api("/v1/runs", {
      method: "POST",
      json: runRequest(runId, { inputs: llmInputs("hang"), timeout_s: 300 }),
    });
    await waitForState(runId, "running");
    const subscriber = await subscribe(runId);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(subscriber.received.map((text) => JSON.parse(text).event)).toEqual(["Ack"]);
    // This peer never answers Cancel: the run settles ERR_CANCELED after the grace period.
    await api(`/v1/runs/${runId}/cancel`, { method: "POST" });
    expect(await subscriber.closed).toBe(1000);
    expect(JSON.parse(subscriber.received.at(-1) as string)).toMatchObject({
      event: "done",
      data: { error: { code: "ERR_CANCELED" } },
    });
  }, 20_000);

  it("keeps a subscriber's socket across eviction (hibernation) and settles a lost session by the alarm", async () => {
    const runId = uniqueRunId("ws-sub");
    // The alarm that checks a live run's session settles it once the session is lost.
    await api("/v1/runs", {
      method: "POST",
      json: runRequest(runId, { inputs: llmInputs("hang"), timeout_s: 6 }),
    });
    await waitForState(runId, "running");
    const first = await subscribe(runId);
    for (let i = 0; i < 100 && first.received.length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    // The instance dies (deploy, crash): its session to the processor is lost, its storage is not.
    await abortAllDurableObjects();
    const subscriber = await subscribe(runId);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(subscriber.received.map((text) => JSON.parse(text).event)).toEqual(["Ack"]);

    // Nothing holds the object now but a hibernatable subscriber socket: evict it, keep the socket.
    await evictDurableObject(env.RUN_SESSION.getByName(runId));
    expect(await subscriber.closed).toBe(1000);
    expect(JSON.parse(subscriber.received.at(-1) as string)).toMatchObject({
      event: "done",
      data: { status: "error", run_id: runId, error: { code: "ERR_ENDPOINT_MISSING" } },
    });
    expect(((await (await api(`/v1/runs/${runId}`)).json()) as { state: string }).state).toBe("failed");
  });
});

describe("an endpoint behind Modal proxy auth, with no proxy credentials configured", () => {
  it("is refused at the health check -> ERR_HEALTH (401), nothing runs", async () => {
    await registerEndpoint("llm/litellm@1", processors.proxyGate);
    const { resource } = await runAndWait(runRequest(uniqueRunId("ungated"), { inputs: llmInputs("hi") }));
    expect(resource).toMatchObject({
      state: "failed",
      envelope: { error: { code: "ERR_HEALTH", message: expect.stringContaining("401") } },
    });
    await registerEndpoint("llm/litellm@1", processors.rogue);
  });
});

describe("a run whose session is lost (the control plane restarted)", () => {
  it("is settled within seconds, not at its timeout: acknowledged, so ERR_ENDPOINT_MISSING, never run again", async () => {
    const runId = uniqueRunId("lost-acked");
    const request = runRequest(runId, { inputs: llmInputs("hang"), timeout_s: 300 });
    await api("/v1/runs", { method: "POST", json: request });
    await waitForAck(runId);
    const lostAt = Date.now();
    await abortAllDurableObjects();
    const { resource } = await runAndWait(request, 20);
    expect(resource).toMatchObject({
      state: "failed",
      envelope: {
        error: { code: "ERR_ENDPOINT_MISSING", message: expect.stringContaining("lost mid-run") },
        // The digest the endpoint was registered with, kept across the restart.
        meta: { image_digest: `sha256:${"a".repeat(64)}` },
      },
    });
    expect(Date.now() - lostAt).toBeLessThan(15_000);
    const receipt = ReceiptSchema.parse(await (await api(`/v1/runs/${runId}/receipt`)).json());
    expect(receipt.attempts).toEqual([
      expect.objectContaining({ acked: true, outcome: "ERR_ENDPOINT_MISSING" }),
    ]);
  }, 30_000);
});
