import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readInputs } from "../../agent/cli/inputs.ts";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import { ApiErrorSchema, EnvelopeSchema } from "../../src/contract/envelope.ts";
import { TheoryError } from "../../src/core/errors.ts";
import {
  converse,
  payloadFor,
  postJson,
  type RunningProcessor,
  runOpen,
  startProcessor,
} from "../support/processor.ts";

const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

/** JSON that parses but the contract cannot carry, as the value of the prompt. */
const HOSTILE = [
  ["1e400 (Infinity)", "1e400", "number"],
  ["a lone surrogate", '"\\ud800"', "surrogate"],
  ["nesting 5000 deep", nested(5000), "deep"],
] as const;

const withPrompt = (json: object, raw: string) => JSON.stringify(json).replace('"__RAW__"', raw);

let llm: RunningProcessor;
beforeAll(async () => {
  llm = await startProcessor({ toolRef: "llm/litellm@1" });
});
afterAll(() => llm.close());

describe("the processor refuses JSON the contract cannot carry", () => {
  it.each(HOSTILE)("POST /run with %s -> 400 ERR_INPUTS naming it", async (_name, raw, word) => {
    const body = withPrompt(payloadFor("llm/litellm@1", "hostile-http", llmInputs("__RAW__")), raw);
    const { status, text } = await postJson(`${llm.http}/run`, body);
    expect(status, text).toBe(400);
    const error = ApiErrorSchema.parse(JSON.parse(text)).error;
    expect(error.code).toBe("ERR_INPUTS");
    expect(error.message).toContain(word);
  });

  it.each(HOSTILE)(
    "a RunOpen with %s -> Ack, then an ERR_INPUTS envelope for the run",
    async (_name, raw, word) => {
      const frame = withPrompt(runOpen(payloadFor("llm/litellm@1", "hostile-ws", llmInputs("__RAW__"))), raw);
      const talk = await converse(llm.ws, [frame]);
      expect(talk.frames.map((f) => f.kind)).toEqual(["Ack", "RunResult"]);
      const envelope = EnvelopeSchema.parse(talk.frames[1]?.content);
      expect(envelope).toMatchObject({
        status: "error",
        run_id: "hostile-ws",
        error: { code: "ERR_INPUTS" },
      });
      expect(envelope.status === "error" && envelope.error.message).toContain(word);
      expect(talk.code).toBe(1000);
    },
  );
});

describe("the CLI's inputs reader refuses it too", () => {
  it.each(HOSTILE)("--inputs-json with %s -> ERR_INPUTS naming it", async (_name, raw, word) => {
    const error = await readInputs(
      { "inputs-json": withPrompt(llmInputs("__RAW__"), raw) },
      new PassThrough(),
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TheoryError);
    expect((error as TheoryError).code).toBe("ERR_INPUTS");
    expect((error as TheoryError).message).toContain(word);
  });

  it("inputs nest one level less than a request: they travel inside one", async () => {
    // inputs (level 1), params (2), then 61 levels = 63: as deep as the API takes inside a request.
    const inputs = (depth: number) => `{"schema":"v1","params":{"a":${nested(depth)}}}`;
    await expect(readInputs({ "inputs-json": inputs(61) }, new PassThrough())).resolves.toBeDefined();
    await expect(readInputs({ "inputs-json": inputs(62) }, new PassThrough())).rejects.toThrow(
      /at most 63 levels/,
    );
  });
});

describe("a write_prefix segment over 255 bytes", () => {
  it("is ERR_INPUTS from the processor, not ENAMETOOLONG's ERR_INTERNAL", async () => {
    const payload = payloadFor("llm/litellm@1", "long-segment", llmInputs("hi"), {
      write_prefix: `/artifacts/${"a".repeat(256)}/`,
    });
    const { status, text } = await postJson(`${llm.http}/run`, payload);
    expect(status).toBe(200);
    expect(EnvelopeSchema.parse(JSON.parse(text))).toMatchObject({
      status: "error",
      run_id: "long-segment",
      error: { code: "ERR_INPUTS", message: expect.stringContaining("255 bytes") },
    });
  });
});
