import { beforeAll, describe, expect, inject, it } from "vitest";
import { echoInputs, llmInputs } from "../../scripts/lib/inputs.ts";
import { ReceiptSchema, RunResourceSchema } from "../../src/contract/api.ts";
import { sha256Hex } from "../../src/core/canonical.ts";
import { directEnvelope } from "../support/direct.ts";
import { sseEventsOf } from "../support/sse.ts";
import { api, registerEndpoint, runAndWait, runRequest, uniqueRunId } from "./support.ts";

const processors = inject("processors");

beforeAll(async () => {
  await registerEndpoint("llm/litellm@1", processors.litellm);
});

describe("a run through the Worker and its RunSession, against the real processor", () => {
  it("POST /v1/runs -> 202 + Location, then settles succeeded", async () => {
    const runId = uniqueRunId("plain");
    const response = await api("/v1/runs", { method: "POST", json: runRequest(runId) });
    expect(response.status).toBe(202);
    expect(response.headers.get("Location")).toBe(`/v1/runs/${runId}`);
    const created = RunResourceSchema.parse(await response.json());
    expect(created).toMatchObject({ run_id: runId, ref: "llm/litellm@1", target: "modal", envelope: null });
    let resource = created;
    for (let i = 0; i < 100 && resource.state !== "succeeded"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      resource = RunResourceSchema.parse(await (await api(`/v1/runs/${runId}`)).json());
    }
    expect(resource.state).toBe("succeeded");
  });

  it("Prefer: wait -> 200 with the settled run; /envelope serves the persisted canonical bytes with ETag = sha256", async () => {
    const runId = uniqueRunId("wait");
    const { status, resource, headers } = await runAndWait(runRequest(runId));
    expect(status).toBe(200);
    expect(headers.get("Preference-Applied")).toBe("wait=20");
    expect(resource).toMatchObject({ state: "succeeded", envelope: { status: "success", run_id: runId } });

    const envelope = await api(`/v1/runs/${runId}/envelope`);
    const bytes = await envelope.text();
    expect(envelope.headers.get("ETag")).toBe(`"${await sha256Hex(bytes)}"`);
    expect(JSON.parse(bytes)).toEqual(resource.envelope);
    // The bytes equal what the processor itself answers for the same payload.
    expect(bytes).toBe(
      await directEnvelope(processors.litellm, "llm/litellm@1", runId, llmInputs("hi", { max_tokens: 5 })),
    );
    const notModified = await api(`/v1/runs/${runId}/envelope`, {
      headers: { "If-None-Match": envelope.headers.get("ETag") as string },
    });
    expect(notModified.status).toBe(304);
  });

  it("the receipt holds what the envelope must not: target, timings, attempts, frame counts", async () => {
    const runId = uniqueRunId("receipt");
    await runAndWait(runRequest(runId));
    const receipt = ReceiptSchema.parse(await (await api(`/v1/runs/${runId}/receipt`)).json());
    expect(receipt).toMatchObject({
      run_id: runId,
      target: "modal",
      state: "succeeded",
      frames: { tokens: 5, total: 7 },
    });
    expect(receipt.attempts).toEqual([expect.objectContaining({ acked: true, outcome: "success" })]);
    const envelope = await (await api(`/v1/runs/${runId}/envelope`)).text();
    expect(receipt.envelope.sha256).toBe(await sha256Hex(envelope));
    for (const word of ["modal", "queued_at", "duration"]) expect(envelope).not.toContain(word);
  });

  it("idempotency: parallel duplicate submissions are one run, executed once", async () => {
    const runId = uniqueRunId("dup");
    const responses = await Promise.all(
      Array.from({ length: 5 }, () => api("/v1/runs", { method: "POST", json: runRequest(runId) })),
    );
    expect(responses.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
    const { resource } = await runAndWait(runRequest(runId));
    expect(resource.state).toBe("succeeded");
    const receipt = ReceiptSchema.parse(await (await api(`/v1/runs/${runId}/receipt`)).json());
    expect(receipt.attempts).toHaveLength(1);
    const events = await sseEventsOf(await api(`/v1/runs/${runId}/events`));
    expect(events.filter((e) => e.event === "Ack")).toHaveLength(1);
  });

  it("conflict: the same run_id with a different request -> 409 ERR_CONFLICT", async () => {
    const runId = uniqueRunId("conflict");
    await runAndWait(runRequest(runId));
    const response = await api("/v1/runs", {
      method: "POST",
      json: runRequest(runId, { inputs: llmInputs("other") }),
    });
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({ status: "error", error: { code: "ERR_CONFLICT" } });
  });

  it("digest drift: expected_oci differs from what ran -> failed with ERR_REGISTRY_MISMATCH", async () => {
    const runId = uniqueRunId("drift");
    const { resource } = await runAndWait(
      runRequest(runId, { expected_oci: `127.0.0.1:5000/theory/processor@sha256:${"b".repeat(64)}` }),
    );
    expect(resource).toMatchObject({
      state: "failed",
      envelope: {
        error: { code: "ERR_REGISTRY_MISMATCH" },
        meta: { image_digest: `sha256:${"a".repeat(64)}` },
      },
    });
  });

  it("cancel: a long run is canceled and settles ERR_CANCELED", async () => {
    const runId = uniqueRunId("cancel");
    await api("/v1/runs", {
      method: "POST",
      json: runRequest(runId, { inputs: llmInputs("long", { max_tokens: 100_000 }) }),
    });
    for (let i = 0; i < 100; i++) {
      const resource = await (await api(`/v1/runs/${runId}`)).json();
      if ((resource as { state: string }).state === "running") break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const canceled = await api(`/v1/runs/${runId}/cancel`, { method: "POST" });
    expect(canceled.status).toBe(202);
    const { resource } = await runAndWait(
      runRequest(runId, { inputs: llmInputs("long", { max_tokens: 100_000 }) }),
    );
    expect(resource).toMatchObject({ state: "canceled", envelope: { error: { code: "ERR_CANCELED" } } });
  });

  it("events: SSE replay after the run ended, then done with the envelope; Last-Event-ID resumes", async () => {
    const runId = uniqueRunId("events");
    const { resource } = await runAndWait(runRequest(runId));
    const all = await sseEventsOf(await api(`/v1/runs/${runId}/events`));
    expect(all.map((e) => e.event)).toEqual(["Ack", "Token", "Token", "Token", "Token", "Token", "done"]);
    expect(all.slice(0, -1).map((e) => e.id)).toEqual(["1", "2", "3", "4", "5", "6"]);
    expect(JSON.parse(all.at(-1)?.data as string)).toEqual(resource.envelope);
    const resumed = await sseEventsOf(
      await api(`/v1/runs/${runId}/events`, { headers: { "Last-Event-ID": "4" } }),
    );
    expect(resumed.map((e) => e.id ?? e.event)).toEqual(["5", "6", "done"]);
  });

  it("events live: every subscriber gets the replay's exact bytes; one that leaves early stops no other", async () => {
    const runId = uniqueRunId("live");
    const request = runRequest(runId, { inputs: llmInputs("hi", { max_tokens: 5, token_delay_ms: 40 }) });
    await api("/v1/runs", { method: "POST", json: request });
    const [first, second, leaver] = await Promise.all([1, 2, 3].map(() => api(`/v1/runs/${runId}/events`)));
    expect(first?.headers.get("content-type")).toBe("text/event-stream");
    await leaver?.body?.cancel();
    const live = await Promise.all([first?.text(), second?.text()]);
    const { resource } = await runAndWait(request);
    expect(resource.state).toBe("succeeded");
    const replay = await (await api(`/v1/runs/${runId}/events`)).text();
    expect(live).toEqual([replay, replay]);
    const envelope = await (await api(`/v1/runs/${runId}/envelope`)).text();
    const stored = "id: (\\d+)\\nevent: (Ack|Token)\\ndata: \\{[^\\n]*\\}\\n\\n";
    expect(replay).toMatch(new RegExp(`^(${stored}){6}event: done\\ndata: [^\\n]+\\n\\n$`));
    expect(replay.endsWith(`event: done\ndata: ${envelope}\n\n`)).toBe(true);
  });
});

describe("runs that fail, each settling with the right code", () => {
  it("no endpoint registered -> ERR_ENDPOINT_MISSING", async () => {
    await api("/v1/endpoints/echo/text@1", { method: "DELETE" });
    const { resource } = await runAndWait({
      ...runRequest(uniqueRunId("noend")),
      ref: "echo/text@1",
      inputs: echoInputs("x"),
    });
    expect(resource).toMatchObject({
      state: "failed",
      envelope: {
        error: { code: "ERR_ENDPOINT_MISSING" },
        meta: { env_fingerprint: "cpu:0.25;memory:256Mi" },
      },
    });
  });

  it("target local with no agent connected -> ERR_ENDPOINT_MISSING", async () => {
    const { resource } = await runAndWait(
      runRequest(uniqueRunId("local"), { target: "local", agent: "dev-box" }),
    );
    expect(resource).toMatchObject({
      state: "failed",
      envelope: { error: { code: "ERR_ENDPOINT_MISSING", message: "agent dev-box is not connected" } },
    });
  });
});

describe("POST /v1/runs with Accept: text/event-stream", () => {
  const streamRun = (request: object) =>
    api("/v1/runs", { method: "POST", json: request, headers: { Accept: "text/event-stream" } });

  it("answers with the new run's events from its Ack to `done`, the envelope's exact bytes last", async () => {
    const runId = uniqueRunId("post-stream");
    const response = await streamRun(runRequest(runId));
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toContain("text/event-stream");
    expect(response.headers.get("Location")).toBe(`/v1/runs/${runId}`);
    const events = await sseEventsOf(response);
    expect(events.map((e) => e.event)).toEqual(["Ack", "Token", "Token", "Token", "Token", "Token", "done"]);
    expect(events.slice(0, -1).map((e) => e.id)).toEqual(["1", "2", "3", "4", "5", "6"]);
    expect(events.at(-1)?.data).toBe(await (await api(`/v1/runs/${runId}/envelope`)).text());
    // The same request again is the same run: its events replayed, nothing run twice.
    const again = await sseEventsOf(await streamRun(runRequest(runId)));
    expect(again).toEqual(events);
    const receipt = ReceiptSchema.parse(await (await api(`/v1/runs/${runId}/receipt`)).json());
    expect(receipt.attempts).toHaveLength(1);
  });

  it("a request refused before the run starts answers its JSON error, never a stream, and leaves no run", async () => {
    const runId = uniqueRunId("post-stream-bad");
    const refused = await streamRun(runRequest(runId, { inputs: llmInputs("hi", { max_tokens: -1 }) }));
    expect(refused.status).toBe(422);
    expect(refused.headers.get("Content-Type")).toContain("application/json");
    expect(await refused.json()).toMatchObject({ status: "error", error: { code: "ERR_INPUTS" } });
    expect((await api(`/v1/runs/${runId}`)).status).toBe(404);
    const used = uniqueRunId("post-stream-used");
    await runAndWait(runRequest(used));
    const conflict = await streamRun(runRequest(used, { inputs: llmInputs("other", { max_tokens: 5 }) }));
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toMatchObject({ error: { code: "ERR_CONFLICT" } });
  });
});
