import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { envelopeModuloRun } from "../../../agent/conformance/envelope.ts";
import { llmInputs } from "../../../scripts/lib/inputs.ts";
import { localRunPrefix } from "../../../src/core/paths.ts";
import { expectConformant } from "../../support/conformance.ts";
import { payloadFor, postJson, type RunningProcessor, startProcessor } from "../../support/processor.ts";

let llm: RunningProcessor;
beforeAll(async () => {
  llm = await startProcessor({ toolRef: "llm/litellm@1" });
});
afterAll(() => llm.close());

const run = async (runId: string, extra: object = {}) =>
  (await postJson(`${llm.http}/run`, payloadFor("llm/litellm@1", runId, llmInputs("same"), extra))).text;

describe("processor determinism", () => {
  it("the same payload twice gives identical bytes", async () => {
    await expectConformant(llm, "llm/litellm@1", ["determinism.repeat"]);
  });

  it("randomized run_ids and prefixes change only the run_id and paths, never the shape", async () => {
    await expectConformant(llm, "llm/litellm@1", ["determinism.randomized"]);
    // The kit's own comparison (envelopeModuloRun), over fast-check's run_ids and prefixes.
    const reference = envelopeModuloRun(
      await run("ref-run"),
      "ref-run",
      localRunPrefix("/artifacts/outputs/llm.litellm.1/ref-run/"),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,30}$/),
        fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,12}$/),
        async (runId, dir) => {
          const prefix = `${dir}/${runId}/`;
          const text = await run(runId, { write_prefix: `/artifacts/${prefix}` });
          expect(envelopeModuloRun(text, runId, localRunPrefix(`/artifacts/${prefix}`))).toBe(reference);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("a different prompt changes the envelope only through the output's ETag", async () => {
    const a = JSON.parse(await run("det-2"));
    const b = JSON.parse(
      (
        await postJson(
          `${llm.http}/run`,
          payloadFor("llm/litellm@1", "det-2", llmInputs("other", { max_tokens: 3 })),
        )
      ).text,
    );
    expect({ ...b, meta: { ...b.meta, proof: null } }).toEqual({ ...a, meta: { ...a.meta, proof: null } });
    expect(b.meta.proof).not.toEqual(a.meta.proof);
  });
});
