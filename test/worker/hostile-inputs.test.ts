import { describe, expect, it } from "vitest";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import { ApiErrorSchema } from "../../src/contract/envelope.ts";
import { githubHook, signedHook } from "./hook-signing.ts";
import { api, runRequest, uniqueRunId } from "./support.ts";

const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

/** JSON that parses, but that the contract cannot carry: each case is one message's `content`. */
const HOSTILE = [
  ["a number too large for a double (1e400)", "1e400", "number"],
  ["a lone surrogate", '"\\ud800"', "surrogate"],
  ["nesting 5000 deep", nested(5000), "deep"],
] as const;

/** A run request as JSON text, whose message content is `raw` JSON text. */
function requestWith(raw: string, runId?: string): string {
  const request = runRequest(runId ?? uniqueRunId("hostile"), { inputs: llmInputs("__RAW__") });
  return JSON.stringify(request).replace('"__RAW__"', raw);
}

async function expectInputsError(response: Response, status: number, word: string) {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  const body = ApiErrorSchema.parse(JSON.parse(text));
  expect(body.error.code).toBe("ERR_INPUTS");
  expect(body.error.message).toContain(word);
}

describe("inputs JSON accepts but the contract cannot carry", () => {
  it.each(HOSTILE)("%s in POST /v1/runs -> 400 ERR_INPUTS naming the problem", async (_name, raw, word) => {
    const runId = uniqueRunId("hostile");
    const response = await api("/v1/runs", {
      method: "POST",
      body: requestWith(raw, runId),
      headers: { "Content-Type": "application/json" },
    });
    await expectInputsError(response, 400, word);
    expect((await api(`/v1/runs/${runId}`)).status).toBe(404);
  });

  it.each(HOSTILE)("%s in a signed CI hook -> 400 ERR_INPUTS", async (_name, raw, word) => {
    await expectInputsError(await signedHook(requestWith(raw)).post(), 400, word);
  });

  it.each(HOSTILE)("%s in a GitHub hook's inputs.inputs text -> 422 ERR_INPUTS", async (_name, raw, word) => {
    const response = await githubHook({
      inputs: {
        ref: "llm/litellm@1",
        mode: "mock",
        target: "modal",
        artifact_scope: "local",
        inputs: JSON.stringify(llmInputs("__RAW__")).replace('"__RAW__"', raw),
      },
    });
    await expectInputsError(response, 422, word);
  });

  it("nesting up to the documented depth passes the JSON check", async () => {
    // The request is level 1, inputs 2, params 3, messages 4, the message 5: its content's value
    // is level 6, so 59 levels there make 64.
    const runId = uniqueRunId("deep-ok");
    const response = await api("/v1/runs", {
      method: "POST",
      body: requestWith(nested(59), runId),
      headers: { "Content-Type": "application/json" },
    });
    // Past the JSON check; the tool's own schema may still refuse a prompt that is not a string.
    expect([202, 422]).toContain(response.status);
    expect(await response.text()).not.toContain("too deep");
    const tooDeep = await api("/v1/runs", {
      method: "POST",
      body: requestWith(nested(60)),
      headers: { "Content-Type": "application/json" },
    });
    await expectInputsError(tooDeep, 400, "at most 64 levels");
    await api(`/v1/runs/${runId}/cancel`, { method: "POST" });
  });
});

describe("a write_prefix segment no file system can hold", () => {
  it("a segment over 255 bytes -> 422 ERR_INPUTS naming write_prefix, no run", async () => {
    const runId = uniqueRunId("long-segment");
    const response = await api("/v1/runs", {
      method: "POST",
      json: runRequest(runId, { write_prefix: `/artifacts/${"a".repeat(256)}/` }),
    });
    await expectInputsError(response, 422, "write_prefix");
    expect((await api(`/v1/runs/${runId}`)).status).toBe(404);
  });
});
