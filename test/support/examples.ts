import { llmInputs } from "../../scripts/lib/inputs.ts";
/** Valid examples of each wire shape; tests derive the invalid ones from these. */
export const DIGEST_A = `sha256:${"a".repeat(64)}`;
export const DIGEST_B = `sha256:${"b".repeat(64)}`;
export const ETAG = "9e107d9d372bb6826bd81d3542a419d6";

export const registryDoc = () => ({
  schema: "v1",
  tools: {
    "llm/litellm@1": {
      image: "127.0.0.1:5000/theory/processor",
      digests: { amd64: DIGEST_A },
      port: 8000,
      resources: { cpu: 1, memory: "2Gi" },
      secrets: ["LITELLM_API_KEY"],
      schema: "schema/tools/llm.litellm.1.json",
      timeout_s: 120,
      modal: { app: "theory-llm-litellm-1" },
    },
  },
});

export const runRequest = () => ({
  ref: "llm/litellm@1",
  run_id: "run-1",
  mode: "mock",
  inputs: llmInputs("hi"),
  target: "local",
  agent: "dev-box",
  artifact_scope: "local",
});

export const localPayload = () => ({
  run_id: "run-1",
  mode: "mock",
  inputs: llmInputs("hi"),
  write_prefix: "/artifacts/outputs/llm.litellm.1/run-1/",
  settle: "fast",
});

export const worldPayload = () => ({
  ...localPayload(),
  world_id: "w1",
  outputs: {
    "text/response.txt": "https://s3.example.test/b/w1/run-1/text/response.txt?X-Amz-Signature=x",
    "outputs.json": "https://s3.example.test/b/w1/run-1/outputs.json?X-Amz-Signature=y",
  },
});

export const successEnvelope = () => ({
  status: "success",
  run_id: "run-1",
  outputs: [{ path: "world://w1/run-1/text/response.txt" }],
  index_path: "world://w1/run-1/outputs.json",
  meta: {
    env_fingerprint: "cpu:1;memory:2Gi",
    image_digest: DIGEST_A,
    proof: { etag_map: { "text/response.txt": ETAG } },
  },
});

export const errorEnvelope = () => ({
  status: "error",
  run_id: "run-1",
  error: {
    code: "ERR_INPUTS",
    message: "inputs.params.messages: Invalid input: expected array, received undefined",
  },
  meta: { env_fingerprint: "cpu:1;memory:2Gi", image_digest: DIGEST_A },
});

export const hello = () => ({
  kind: "Hello",
  content: {
    agent_id: "dev-box",
    platform: "amd64",
    tools: [{ ref: "llm/litellm@1", image_digest: DIGEST_A, healthy: true }],
  },
});
