import { describe, expect, inject, it } from "vitest";
import { echoInputs, llmInputs } from "../../scripts/lib/inputs.ts";
import { ReplayVerdictSchema, RunResourceSchema } from "../../src/contract/api.ts";
import { DIGEST_A, DIGEST_B } from "../support/examples.ts";
import { api, registerEndpoint, runAndWait, runRequest, uniqueRunId } from "./support.ts";

const processors = inject("processors");

const replay = (runId: string, body: object = {}) =>
  api(`/v1/runs/${runId}/replay`, { method: "POST", json: body });

const echoRequest = (runId: string) =>
  runRequest(runId, { ref: "echo/text@1", inputs: echoInputs("same bytes") });

describe("POST /v1/runs/{id}/replay", () => {
  it("replays a settled run's exact request: identical, linked both ways, the webhook not carried", async () => {
    await registerEndpoint("llm/litellm@1", processors.litellm);
    const originalId = uniqueRunId("original");
    const { resource: original } = await runAndWait(
      runRequest(originalId, {
        tags: ["nightly"],
        webhook: { url: `${processors.receiver}/ok`, events: ["completed"] },
      }),
    );
    expect(original.state).toBe("succeeded");

    const response = await replay(originalId);
    expect(response.status).toBe(200);
    const verdict = ReplayVerdictSchema.parse(await response.json());
    expect(verdict).toMatchObject({ verdict: "identical", original: originalId, differences: [] });
    expect(response.headers.get("Location")).toBe(`/v1/runs/${verdict.replay.run_id}`);
    expect(verdict.replay).toMatchObject({ state: "succeeded", replay_of: originalId, tags: ["nightly"] });
    expect(verdict.replay.run_id).not.toBe(originalId);
    // Byte-identical once the run id is normalized: the envelopes differ in nothing else.
    const bytesOf = async (runId: string) =>
      (await (await api(`/v1/runs/${runId}/envelope`)).text()).split(runId).join("{run_id}");
    expect(await bytesOf(verdict.replay.run_id)).toBe(await bytesOf(originalId));

    const linked = RunResourceSchema.parse(await (await api(`/v1/runs/${originalId}`)).json());
    expect(linked.replays).toEqual([verdict.replay.run_id]);
    const receipt = await (await api(`/v1/runs/${verdict.replay.run_id}/receipt`)).json();
    expect(JSON.stringify(receipt)).not.toContain(processors.receiver);
  });

  it("a run_id names the replay; asked again it is the same replay, listed once", async () => {
    await registerEndpoint("llm/litellm@1", processors.litellm);
    const originalId = uniqueRunId("named");
    await runAndWait(runRequest(originalId));
    const replayId = uniqueRunId("named-replay");
    for (let i = 0; i < 2; i++) {
      const verdict = ReplayVerdictSchema.parse(
        await (await replay(originalId, { run_id: replayId })).json(),
      );
      expect(verdict).toMatchObject({ verdict: "identical", replay: { run_id: replayId } });
    }
    const linked = RunResourceSchema.parse(await (await api(`/v1/runs/${originalId}`)).json());
    expect(linked.replays).toEqual([replayId]);
  });

  it("drift: the ref now runs a rebuilt image -> drifted, naming the digest and nothing that did not change", async () => {
    await registerEndpoint("echo/text@1", processors.echo, DIGEST_A);
    const originalId = uniqueRunId("drift");
    const { resource: original } = await runAndWait(echoRequest(originalId));
    expect(original.envelope.meta.image_digest).toBe(DIGEST_A);

    await registerEndpoint("echo/text@1", processors.echoRebuilt, DIGEST_B);
    try {
      const response = await replay(originalId);
      expect(response.status).toBe(200);
      const verdict = ReplayVerdictSchema.parse(await response.json());
      expect(verdict.verdict).toBe("drifted");
      expect(verdict.replay.state).toBe("succeeded");
      expect(verdict.differences).toEqual([
        { field: "meta.image_digest", original: DIGEST_A, replay: DIGEST_B },
      ]);
    } finally {
      await registerEndpoint("echo/text@1", processors.echo, DIGEST_A);
    }
  });

  it("drift: the same digest now writes other bytes -> drifted in the output's ETag alone", async () => {
    await registerEndpoint("echo/text@1", processors.echo, DIGEST_A);
    const originalId = uniqueRunId("changed");
    const { resource: original } = await runAndWait(echoRequest(originalId));
    expect(original.state).toBe("succeeded");

    await registerEndpoint("echo/text@1", processors.echoChanged, DIGEST_A);
    try {
      const verdict = ReplayVerdictSchema.parse(await (await replay(originalId)).json());
      const field = 'meta.proof.etag_map["text/echo.txt"]';
      expect(verdict).toMatchObject({ verdict: "drifted", replay: { state: "succeeded" } });
      expect(verdict.differences).toEqual([
        {
          field,
          original: original.envelope.meta.proof.etag_map["text/echo.txt"],
          replay:
            verdict.replay.envelope?.status === "success" &&
            verdict.replay.envelope.meta.proof.etag_map["text/echo.txt"],
        },
      ]);
    } finally {
      await registerEndpoint("echo/text@1", processors.echo, DIGEST_A);
    }
  });

  it("a replay that fails where its original succeeded is drifted, naming the status and the error", async () => {
    await registerEndpoint("llm/litellm@1", processors.litellm);
    const originalId = uniqueRunId("then-failed");
    await runAndWait(runRequest(originalId));
    await registerEndpoint("llm/litellm@1", processors.rogue);
    try {
      const verdict = ReplayVerdictSchema.parse(await (await replay(originalId)).json());
      expect(verdict.verdict).toBe("drifted");
      expect(verdict.replay.state).toBe("failed");
      expect(verdict.differences).toContainEqual({ field: "status", original: "success", replay: "error" });
      // A field only one side has: the other side holds no value.
      const code = verdict.differences.find((drift) => drift.field === "error.code");
      const failed = verdict.replay.envelope;
      expect(code).toEqual({ field: "error.code", replay: failed?.status === "error" && failed.error.code });
      expect(code).not.toHaveProperty("original");
    } finally {
      await registerEndpoint("llm/litellm@1", processors.litellm);
    }
  });

  it("unknown run -> 404 ERR_NOT_FOUND; a run not settled yet -> 409 ERR_CONFLICT, and no replay starts", async () => {
    const unknown = await replay(uniqueRunId("nobody"));
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: "ERR_NOT_FOUND" } });

    await registerEndpoint("llm/litellm@1", processors.rogue);
    const hangingId = uniqueRunId("hanging");
    try {
      const started = await api("/v1/runs", {
        method: "POST",
        json: runRequest(hangingId, { inputs: llmInputs("hang") }),
      });
      expect(started.status).toBe(202);
      const replayId = uniqueRunId("too-soon");
      const conflict = await replay(hangingId, { run_id: replayId });
      expect(conflict.status).toBe(409);
      expect(await conflict.json()).toMatchObject({ error: { code: "ERR_CONFLICT" } });
      expect((await api(`/v1/runs/${replayId}`)).status).toBe(404);
    } finally {
      await api(`/v1/runs/${hangingId}/cancel`, { method: "POST" });
      await registerEndpoint("llm/litellm@1", processors.litellm);
    }
  });

  it("overrides are checked like a request: local without an agent, an agent for modal, an unknown field -> 422 ERR_INPUTS, no replay", async () => {
    await registerEndpoint("llm/litellm@1", processors.litellm);
    const originalId = uniqueRunId("overrides");
    await runAndWait(runRequest(originalId));
    const noAgent = await replay(originalId, { target: "local" });
    expect(noAgent.status).toBe(422);
    const body = (await noAgent.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("ERR_INPUTS");
    expect(body.error.message).toContain("agent");
    // An agent asked for where none applies is refused, not dropped.
    const agentForModal = await replay(originalId, { target: "modal", agent: "box-1" });
    expect(agentForModal.status).toBe(422);
    expect(await agentForModal.json()).toMatchObject({
      error: { code: "ERR_INPUTS", message: expect.stringContaining("agent") },
    });
    const unknown = await replay(originalId, { target: "modal", force: true });
    expect(unknown.status).toBe(422);
    const linked = RunResourceSchema.parse(await (await api(`/v1/runs/${originalId}`)).json());
    expect(linked.replays).toBeUndefined();
  });

  it("needs the runs:write scope", async () => {
    expect(
      (await api(`/v1/runs/${uniqueRunId("x")}/replay`, { method: "POST", json: {}, token: "reader" }))
        .status,
    ).toBe(403);
  });
});
