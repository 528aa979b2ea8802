import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { TOOLS } from "../../../processor/tools/index.ts";
import type { Tool } from "../../../processor/tools/tool.ts";
import { echoInputs, llmInputs } from "../../../scripts/lib/inputs.ts";
import {
  ApiErrorSchema,
  EnvelopeSchema,
  OutputIndexSchema,
  SuccessEnvelopeSchema,
} from "../../../src/contract/index.ts";
import { canonicalJson } from "../../../src/core/canonical.ts";
import { expectConformant } from "../../support/conformance.ts";
import { payloadFor, postJson, type RunningProcessor, startProcessor } from "../../support/processor.ts";
import { sseEventsOf } from "../../support/sse.ts";

const crashingTool: Tool = {
  definition: { ref: "test/crash@1", inputs: { v1: z.object({}) }, outputs: ["x.txt"] },
  secrets: [],
  run: async () => {
    throw new TypeError("boom at /secret/host/path");
  },
};

let echo: RunningProcessor;
let crash: RunningProcessor;
beforeAll(async () => {
  echo = await startProcessor({ toolRef: "echo/text@1" });
  crash = await startProcessor({ toolRef: "test/crash@1", tools: [...TOOLS, crashingTool] });
});
afterAll(async () => {
  await echo.close();
  await crash.close();
});

const echoPayload = (runId: string, text = "hello") => payloadFor("echo/text@1", runId, echoInputs(text));

describe("processor HTTP", () => {
  it("GET /healthz -> 200 {ok:true}", async () => {
    await expectConformant(echo, "echo/text@1", ["healthz"]);
  });

  it("POST /run -> 200 with a canonical success envelope, the files and the index on disk", async () => {
    const { status, text } = await postJson(`${echo.http}/run`, echoPayload("http-1", "hello world"));
    expect(status).toBe(200);
    const envelope = SuccessEnvelopeSchema.parse(JSON.parse(text));
    expect(text).toBe(canonicalJson(envelope));
    expect(envelope).toEqual({
      status: "success",
      run_id: "http-1",
      outputs: [{ path: "local://outputs/echo.text.1/http-1/text/echo.txt" }],
      index_path: "local://outputs/echo.text.1/http-1/outputs.json",
      meta: {
        env_fingerprint: "cpu:1;memory:2Gi",
        image_digest: expect.stringMatching(/^sha256:/),
        proof: { etag_map: { "text/echo.txt": createHash("md5").update("hello world").digest("hex") } },
      },
    });
    const dir = join(echo.artifactsRoot, "outputs/echo.text.1/http-1");
    expect(await readFile(join(dir, "text/echo.txt"), "utf8")).toBe("hello world");
    const index = OutputIndexSchema.parse(JSON.parse(await readFile(join(dir, "outputs.json"), "utf8")));
    expect(index.outputs).toEqual([
      { path: "text/echo.txt", size: 11, etag: envelope.meta.proof.etag_map["text/echo.txt"] },
    ]);
    await expectConformant(echo, "echo/text@1", ["http.run", "envelope.local-etags"]);
  });

  it("wrong content-type -> 415 ERR_INPUTS", async () => {
    await expectConformant(echo, "echo/text@1", ["http.wrong-content-type"]);
  });

  it("malformed JSON -> 400 ERR_INPUTS", async () => {
    await expectConformant(echo, "echo/text@1", ["http.malformed-json"]);
    const { text } = await postJson(`${echo.http}/run`, '{"run_id":');
    expect(JSON.parse(text).error).toMatchObject({ code: "ERR_INPUTS", message: "malformed JSON body" });
  });

  it("a body over 1 MiB -> 413 ERR_INPUTS", async () => {
    await expectConformant(echo, "echo/text@1", ["http.too-large"]);
  });

  it("an invalid payload with a readable run_id -> 200 error envelope; without -> 422", async () => {
    await expectConformant(echo, "echo/text@1", ["http.invalid-inputs", "http.no-run-id"]);
    const bad = await postJson(`${echo.http}/run`, {
      ...echoPayload("bad-1"),
      inputs: { schema: "v1", params: {} },
    });
    expect(JSON.parse(bad.text).error.message).toContain("inputs.params.text");
    const anonymous = await postJson(`${echo.http}/run`, { mode: "mock" });
    expect(ApiErrorSchema.parse(JSON.parse(anonymous.text)).run_id).toBeUndefined();
  });

  it("a crash -> 500 ERR_INTERNAL, with no stack or host path in the message", async () => {
    const { status, text } = await postJson(
      `${crash.http}/run`,
      payloadFor("test/crash@1", "c-1", { schema: "v1", params: {} }),
    );
    expect(status).toBe(500);
    const envelope = EnvelopeSchema.parse(JSON.parse(text));
    expect(envelope).toMatchObject({ status: "error", run_id: "c-1", error: { code: "ERR_INTERNAL" } });
    expect(text).not.toContain("/secret/host/path");
    expect(crash.logs.some((line) => line.includes("error.tool.crash"))).toBe(true);
  });

  it("POST /run logs http.run.start and http.run.settle: the run's id, ref, outcome and duration", async () => {
    const logged = (logs: string[], runId: string) =>
      logs.map((line) => JSON.parse(line)).filter((line) => line.execution_id === runId);
    await postJson(`${echo.http}/run`, echoPayload("http-log-1"));
    expect(logged(echo.logs, "http-log-1")).toEqual([
      expect.objectContaining({ event: "http.run.start", ref: "echo/text@1", mode: "mock", stream: false }),
      expect.objectContaining({
        event: "http.run.settle",
        ref: "echo/text@1",
        status: "success",
        elapsed_ms: expect.any(Number),
      }),
    ]);
    await postJson(
      `${crash.http}/run`,
      payloadFor("test/crash@1", "http-log-2", { schema: "v1", params: {} }),
    );
    expect(logged(crash.logs, "http-log-2").filter((line) => line.event.startsWith("http.run."))).toEqual([
      expect.objectContaining({ event: "http.run.start", ref: "test/crash@1" }),
      expect.objectContaining({ event: "http.run.settle", status: "error", code: "ERR_INTERNAL" }),
    ]);
  });

  it("an unknown route -> 404 ERR_NOT_FOUND", async () => {
    const response = await fetch(`${echo.http}/nope`);
    expect(response.status).toBe(404);
    expect(ApiErrorSchema.parse(await response.json()).error.code).toBe("ERR_NOT_FOUND");
  });

  it("POST /run-stream -> SSE progress events, then done with the same envelope as /run", async () => {
    const litellm = await startProcessor({ toolRef: "llm/litellm@1" });
    try {
      const payload = payloadFor("llm/litellm@1", "sse-1", llmInputs("hi", { max_tokens: 5 }));
      const { status, text, headers } = await postJson(`${litellm.http}/run-stream`, payload);
      expect(status).toBe(200);
      expect(headers.get("content-type")).toBe("text/event-stream");
      const events = await sseEventsOf(text);
      expect(events.map((e) => e.event)).toEqual([
        "progress",
        "progress",
        "progress",
        "progress",
        "progress",
        "done",
      ]);
      expect(events.map((e) => e.id)).toEqual(["0", "1", "2", "3", "4", "5"]);
      expect(JSON.parse(events[0]?.data as string)).toEqual({ kind: "Token", content: { text: "This " } });
      const plain = await postJson(`${litellm.http}/run`, payload);
      expect(events[5]?.data).toBe(plain.text);
      // The legacy stream's own field order, byte for byte: event, id, data.
      expect(text).toMatch(/^event: progress\nid: 0\ndata: \{[^\n]*\}\n\nevent: progress\nid: 1\n/);
      expect(text.endsWith(`event: done\nid: 5\ndata: ${plain.text}\n\n`)).toBe(true);
      await expectConformant(litellm, "llm/litellm@1", ["http.run-stream"]);
    } finally {
      await litellm.close();
    }
  });
});
