import { describe, expect, it } from "vitest";
import {
  AgentFrameSchema,
  ApiErrorSchema,
  ClientFrameSchema,
  ControlFrameSchema,
  EndpointRegistrationSchema,
  EnvelopeSchema,
  ErrorEnvelopeSchema,
  ProcessorFrameSchema,
  ProcessorPayloadSchema,
  RunRequestSchema,
  RunResourceSchema,
  STDERR_TAIL_MAX_BYTES,
  SuccessEnvelopeSchema,
  ToolRegistrySchema,
} from "../../src/contract/index.ts";
import { defineTool, ToolOutputsSchema } from "../../src/contract/tools/index.ts";
import {
  DIGEST_A,
  errorEnvelope,
  hello,
  localPayload,
  registryDoc,
  runRequest,
  successEnvelope,
  worldPayload,
} from "../support/examples.ts";
import { TEST_PROCESSOR_TOKEN } from "../support/tokens.ts";
import { expectIssueAt } from "../support/zod.ts";

const LITELLM = "llm/litellm@1";

describe("registry schema", () => {
  it("accepts a valid registry, with or without pinned digests", () => {
    expect(ToolRegistrySchema.safeParse(registryDoc()).success).toBe(true);
    const unpinned = registryDoc();
    unpinned.tools[LITELLM].digests = {} as never;
    expect(ToolRegistrySchema.safeParse(unpinned).success).toBe(true);
  });

  it.each([
    [
      "a tagged image",
      (d: any) => (d.tools[LITELLM].image = "127.0.0.1:5000/theory/processor:latest"),
      ["image"],
    ],
    ["a bad digest", (d: any) => (d.tools[LITELLM].digests.amd64 = "sha256:abc"), ["digests", "amd64"]],
    ["an unknown platform", (d: any) => (d.tools[LITELLM].digests.riscv = DIGEST_A), ["digests"]],
    ["a port out of range", (d: any) => (d.tools[LITELLM].port = 70000), ["port"]],
    ["a bad memory", (d: any) => (d.tools[LITELLM].resources.memory = "2GB"), ["resources", "memory"]],
    ["a bad secret name", (d: any) => (d.tools[LITELLM].secrets = ["lower"]), ["secrets", 0]],
    [
      "a schema that is not a tool schema file",
      (d: any) => (d.tools[LITELLM].schema = "/etc/x.json"),
      ["schema"],
    ],
    ["an unknown key", (d: any) => (d.tools[LITELLM].extra = 1), []],
  ])("rejects %s with the field's path", (_name, mutate, path) => {
    const doc = registryDoc();
    mutate(doc);
    expectIssueAt(ToolRegistrySchema, doc, ["tools", LITELLM, ...path]);
  });

  it.each([
    ["an escaping output", ["../x"]],
    ["the reserved index as output", ["outputs.json"]],
    ["a repeated output", ["a.txt", "a.txt"]],
  ])("tool definitions refuse %s", (_name, outputs) => {
    expect(ToolOutputsSchema.safeParse(outputs).success).toBe(false);
    expect(() => defineTool({ ref: "x/y@1", inputs: {}, outputs })).toThrow();
  });

  it("rejects a malformed ref key and a wrong schema version", () => {
    const doc: any = registryDoc();
    doc.tools["LLM/x@1"] = doc.tools[LITELLM];
    expectIssueAt(ToolRegistrySchema, doc, ["tools", "LLM/x@1"]);
    expectIssueAt(ToolRegistrySchema, { ...registryDoc(), schema: "v2" }, ["schema"]);
  });
});

describe("run request schema", () => {
  it("accepts local and modal requests", () => {
    expect(RunRequestSchema.safeParse(runRequest()).success).toBe(true);
    const { agent: _agent, ...modal } = { ...runRequest(), target: "modal", artifact_scope: "world" };
    expect(
      RunRequestSchema.safeParse({ ...modal, expected_oci: `r/p@${DIGEST_A}`, timeout_s: 30 }).success,
    ).toBe(true);
  });

  it.each([
    ["an unknown key", { surprise: 1 }, []],
    ["a bad ref", { ref: "llm/litellm" }, ["ref"]],
    ["a bad mode", { mode: "fake" }, ["mode"]],
    ["a run_id with a slash", { run_id: "a/b" }, ["run_id"]],
    ["a local run without agent", { agent: undefined }, ["agent"]],
    ["a relative write_prefix", { write_prefix: "artifacts/x/" }, ["write_prefix"]],
    ["a write_prefix with ..", { write_prefix: "/artifacts/a/../../etc/" }, ["write_prefix"]],
    ["a write_prefix outside /artifacts/", { write_prefix: "/tmp/x/" }, ["write_prefix"]],
    ["a tag as expected_oci", { expected_oci: "r/p:latest" }, ["expected_oci"]],
    ["a zero timeout", { timeout_s: 0 }, ["timeout_s"]],
    [
      "a webhook with unknown event",
      { webhook: { url: "https://ci.test/h", events: ["x"] } },
      ["webhook", "events", 0],
    ],
    ["inputs that are not an object", { inputs: [1] }, ["inputs"]],
  ])("rejects %s", (_name, patch, path) => {
    expectIssueAt(RunRequestSchema, { ...runRequest(), ...patch }, path as PropertyKey[]);
  });

  it("rejects an agent on a modal run", () => {
    expectIssueAt(RunRequestSchema, { ...runRequest(), target: "modal" }, ["agent"]);
  });
});

describe("processor payload schema", () => {
  it("accepts local scope (no outputs) and world scope (outputs + world_id)", () => {
    expect(ProcessorPayloadSchema.safeParse(localPayload()).success).toBe(true);
    expect(ProcessorPayloadSchema.safeParse(worldPayload()).success).toBe(true);
  });

  it.each([
    ["outputs without world_id", { ...worldPayload(), world_id: undefined }, ["world_id"]],
    ["world_id without outputs", { ...localPayload(), world_id: "w1" }, ["world_id"]],
    [
      "outputs without the index",
      { ...worldPayload(), outputs: { "a.txt": "https://x.test/a" } },
      ["outputs"],
    ],
    [
      "a non-http output URL",
      { ...worldPayload(), outputs: { "outputs.json": "file:///etc/passwd" } },
      ["outputs", "outputs.json"],
    ],
    [
      "an escaping output key",
      { ...worldPayload(), outputs: { "../x": "https://x.test/" } },
      ["outputs", "../x"],
    ],
    ["a missing settle", { ...localPayload(), settle: undefined }, ["settle"]],
    [
      "a write_prefix without trailing slash",
      { ...localPayload(), write_prefix: "/artifacts/x" },
      ["write_prefix"],
    ],
  ])("rejects %s", (_name, payload, path) => {
    expectIssueAt(ProcessorPayloadSchema, payload, path as PropertyKey[]);
  });
});

describe("theory.run.v1 frames", () => {
  const valid = {
    client: [
      { kind: "RunOpen", content: { role: "client", payload: localPayload() } },
      { kind: "Cancel", content: {} },
    ],
    processor: [
      { kind: "Ack", content: { run_id: "run-1" } },
      { kind: "Token", content: { text: "hel" } },
      { kind: "Event", content: { name: "progress", data: { pct: 50 } } },
      { kind: "Log", content: { level: "info", message: "loading" } },
      { kind: "RunResult", content: successEnvelope() },
      { kind: "RunResult", content: errorEnvelope() },
    ],
  };

  it("accepts every variant", () => {
    for (const frame of valid.client) expect(ClientFrameSchema.safeParse(frame).success).toBe(true);
    for (const frame of valid.processor) expect(ProcessorFrameSchema.safeParse(frame).success).toBe(true);
  });

  it("rejects unknown kinds, wrong direction, extra keys and bad content", () => {
    expectIssueAt(ProcessorFrameSchema, { kind: "Shout", content: {} }, ["kind"]);
    expectIssueAt(ClientFrameSchema, { kind: "Ack", content: { run_id: "run-1" } }, ["kind"]);
    expectIssueAt(ProcessorFrameSchema, { kind: "Token", content: { text: "x" }, extra: 1 }, []);
    expectIssueAt(ProcessorFrameSchema, { kind: "Token", content: { text: 1 } }, ["content", "text"]);
    expectIssueAt(
      ClientFrameSchema,
      { kind: "RunOpen", content: { role: "server", payload: localPayload() } },
      ["content", "role"],
    );
  });
});

describe("agent tunnel frames", () => {
  it("accepts every variant in its direction", () => {
    const relay = {
      kind: "Relay",
      content: { run_id: "run-1", data: '{"kind":"Ack","content":{"run_id":"run-1"}}' },
    };
    for (const frame of [
      hello(),
      { kind: "Ping", content: {} },
      relay,
      { kind: "RunClosed", content: { run_id: "run-1", code: 1000, reason: "" } },
      {
        kind: "DispatchFailed",
        content: { run_id: "run-1", error: { code: "ERR_HEALTH", message: "not started" } },
      },
    ]) {
      expect(AgentFrameSchema.safeParse(frame).success).toBe(true);
    }
    for (const frame of [
      { kind: "Pong", content: {} },
      { kind: "Dispatch", content: { run_id: "run-1", ref: LITELLM } },
      relay,
      { kind: "CloseRun", content: { run_id: "run-1" } },
    ]) {
      expect(ControlFrameSchema.safeParse(frame).success).toBe(true);
    }
  });

  it("rejects a bad Hello, a wrong direction and an oversized relay", () => {
    const badHello: any = hello();
    badHello.content.tools[0].image_digest = "latest";
    expectIssueAt(AgentFrameSchema, badHello, ["content", "tools", 0, "image_digest"]);
    expectIssueAt(AgentFrameSchema, { kind: "Dispatch", content: { run_id: "r", ref: LITELLM } }, ["kind"]);
    const big = { kind: "Relay", content: { run_id: "r", data: "x".repeat(1024 * 1024 + 1) } };
    expectIssueAt(AgentFrameSchema, big, ["content", "data"]);
  });
});

describe("envelopes", () => {
  it("accepts success and error envelopes", () => {
    expect(EnvelopeSchema.safeParse(successEnvelope()).success).toBe(true);
    expect(EnvelopeSchema.safeParse(errorEnvelope()).success).toBe(true);
    const noDigest: any = errorEnvelope();
    delete noDigest.meta.image_digest;
    expect(ErrorEnvelopeSchema.safeParse(noDigest).success).toBe(true);
  });

  it("rejects unknown keys at every level", () => {
    expectIssueAt(SuccessEnvelopeSchema, { ...successEnvelope(), ts: 1 }, []);
    const meta: any = successEnvelope();
    meta.meta.hostname = "box";
    expectIssueAt(SuccessEnvelopeSchema, meta, ["meta"]);
    const output: any = successEnvelope();
    output.outputs[0].size = 3;
    expectIssueAt(SuccessEnvelopeSchema, output, ["outputs", 0]);
  });

  it("bounds stderr_tail to 2 KiB of UTF-8", () => {
    const ok: any = errorEnvelope();
    ok.error.stderr_tail = "x".repeat(STDERR_TAIL_MAX_BYTES);
    expect(ErrorEnvelopeSchema.safeParse(ok).success).toBe(true);
    const tooBig: any = errorEnvelope();
    tooBig.error.stderr_tail = "é".repeat(STDERR_TAIL_MAX_BYTES / 2 + 1);
    expectIssueAt(ErrorEnvelopeSchema, tooBig, ["error", "stderr_tail"]);
  });

  it("rejects unknown codes, bad URIs and bad digests", () => {
    const code: any = errorEnvelope();
    code.error.code = "ERR_OOPS";
    expectIssueAt(ErrorEnvelopeSchema, code, ["error", "code"]);
    const uri: any = successEnvelope();
    uri.outputs[0].path = "s3://bucket/key";
    expectIssueAt(SuccessEnvelopeSchema, uri, ["outputs", 0, "path"]);
    const digest: any = successEnvelope();
    digest.meta.image_digest = "sha256:XYZ";
    expectIssueAt(SuccessEnvelopeSchema, digest, ["meta", "image_digest"]);
  });

  it("lets API errors omit run_id and meta, but nothing else", () => {
    expect(
      ApiErrorSchema.safeParse({ status: "error", error: { code: "ERR_AUTH", message: "no token" } }).success,
    ).toBe(true);
    expectIssueAt(ApiErrorSchema, { status: "error", error: { code: "ERR_AUTH" } }, ["error", "message"]);
  });
});

describe("API resources", () => {
  it("accepts a run resource and an endpoint registration", () => {
    const resource = {
      run_id: "run-1",
      ref: LITELLM,
      target: "modal",
      state: "succeeded",
      envelope: successEnvelope(),
    };
    expect(RunResourceSchema.safeParse(resource).success).toBe(true);
    expect(RunResourceSchema.safeParse({ ...resource, state: "queued", envelope: null }).success).toBe(true);
    expect(
      EndpointRegistrationSchema.safeParse({
        url: "https://x--app.modal.run",
        image_digest: DIGEST_A,
        processor_token: TEST_PROCESSOR_TOKEN,
      }).success,
    ).toBe(true);
  });

  it("an endpoint registration carries a processor token; proxy_auth is a boolean", () => {
    const registration = { url: "https://x--app.modal.run", image_digest: DIGEST_A };
    expectIssueAt(EndpointRegistrationSchema, registration, ["processor_token"]);
    expectIssueAt(EndpointRegistrationSchema, { ...registration, processor_token: "short" }, [
      "processor_token",
    ]);
    const web = { ...registration, processor_token: TEST_PROCESSOR_TOKEN, proxy_auth: true };
    expect(EndpointRegistrationSchema.safeParse(web).success).toBe(true);
    expectIssueAt(EndpointRegistrationSchema, { ...web, proxy_auth: "yes" }, ["proxy_auth"]);
  });

  it("rejects an unknown state and a non-http endpoint", () => {
    expectIssueAt(
      RunResourceSchema,
      { run_id: "r", ref: LITELLM, target: "modal", state: "done", envelope: null },
      ["state"],
    );
    expectIssueAt(EndpointRegistrationSchema, { url: "ftp://x", image_digest: DIGEST_A }, ["url"]);
  });
});
