import { echoText, llmLitellm, type ToolDefinition } from "../../src/contract/tools/index.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { checkInputs, type Inputs } from "../../src/core/tool-inputs.ts";

/** The inputs the kit runs a tool with (docs/contract.md#tool-inputs), mode mock. */
export interface ToolSamples {
  /** A small valid run. */
  sample: Inputs;
  /** Valid inputs whose run the tool streams long enough to be canceled mid-way, when it has such. */
  long?: Inputs;
  /** Inputs with the right envelope but params the tool must refuse (ERR_INPUTS). */
  invalid: Inputs;
}

const SAMPLES: Readonly<Record<string, ToolSamples>> = {
  [echoText.ref]: {
    sample: { schema: "v1", params: { text: "conformance" } },
    invalid: { schema: "v1", params: {} },
  },
  [llmLitellm.ref]: {
    sample: { schema: "v1", params: { messages: [{ role: "user", content: "conformance" }], max_tokens: 6 } },
    long: {
      schema: "v1",
      params: {
        messages: [{ role: "user", content: "conformance" }],
        max_tokens: 100_000,
        token_delay_ms: 1,
      },
    },
    invalid: { schema: "v1", params: { messages: [] } },
  },
};

/** The kit's inputs for `tool`, checked against its definition; a tool the kit has none for is ERR_INPUTS. */
export function sampleInputs(tool: ToolDefinition): ToolSamples {
  const samples = SAMPLES[tool.ref];
  if (!samples) {
    const known = Object.keys(SAMPLES).join(", ");
    throw new TheoryError(
      "ERR_INPUTS",
      `the conformance kit has no sample inputs for ${tool.ref} (it knows ${known})`,
    );
  }
  checkInputs(tool, samples.sample);
  if (samples.long) checkInputs(tool, samples.long);
  return samples;
}
