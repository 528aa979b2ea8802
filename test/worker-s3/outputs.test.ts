import { beforeAll, describe, expect, inject, it } from "vitest";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import { OutputIndexSchema } from "../../src/contract/envelope.ts";
import { api, registerEndpoint, runAndWait, runRequest, uniqueRunId } from "../worker/support.ts";

const processors = inject("processors");
const s3Endpoint = inject("s3Endpoint");
/** s3rver serves path-style reads without checking signatures: what landed, read directly. */
const stored = (key: string) => fetch(`${s3Endpoint}/theory/${key}`);

let worldRun = "";
let etagMap: Record<string, string> = {};

beforeAll(async () => {
  await registerEndpoint("llm/litellm@1", processors.litellm);
  worldRun = uniqueRunId("outputs");
  const { resource } = await runAndWait(
    runRequest(worldRun, { artifact_scope: "world", inputs: llmInputs("fetch me", { max_tokens: 8 }) }),
  );
  expect(resource.state).toBe("succeeded");
  etagMap = resource.envelope.meta.proof.etag_map;
});

const output = (path: string, headers: Record<string, string> = {}, token: "reader" | "writer" = "reader") =>
  api(`/v1/runs/${worldRun}/outputs/${path}`, { token, headers });

async function expectError(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  return body.error.message;
}

describe("GET /v1/runs/{id}/outputs/{path}: a world-scope run's outputs", () => {
  it("streams an output from storage with its ETag (the envelope's proof) and content type", async () => {
    const response = await output("text/response.txt");
    expect(response.status).toBe(200);
    expect(response.headers.get("ETag")).toBe(`"${etagMap["text/response.txt"]}"`);
    expect(response.headers.get("Content-Type")).toBe("text/plain; charset=utf-8");
    expect(response.headers.get("Accept-Ranges")).toBe("bytes");
    const text = await response.text();
    expect(text).toBe(await (await stored(`dev/${worldRun}/text/response.txt`)).text());
    expect(text.length).toBeGreaterThan(0);
  });

  it("serves the index, outputs.json, as JSON", async () => {
    const response = await output("outputs.json");
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toBe("application/json");
    const index = OutputIndexSchema.parse(await response.json());
    expect(index.outputs.map((entry) => entry.path)).toEqual(["text/response.txt"]);
  });

  it("If-None-Match with the ETag -> 304 and no body; another ETag -> 200", async () => {
    const etag = `"${etagMap["text/response.txt"]}"`;
    const notModified = await output("text/response.txt", { "If-None-Match": etag });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get("ETag")).toBe(etag);
    expect(await notModified.text()).toBe("");
    expect((await output("text/response.txt", { "If-None-Match": '"0000"' })).status).toBe(200);
  });

  it("Range -> 206 with Content-Range: a first slice, an open end, a suffix", async () => {
    const whole = await (await output("text/response.txt")).text();
    const size = new TextEncoder().encode(whole).byteLength;
    const first = await output("text/response.txt", { Range: "bytes=0-3" });
    expect(first.status).toBe(206);
    expect(first.headers.get("Content-Range")).toBe(`bytes 0-3/${size}`);
    expect(first.headers.get("Content-Length")).toBe("4");
    expect(await first.text()).toBe(whole.slice(0, 4));
    const rest = await output("text/response.txt", { Range: "bytes=4-" });
    expect([rest.status, await rest.text()]).toEqual([206, whole.slice(4)]);
    const suffix = await output("text/response.txt", { Range: "bytes=-3" });
    expect([suffix.status, await suffix.text()]).toEqual([206, whole.slice(-3)]);
  });

  it("a range past the end -> 416 with the size; several ranges -> the whole object", async () => {
    const whole = await (await output("text/response.txt")).text();
    const size = new TextEncoder().encode(whole).byteLength;
    const beyond = await output("text/response.txt", { Range: `bytes=${size}-` });
    expect(beyond.headers.get("Content-Range")).toBe(`bytes */${size}`);
    await expectError(beyond, 416, "ERR_INPUTS");
    const several = await output("text/response.txt", { Range: "bytes=0-1,4-5" });
    expect([several.status, await several.text()]).toEqual([200, whole]);
  });

  it("only paths in the run's envelope: the stored envelope, another name, a path escaping -> 404", async () => {
    expect((await stored(`dev/${worldRun}/envelope.json`)).status).toBe(200);
    for (const path of ["envelope.json", "receipt.json", "text/other.txt", "text", "..%2Fx", ".hidden"]) {
      await expectError(await output(path), 404, "ERR_NOT_FOUND");
    }
  });

  it("an unknown run -> 404; a token without runs:read -> 403", async () => {
    const unknown = await api(`/v1/runs/${uniqueRunId("nobody")}/outputs/outputs.json`, { token: "reader" });
    await expectError(unknown, 404, "ERR_NOT_FOUND");
    await expectError(await output("outputs.json", {}, "writer"), 403, "ERR_AUTH");
  });
});

describe("a local-scope run's outputs", () => {
  it("answer 404 saying where they live: the local:// path on the machine that ran it", async () => {
    const runId = uniqueRunId("local-outputs");
    const { resource } = await runAndWait(runRequest(runId));
    expect(resource.state).toBe("succeeded");
    const message = await expectError(
      await api(`/v1/runs/${runId}/outputs/text/response.txt`, { token: "reader" }),
      404,
      "ERR_NOT_FOUND",
    );
    expect(message).toContain(`local://outputs/llm.litellm.1/${runId}/text/response.txt`);
    expect(message).toContain("the machine that ran it");
  });

  it("a run that has not settled has no outputs yet: 404 saying so", async () => {
    const runId = uniqueRunId("unsettled");
    await api("/v1/runs", {
      method: "POST",
      json: runRequest(runId, {
        artifact_scope: "world",
        inputs: llmInputs("slow", { max_tokens: 50, token_delay_ms: 40 }),
      }),
    });
    const message = await expectError(
      await api(`/v1/runs/${runId}/outputs/outputs.json`, { token: "reader" }),
      404,
      "ERR_NOT_FOUND",
    );
    expect(message).toContain("not settled");
    await api(`/v1/runs/${runId}/cancel`, { method: "POST" });
  });
});
