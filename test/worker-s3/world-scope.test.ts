import { beforeAll, describe, expect, inject, it } from "vitest";
import { api, registerEndpoint, runAndWait, runRequest, uniqueRunId } from "../worker/support.ts";

const processors = inject("processors");
const s3Endpoint = inject("s3Endpoint");
/** s3rver serves path-style reads without checking signatures: the test reads what landed directly. */
const stored = (key: string) => fetch(`${s3Endpoint}/theory/${key}`);
/**
 * The control plane copies a settled run's envelope and receipt to the store right after it
 * settles (docs/operations.md#a-runs-storage): wait for a copy a little, then read it.
 */
async function storedCopy(key: string): Promise<Response> {
  for (let i = 0; i < 50; i++) {
    const response = await stored(key);
    if (response.status === 200) return response;
    await response.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return stored(key);
}

beforeAll(async () => {
  await registerEndpoint("llm/litellm@1", processors.litellm);
});

describe("world scope through the control plane (STORAGE=s3)", () => {
  it("presigns every output, the processor PUTs them, the proof is verified, the envelope persisted in S3", async () => {
    const runId = uniqueRunId("world");
    const { status, resource } = await runAndWait(runRequest(runId, { artifact_scope: "world" }));
    expect(status).toBe(200);
    expect(resource).toMatchObject({
      state: "succeeded",
      envelope: {
        outputs: [{ path: `world://dev/${runId}/text/response.txt` }],
        index_path: `world://dev/${runId}/outputs.json`,
      },
    });
    const output = await stored(`dev/${runId}/text/response.txt`);
    expect(output.status).toBe(200);
    expect(output.headers.get("etag")?.replaceAll('"', "")).toBe(
      resource.envelope.meta.proof.etag_map["text/response.txt"],
    );
    expect((await stored(`dev/${runId}/outputs.json`)).status).toBe(200);
    const persisted = await (await storedCopy(`dev/${runId}/envelope.json`)).text();
    expect(persisted).toBe(await (await api(`/v1/runs/${runId}/envelope`)).text());
    expect((await storedCopy(`dev/${runId}/receipt.json`)).status).toBe(200);
  });

  it("local scope still works here, and its envelope lands in S3 too", async () => {
    const runId = uniqueRunId("local-on-s3");
    const { resource } = await runAndWait(runRequest(runId));
    expect(resource.state).toBe("succeeded");
    expect((await storedCopy(`dev/${runId}/envelope.json`)).status).toBe(200);
    expect((await stored(`dev/${runId}/text/response.txt`)).status).toBe(404);
  });
});
