import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { llmInputs } from "../../../scripts/lib/inputs.ts";
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
    expect(await run("det-1")).toBe(await run("det-1"));
  });

  it("randomized run_ids and prefixes change only the run_id and paths, never the shape", async () => {
    const reference = (await run("ref-run"))
      .replaceAll("outputs/llm.litellm.1/ref-run/", "PREFIX/")
      .replaceAll("ref-run", "RUN");
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,30}$/),
        fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,12}$/),
        async (runId, dir) => {
          const prefix = `${dir}/${runId}/`;
          const text = await run(runId, { write_prefix: `/artifacts/${prefix}` });
          expect(text.replaceAll(prefix, "PREFIX/").replaceAll(`"run_id":"${runId}"`, '"run_id":"RUN"')).toBe(
            reference,
          );
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
