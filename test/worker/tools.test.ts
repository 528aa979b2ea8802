import { describe, expect, it } from "vitest";
import echoSchema from "../../schema/tools/echo.text.1.json" with { type: "json" };
import litellmSchema from "../../schema/tools/llm.litellm.1.json" with { type: "json" };
import { llmInputs } from "../../scripts/lib/inputs.ts";
import { ToolResourceSchema } from "../../src/contract/api.ts";
import { bundledToolRegistry } from "../../src/worker/tool-registry.ts";
import { api, runRequest, uniqueRunId } from "./support.ts";

describe("GET /v1/tools", () => {
  it("lists every tool of the registry with its schema (the checked-in file), outputs, resources and pins", async () => {
    const response = await api("/v1/tools", { token: "reader" });
    expect(response.status).toBe(200);
    const { tools } = (await response.json()) as { tools: unknown[] };
    const parsed = tools.map((tool) => ToolResourceSchema.parse(tool));
    const registry = bundledToolRegistry();
    expect(parsed.map((tool) => tool.ref)).toEqual(Object.keys(registry.tools).sort());
    const litellm = parsed.find((tool) => tool.ref === "llm/litellm@1");
    expect(litellm).toMatchObject({
      schemas: ["v1"],
      outputs: ["text/response.txt"],
      resources: { cpu: 1, memory: "2Gi" },
      timeout_s: 120,
      secrets: ["LITELLM_API_KEY", "LITELLM_BASE_URL"],
    });
    expect(litellm?.json_schema).toEqual(litellmSchema);
    expect(parsed.find((tool) => tool.ref === "echo/text@1")?.json_schema).toEqual(echoSchema);
  });

  it("shows one tool; an unknown one is 404, a missing token 401", async () => {
    const one = await api("/v1/tools/echo/text@1", { token: "reader" });
    expect(one.status).toBe(200);
    expect(ToolResourceSchema.parse(await one.json()).outputs).toEqual(["text/echo.txt"]);
    const unknown = await api("/v1/tools/no/such@1", { token: "reader" });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: "ERR_NOT_FOUND" } });
    expect((await api("/v1/tools", { token: null })).status).toBe(401);
  });
});

describe("inputs are checked against the tool's schema before a run exists", () => {
  it.each([
    ["llm: no messages", runRequest("x", { inputs: { schema: "v1", params: {} } }), "inputs.params.messages"],
    [
      "llm: a message with an unknown role",
      runRequest("x", { inputs: { schema: "v1", params: { messages: [{ role: "robot", content: "hi" }] } } }),
      "inputs.params.messages[0].role",
    ],
    [
      "llm: an unknown field",
      runRequest("x", { inputs: llmInputs("hi", { legacy_prompt: "old" }) }),
      "inputs.params",
    ],
    [
      "echo: text that is not a string",
      { ...runRequest("x"), ref: "echo/text@1", inputs: { schema: "v1", params: { text: 1 } } },
      "inputs.params.text",
    ],
    ["no schema version", runRequest("x", { inputs: { params: { text: "x" } } as never }), "inputs.schema"],
  ])("%s -> 422 ERR_INPUTS naming the field, and no run", async (_name, request, field) => {
    const runId = uniqueRunId("refused");
    const response = await api("/v1/runs", { method: "POST", json: { ...request, run_id: runId } });
    expect(response.status).toBe(422);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("ERR_INPUTS");
    expect(body.error.message).toContain(field);
    expect((await api(`/v1/runs/${runId}`)).status).toBe(404);
  });

  it("an unknown schema version -> 422 naming the versions the tool has", async () => {
    const runId = uniqueRunId("v9");
    const response = await api("/v1/runs", {
      method: "POST",
      json: runRequest(runId, { inputs: { schema: "v9", params: {} } }),
    });
    expect(response.status).toBe(422);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain(
      "supported: v1",
    );
    expect((await api(`/v1/runs/${runId}`)).status).toBe(404);
  });

  it("an unknown ref -> 422, and no run", async () => {
    const runId = uniqueRunId("noref");
    const response = await api("/v1/runs", {
      method: "POST",
      json: { ...runRequest(runId), ref: "no/such@1" },
    });
    expect(response.status).toBe(422);
    expect((await api(`/v1/runs/${runId}`)).status).toBe(404);
  });
});
