import { describe, expect, it } from "vitest";
import { llmInputs } from "../../../scripts/lib/inputs.ts";
import { startOpenAiCompatible } from "../../support/openai-stub.ts";
import { converse, payloadFor, runOpen, startProcessor } from "../../support/processor.ts";

const KEY = "sk-test-secret-value-123";

async function realRun(options: {
  tokens?: string[];
  failWith?: number;
  env?: Record<string, string>;
  inputs?: object;
}) {
  const upstream = await startOpenAiCompatible({ tokens: options.tokens ?? [], failWith: options.failWith });
  const env = options.env ?? { LITELLM_API_KEY: KEY, LITELLM_BASE_URL: upstream.baseUrl };
  const llm = await startProcessor({ toolRef: "llm/litellm@1", env });
  try {
    const payload = payloadFor(
      "llm/litellm@1",
      "real-1",
      options.inputs ?? {
        schema: "v1",
        params: {
          model: "gpt-test",
          messages: [
            { role: "system", content: "be brief" },
            { role: "user", content: "Say hi" },
          ],
        },
      },
      { mode: "real" },
    );
    const talk = await converse(llm.ws, [runOpen(payload)]);
    return { talk, upstream, logs: llm.logs, envelope: talk.frames.at(-1)?.content };
  } finally {
    await llm.close();
    await upstream.close();
  }
}

describe("llm/litellm@1 in mode real (official openai client against a local OpenAI-compatible server)", () => {
  it("streams the upstream tokens as Token frames and writes the reply", async () => {
    const { talk, upstream, envelope } = await realRun({ tokens: ["Hel", "lo", "!"] });
    expect(talk.frames.filter((f) => f.kind === "Token").map((f) => f.content.text)).toEqual([
      "Hel",
      "lo",
      "!",
    ]);
    expect(envelope.status).toBe("success");
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]).toMatchObject({
      path: "/v1/chat/completions",
      authorization: `Bearer ${KEY}`,
      body: {
        model: "gpt-test",
        stream: true,
        messages: [
          { role: "system", content: "be brief" },
          { role: "user", content: "Say hi" },
        ],
      },
    });
  });

  it("a missing key -> ERR_MISSING_SECRET, and nothing is sent upstream", async () => {
    const { envelope, upstream } = await realRun({ env: { LITELLM_BASE_URL: "http://127.0.0.1:1/v1" } });
    expect(envelope.error).toEqual({
      code: "ERR_MISSING_SECRET",
      message: "missing secret: LITELLM_API_KEY",
    });
    expect(upstream.requests).toHaveLength(0);
  });

  it("an upstream 500 -> ERR_INTERNAL with a short message, tried once (no retries here)", async () => {
    const { envelope, upstream, logs } = await realRun({ failWith: 500 });
    expect(envelope.error).toEqual({ code: "ERR_INTERNAL", message: "upstream LLM API answered HTTP 500" });
    expect(upstream.requests).toHaveLength(1);
    expect(JSON.stringify(envelope)).not.toContain("must not leak");
    expect(logs.join("\n")).not.toContain(KEY);
  });

  it("an upstream 401 -> ERR_AUTH; a missing model -> ERR_INPUTS", async () => {
    expect((await realRun({ failWith: 401 })).envelope.error.code).toBe("ERR_AUTH");
    expect((await realRun({ inputs: llmInputs("hi") })).envelope.error).toEqual({
      code: "ERR_INPUTS",
      message: 'inputs.params.model is required in mode "real"',
    });
  });

  it("an unreachable upstream -> ERR_ENDPOINT_MISSING", async () => {
    const { envelope } = await realRun({
      env: { LITELLM_API_KEY: KEY, LITELLM_BASE_URL: "http://127.0.0.1:1/v1" },
    });
    expect(envelope.error.code).toBe("ERR_ENDPOINT_MISSING");
  });
});
