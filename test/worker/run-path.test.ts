import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { EventLog } from "../../durable-objects/event-log.ts";
import { RunStore } from "../../durable-objects/run-store.ts";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import { ReceiptSchema } from "../../src/contract/api.ts";
import { TRUNCATED_EVENT } from "../../src/contract/run-events.ts";
import { sseEventsOf } from "../support/sse.ts";
import { until } from "../support/until.ts";
import { api, registerEndpoint, runAndWait, runRequest, uniqueRunId } from "./support.ts";

const processors = inject("processors");
/** HEALTH_BUDGET_MS in vitest.config.ts. */
const TEST_HEALTH_BUDGET_MS = 1500;

beforeAll(async () => {
  await registerEndpoint("llm/litellm@1", processors.litellm);
});

/** The mock's tokens: its canned reply's words, cycled, the last one ending the line. */
const CANNED =
  "This is a deterministic mock reply from llm/litellm@1 : the same inputs always stream the same tokens .".split(
    " ",
  );
const mockTokens = (count: number) =>
  Array.from({ length: count }, (_, i) => `${CANNED[i % CANNED.length]}${i === count - 1 ? "\n" : " "}`);

async function events(runId: string, headers: Record<string, string> = {}) {
  return sseEventsOf(await api(`/v1/runs/${runId}/events`, { headers }));
}

describe("Prefer: wait is answered where the run is", () => {
  it("wakes when the run settles, long before the wait would end", async () => {
    const runId = uniqueRunId("wake");
    // A slow stream: 200 tokens, 50 ms apart, settled by a cancel while the request waits.
    const request = runRequest(runId, { inputs: llmInputs("slow", { max_tokens: 200, token_delay_ms: 50 }) });
    const waiting = api("/v1/runs", { method: "POST", json: request, headers: { Prefer: "wait=60" } });
    for (let i = 0; i < 100; i++) {
      const resource = (await (await api(`/v1/runs/${runId}`)).json()) as { state?: string };
      if (resource.state === "running") break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await api(`/v1/runs/${runId}/cancel`, { method: "POST" });
    // This test's own timeout (20 s) is far inside the 60 s wait: only the settle can answer it.
    const answered = await waiting;
    expect(answered.status).toBe(200);
    expect(answered.headers.get("Preference-Applied")).toBe("wait=60");
    expect(await answered.json()).toMatchObject({
      state: "canceled",
      envelope: { error: { code: "ERR_CANCELED" } },
    });
  });

  it("answers 202 with the run as it stands when the wait ends first", async () => {
    const runId = uniqueRunId("wait-ends");
    const request = runRequest(runId, { inputs: llmInputs("slow", { max_tokens: 200, token_delay_ms: 50 }) });
    const response = await api("/v1/runs", { method: "POST", json: request, headers: { Prefer: "wait=1" } });
    expect(response.status).toBe(202);
    expect(response.headers.get("Preference-Applied")).toBe("wait=1");
    expect(await response.json()).toMatchObject({ run_id: runId, state: "running", envelope: null });
    await api(`/v1/runs/${runId}/cancel`, { method: "POST" });
  });
});

describe("cancel", () => {
  it("stops the processor's stream: its own ERR_CANCELED settles the run long before its 100k tokens", async () => {
    const runId = uniqueRunId("cancel-stream");
    const request = runRequest(runId, { inputs: llmInputs("long", { max_tokens: 100_000 }), timeout_s: 300 });
    await api("/v1/runs", { method: "POST", json: request });
    const events = await api(`/v1/runs/${runId}/events`);
    const reader = (events.body as ReadableStream<Uint8Array>).getReader();
    await reader.read(); // the stream is flowing
    await api(`/v1/runs/${runId}/cancel`, { method: "POST" });
    await reader.cancel();
    const { resource } = await runAndWait(request);
    expect(resource).toMatchObject({
      state: "canceled",
      // The processor's own envelope carries its image digest; it answered the Cancel itself.
      envelope: { error: { code: "ERR_CANCELED" }, meta: { image_digest: `sha256:${"a".repeat(64)}` } },
    });
    const receipt = ReceiptSchema.parse(await (await api(`/v1/runs/${runId}/receipt`)).json());
    expect(receipt.frames.tokens).toBeLessThan(100_000);
  });
});

describe("durable events, stored in batches", () => {
  it("replays every token's text in order with ids 1..n, and resumes after any id", async () => {
    const runId = uniqueRunId("batched");
    const count = 3000;
    const { resource } = await runAndWait(
      runRequest(runId, { inputs: llmInputs("many", { max_tokens: count }) }),
    );
    expect(resource.state).toBe("succeeded");
    const all = await events(runId);
    expect(all.map((e) => e.event)).toEqual(["Ack", ...Array(count).fill("Token"), "done"]);
    expect(all.slice(0, -1).map((e) => e.id)).toEqual(
      Array.from({ length: count + 1 }, (_, i) => String(i + 1)),
    );
    const tokens = all.filter((e) => e.event === "Token").map((e) => JSON.parse(e.data).content.text);
    expect(tokens).toEqual(mockTokens(count));
    for (const after of [1, 2, 1000, 2999, 3000]) {
      const rest = await events(runId, { "Last-Event-ID": String(after) });
      expect(rest.map((e) => e.id ?? e.event)).toEqual([
        ...Array.from({ length: count + 1 - after }, (_, i) => String(after + 1 + i)),
        "done",
      ]);
    }
    const receipt = ReceiptSchema.parse(await (await api(`/v1/runs/${runId}/receipt`)).json());
    expect(receipt.events).toMatchObject({ stored: count + 1, dropped: 0 });
    // Batched: far fewer rows than frames.
    expect(receipt.events?.rows).toBeLessThan(count / 10);
  });

  it("a live subscriber and a replay see the same events", async () => {
    const runId = uniqueRunId("live-vs-replay");
    await api("/v1/runs", {
      method: "POST",
      json: runRequest(runId, { inputs: llmInputs("x", { max_tokens: 500 }) }),
    });
    const live = await (await api(`/v1/runs/${runId}/events`)).text();
    const replay = await (await api(`/v1/runs/${runId}/events`)).text();
    expect(live).toContain("event: done");
    expect(live).toBe(replay);
  });

  it("past its bound a run stores nothing more: replays end with `truncated`, the receipt counts what was dropped", async () => {
    const stub = env.RUN_SESSION.getByName(uniqueRunId("bound"));
    await runInDurableObject(stub, (_instance, state) => {
      const store = new RunStore(state.storage.sql);
      store.create({
        run_id: "bound",
        request: "{}",
        request_sha256: "0".repeat(64),
        ref: "llm/litellm@1",
        target: "modal",
        agent: null,
        state: "queued",
        queued_at: new Date().toISOString(),
        deadline_ms: Date.now() + 60_000,
        envelope: null,
        receipt: null,
        persisted: 0,
        expires_at_ms: null,
        replay_of: null,
        replays: "[]",
      });
      const log = new EventLog(store, {
        maxFrames: 5,
        maxChars: 1000,
        batchFrames: 2,
        batchChars: 1000,
        batchDelayMs: 10,
      });
      const seqs = Array.from({ length: 8 }, (_, i) => log.append("Token", `{"n":${i}}`));
      expect(seqs).toEqual([1, 2, 3, 4, 5, undefined, undefined, undefined]);
      log.flush();
      const replay = log.after(0);
      expect(replay.map((e) => e.seq ?? e.kind)).toEqual([1, 2, 3, 4, 5, TRUNCATED_EVENT]);
      expect(replay.slice(0, 5).map((e) => e.data)).toEqual(seqs.slice(0, 5).map((_, i) => `{"n":${i}}`));
      expect(log.stats()).toEqual({ stored: 5, rows: 3, dropped: 3 });
      // A second log over the same storage (the object woke up) knows what is stored.
      expect(new EventLog(store).after(3).map((e) => e.seq)).toEqual([4, 5]);

      const bySize = new EventLog(new RunStore(state.storage.sql), {
        maxFrames: 1000,
        maxChars: 10,
        batchFrames: 100,
        batchChars: 1000,
        batchDelayMs: 10,
      });
      expect(bySize.append("Token", "x".repeat(100))).toBeUndefined();
    });
  });

  it("looking up a run that does not exist leaves no storage behind", async () => {
    const runId = uniqueRunId("nothing");
    expect((await api(`/v1/runs/${runId}`)).status).toBe(404);
    expect((await api(`/v1/runs/${runId}/events`)).status).toBe(404);
    await runInDurableObject(env.RUN_SESSION.getByName(runId), (_instance, state) => {
      expect(state.storage.sql.exec("SELECT name FROM sqlite_master").toArray()).toEqual([]);
    });
  });
});

/** What a settled run's object holds that decides its next wake: the row's bits and retention, and the alarm. */
async function wakeOf(runId: string) {
  return runInDurableObject(env.RUN_SESSION.getByName(runId), async (_instance, state) => {
    const row = state.storage.sql
      .exec<{ persisted: number; expires_at_ms: number }>("SELECT persisted, expires_at_ms FROM run_record")
      .one();
    return { ...row, alarm: await state.storage.getAlarm() };
  });
}

describe("a settled run's alarm", () => {
  it("moves to retention once the run is copied and indexed: a short run's object is not woken before", async () => {
    const runId = uniqueRunId("alarm-moved");
    const { resource } = await runAndWait(runRequest(runId));
    expect(resource.state).toBe("succeeded");
    const wake = await until("the copy and the index row", () => wakeOf(runId), {
      done: (w) => w.persisted === 3,
    });
    expect(wake.alarm).toBe(wake.expires_at_ms);
    expect(await env.ARTIFACTS.head(`dev/${runId}/envelope.json`)).not.toBeNull();
  });

  it("stays due sooner while a webhook delivery waits for its retry", async () => {
    const runId = uniqueRunId("alarm-retry");
    await runAndWait(
      runRequest(runId, { webhook: { url: `${processors.receiver}/flaky`, events: ["completed"] } }),
    );
    const wake = await until("the copy, and the failed delivery's retry due", () => wakeOf(runId), {
      done: (w) => w.persisted === 3 && w.alarm !== null && w.alarm < w.expires_at_ms,
    });
    expect(wake.alarm).toBeLessThan(Date.now() + 60_000);
  });
});

describe("an endpoint's health is proven by the handshake", () => {
  it("a cold endpoint that refuses the first handshake gets the bounded health poll, then runs", async () => {
    await registerEndpoint("llm/litellm@1", processors.cold);
    try {
      // A second of quiet makes the endpoint cold again.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const runId = uniqueRunId("cold");
      const { resource } = await runAndWait(runRequest(runId));
      expect(resource.state).toBe("succeeded");
      const receipt = ReceiptSchema.parse(await (await api(`/v1/runs/${runId}/receipt`)).json());
      expect(receipt.attempts).toEqual([expect.objectContaining({ acked: true, outcome: "success" })]);
    } finally {
      await registerEndpoint("llm/litellm@1", processors.litellm);
    }
  });

  it("an endpoint nothing answers costs one health budget in all, not one per attempt (the receipt's timings)", async () => {
    await registerEndpoint("llm/litellm@1", "http://127.0.0.1:9");
    try {
      const runId = uniqueRunId("one-budget");
      const { resource } = await runAndWait(runRequest(runId));
      expect(resource.envelope.error.code).toBe("ERR_ENDPOINT_MISSING");
      const receipt = ReceiptSchema.parse(await (await api(`/v1/runs/${runId}/receipt`)).json());
      // Two attempts of a full budget each took 2 x 1.5 s + the retry delay; the pre-Ack phase is one budget.
      expect(receipt.timings.duration_ms).toBeLessThan(TEST_HEALTH_BUDGET_MS + 800);
      expect(receipt.attempts.every((attempt) => !attempt.acked)).toBe(true);
    } finally {
      await registerEndpoint("llm/litellm@1", processors.litellm);
    }
  });

  it("an endpoint nothing answers settles ERR_ENDPOINT_MISSING within its budget", async () => {
    await registerEndpoint("llm/litellm@1", "http://127.0.0.1:9");
    try {
      const { resource } = await runAndWait(runRequest(uniqueRunId("nobody")));
      expect(resource).toMatchObject({
        state: "failed",
        envelope: { error: { code: "ERR_ENDPOINT_MISSING" } },
      });
    } finally {
      await registerEndpoint("llm/litellm@1", processors.litellm);
    }
  });
});
