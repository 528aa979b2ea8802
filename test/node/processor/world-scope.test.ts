import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { llmInputs } from "../../../scripts/lib/inputs.ts";
import { EnvelopeSchema, OutputIndexSchema } from "../../../src/contract/index.ts";
import { expectConformant } from "../../support/conformance.ts";
import { payloadFor, postJson, type RunningProcessor, startProcessor } from "../../support/processor.ts";
import { type LocalS3, startS3 } from "../../support/s3.ts";

let s3: LocalS3;
let llm: RunningProcessor;
beforeAll(async () => {
  s3 = await startS3();
  llm = await startProcessor({ toolRef: "llm/litellm@1" });
});
afterAll(async () => {
  await llm.close();
  await s3.close();
});

const key = (runId: string, path: string) => `w1/${runId}/${path}`;

async function worldPayload(runId: string, urlFor: (path: string) => Promise<string>) {
  const outputs: Record<string, string> = {};
  for (const path of ["text/response.txt", "outputs.json"]) outputs[path] = await urlFor(path);
  return payloadFor("llm/litellm@1", runId, llmInputs("hi"), { world_id: "w1", outputs });
}

describe("world scope: presigned PUTs to an S3-compatible store", () => {
  it("lands every artifact and the index, and records the ETags the store returned", async () => {
    const payload = await worldPayload("world-1", (path) => s3.presignPut(key("world-1", path)));
    const { status, text } = await postJson(`${llm.http}/run`, payload);
    expect(status).toBe(200);
    const envelope = EnvelopeSchema.parse(JSON.parse(text));
    expect(envelope).toMatchObject({
      status: "success",
      outputs: [{ path: "world://w1/world-1/text/response.txt" }],
      index_path: "world://w1/world-1/outputs.json",
    });
    if (envelope.status !== "success") throw new Error("unreachable");
    const stored = await s3.etagOf(key("world-1", "text/response.txt"));
    expect(envelope.meta.proof.etag_map).toEqual({ "text/response.txt": stored });
    const body = await s3.text(key("world-1", "text/response.txt"));
    expect(stored).toBe(createHash("md5").update(body).digest("hex"));
    const index = OutputIndexSchema.parse(JSON.parse(await s3.text(key("world-1", "outputs.json"))));
    expect(index).toEqual({
      run_id: "world-1",
      outputs: [{ path: "text/response.txt", size: Buffer.byteLength(body), etag: stored }],
    });
  });

  it("the kit's presigned-PUT stand-in gets every artifact and the index, their ETags in etag_map", async () => {
    await expectConformant(llm, "llm/litellm@1", ["envelope.world-etags"]);
  });

  it("a PUT the store refuses gives an error envelope, never a partial success", async () => {
    const payload = await worldPayload("world-2", async (path) =>
      (await s3.presignPut(key("world-2", path))).replace(`/${s3.bucket}/`, "/no-such-bucket/"),
    );
    const { text } = await postJson(`${llm.http}/run`, payload);
    expect(EnvelopeSchema.parse(JSON.parse(text))).toMatchObject({
      status: "error",
      run_id: "world-2",
      error: { code: "ERR_INTERNAL", message: "storing text/response.txt failed: HTTP 404" },
    });
    expect(text).not.toContain("X-Amz");
  });

  it("an unreachable store gives an error envelope without leaking the URL", async () => {
    const payload = await worldPayload(
      "world-3",
      async (path) => `http://127.0.0.1:1/${path}?X-Amz-Signature=secret`,
    );
    const { text } = await postJson(`${llm.http}/run`, payload);
    expect(JSON.parse(text).error).toEqual({
      code: "ERR_INTERNAL",
      message: "storing text/response.txt failed: store not reachable",
    });
  });

  it("refuses an outputs map that does not match the tool's declared outputs (ERR_INPUTS)", async () => {
    const payload = await worldPayload("world-4", (path) => s3.presignPut(key("world-4", path)));
    const outputs = { ...payload.outputs, "extra.txt": "http://127.0.0.1:1/x" };
    const { text } = await postJson(`${llm.http}/run`, { ...payload, outputs });
    expect(JSON.parse(text).error.code).toBe("ERR_INPUTS");
  });
});
